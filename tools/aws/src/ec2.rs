//! GPU pools on EC2 and terminations: the instances Steward launches itself.
//!
//! A launch is idempotent twice over: the action id is the `ClientToken`, and before any
//! launch the instances tagged `steward:action-id` = the action id are looked up, so a
//! retry or a restart after a crash finds what the first attempt launched instead of
//! launching again (the token expires; the tag does not). A termination reaches only
//! instances that carry the management tag and belong to the named group, checked again
//! right before the call.

use std::collections::HashMap;

use aws_sdk_ec2::types::{
    Filter, InstanceInterruptionBehavior, InstanceLifecycleType, InstanceMarketOptionsRequest, InstanceStateName,
    MarketType, Placement as Ec2Placement, ResourceType, SpotInstanceType, SpotMarketOptions, Tag, TagSpecification,
};
use steward_tools::capacity::{INTERRUPTED, SPOT_NOTICE_MS};
use steward_tools::launch::Launch;
use steward_tools::provider::{ActionReceipt, ProviderError};
use steward_tools::{
    GroupKind, GroupSnapshot, InstanceSnapshot, InstanceState, LaunchOption, Placement, PoolState, ProvisionGpuWorkers,
    WorkerCapacity,
};

use crate::{classify, now_ms, AwsProvider, Market, PoolSettings};

/// The tag that records which action launched an instance.
pub const ACTION_TAG: &str = "steward:action-id";
/// The tag that records which launch option an instance was placed in.
pub const OPTION_TAG: &str = "steward:option";
/// Spot request status codes that mean the instance is about to be reclaimed.
const NOTICE_CODES: [&str; 3] = ["marked-for-termination", "marked-for-stop", "marked-for-hibernation"];

fn market_of(instance: &aws_sdk_ec2::types::Instance) -> Market {
    match instance.instance_lifecycle() {
        Some(InstanceLifecycleType::Spot) => Market::Spot,
        _ => Market::OnDemand,
    }
}

/// An idempotency token per action and option, at most 64 characters.
fn client_token(action_id: &str, index: usize) -> String {
    let suffix = format!("-o{index}");
    let keep = 64 - suffix.len();
    format!("{}{suffix}", action_id.chars().take(keep).collect::<String>())
}
/// A worker sets this tag to `true` while it has no job; without it a worker counts as busy.
pub const IDLE_TAG: &str = "steward:idle";

fn tag_of<'a>(instance: &'a aws_sdk_ec2::types::Instance, key: &str) -> Option<&'a str> {
    instance.tags().iter().find(|t| t.key() == Some(key)).and_then(|t| t.value())
}

fn live(instance: &aws_sdk_ec2::types::Instance) -> Option<InstanceState> {
    match instance.state().and_then(|s| s.name()) {
        Some(InstanceStateName::Running) => Some(InstanceState::Running),
        Some(InstanceStateName::Pending) => Some(InstanceState::Pending),
        _ => None,
    }
}

impl AwsProvider {
    fn managed_filter(&self) -> Filter {
        let (key, value) = &self.settings.managed_tag;
        Filter::builder().name(format!("tag:{key}")).values(value).build()
    }

    /// Instances matching `filters` (paginated). Counts its calls.
    async fn instances(
        &self,
        filters: Vec<Filter>,
        calls: &mut u64,
    ) -> Result<Vec<aws_sdk_ec2::types::Instance>, ProviderError> {
        let mut pages = self.ec2.describe_instances().set_filters(Some(filters)).into_paginator().send();
        let mut out = Vec::new();
        while let Some(page) = pages.next().await {
            *calls += 1;
            let page = page.map_err(|e| classify("DescribeInstances", e))?;
            for reservation in page.reservations() {
                out.extend(reservation.instances().iter().cloned());
            }
        }
        Ok(out)
    }

    /// The live managed instances of every configured pool, by pool name.
    pub(crate) async fn pool_instances(
        &self,
        calls: &mut u64,
    ) -> Result<HashMap<String, Vec<aws_sdk_ec2::types::Instance>>, ProviderError> {
        let mut out: HashMap<String, Vec<_>> = HashMap::new();
        if self.settings.pools.is_empty() {
            return Ok(out);
        }
        let states = Filter::builder().name("instance-state-name").values("pending").values("running").build();
        for instance in self.instances(vec![self.managed_filter(), states], calls).await? {
            let (key, value) = &self.settings.managed_tag;
            if tag_of(&instance, key) != Some(value.as_str()) {
                continue;
            }
            let Some(group) = tag_of(&instance, &self.settings.group_tag) else { continue };
            if self.settings.pools.iter().any(|p| p.name == group) {
                out.entry(group.to_string()).or_default().push(instance);
            }
        }
        Ok(out)
    }

    /// A pool's snapshot from its workers and what CloudWatch said of its queue.
    pub(crate) fn pool_snapshot(
        &self,
        pool: &PoolSettings,
        instances: &[aws_sdk_ec2::types::Instance],
        readings: crate::queue::PoolReadings,
        notices: &HashMap<String, i64>,
    ) -> GroupSnapshot {
        let instances_raw = instances;
        let region = &self.settings.region;
        let instances: Vec<InstanceSnapshot> = instances
            .iter()
            .filter_map(|i| {
                let id = i.instance_id()?.to_string();
                let instance_type = i.instance_type().map(|t| t.as_str().to_string()).unwrap_or_default();
                let market = market_of(i);
                Some(InstanceSnapshot {
                    capacity: Some(WorkerCapacity {
                        zone: i.placement().and_then(|p| p.availability_zone()).map(str::to_string),
                        market,
                        price: self.prices.hourly(region, &instance_type, market).unwrap_or(0.0),
                        interruption_at_ms: notices.get(&id).copied(),
                    }),
                    id,
                    instance_type,
                    state: live(i)?,
                    managed: true,
                    busy: tag_of(i, IDLE_TAG) != Some("true"),
                    launched_by: tag_of(i, ACTION_TAG).map(str::to_string),
                })
            })
            .collect();
        let cache = self.cool_off.lock().unwrap_or_else(|e| e.into_inner());
        let options = cache.states(&pool.options, now_ms(), |o| {
            let on_demand = self.prices.hourly(region, &o.instance_type, Market::OnDemand).unwrap_or(0.0);
            (self.prices.hourly(region, &o.instance_type, o.market).unwrap_or(on_demand), on_demand)
        });
        GroupSnapshot {
            name: pool.name.clone(),
            kind: GroupKind::GpuPool,
            environment: pool.environment,
            instance_type: pool.instance_type.clone(),
            min: pool.min,
            max: pool.max,
            desired: u32::try_from(instances.len()).unwrap_or(u32::MAX),
            instances,
            cpu_percent: None,
            requests_per_minute: None,
            queue_depth: readings.queue,
            hourly_price: self.pool_price(pool, instances_raw),
            tags: Default::default(),
            pool: Some(PoolState {
                options,
                budget: pool.budget,
                oldest_job_age_seconds: readings.oldest_job_age_seconds,
                jobs_started: readings.jobs_started,
            }),
        }
    }

    /// Spot workers under an interruption notice, by instance id, with when they go: the
    /// spot request's status (`marked-for-termination`, …), two minutes after AWS set it.
    /// Each newly noticed worker cools its launch option off. One call for every spot
    /// worker (none without).
    pub(crate) async fn spot_notices(
        &self,
        instances: &[&aws_sdk_ec2::types::Instance],
        calls: &mut u64,
    ) -> Result<HashMap<String, i64>, ProviderError> {
        let spot: Vec<&aws_sdk_ec2::types::Instance> =
            instances.iter().copied().filter(|i| market_of(i) == Market::Spot).collect();
        let mut notices = HashMap::new();
        if spot.is_empty() {
            return Ok(notices);
        }
        let ids: Vec<String> = spot.iter().filter_map(|i| i.instance_id().map(str::to_string)).collect();
        let filter = Filter::builder().name("instance-id").set_values(Some(ids)).build();
        let mut pages = self.ec2.describe_spot_instance_requests().filters(filter).into_paginator().send();
        let now = now_ms();
        while let Some(page) = pages.next().await {
            *calls += 1;
            let page = page.map_err(|e| classify("DescribeSpotInstanceRequests", e))?;
            for request in page.spot_instance_requests() {
                let (Some(id), Some(status)) = (request.instance_id(), request.status()) else { continue };
                if !status.code().is_some_and(|c| NOTICE_CODES.contains(&c)) {
                    continue;
                }
                let since = status.update_time().and_then(|t| t.to_millis().ok()).unwrap_or(now);
                notices.insert(id.to_string(), since + SPOT_NOTICE_MS);
            }
        }
        let mut cache = self.cool_off.lock().unwrap_or_else(|e| e.into_inner());
        for instance in spot {
            let noticed = instance.instance_id().is_some_and(|id| notices.contains_key(id));
            if let (true, Some(option)) = (noticed, tag_of(instance, OPTION_TAG)) {
                if cache.get(option, now).is_none() {
                    tracing::warn!(
                        instance = instance.instance_id().unwrap_or_default(),
                        option,
                        "Spot interruption notice; this option cools off."
                    );
                    cache.mark(option, INTERRUPTED, now);
                }
            }
        }
        Ok(notices)
    }

    /// USD per instance-hour of a pool: the mean over its workers, each at the price of the
    /// market it runs in; with no workers, what a launch (on demand) costs.
    fn pool_price(&self, pool: &PoolSettings, instances: &[aws_sdk_ec2::types::Instance]) -> f64 {
        let region = &self.settings.region;
        let price = |instance_type: &str, market| self.prices.hourly(region, instance_type, market).unwrap_or(0.0);
        let live: Vec<_> = instances.iter().filter(|i| live(i).is_some()).collect();
        if live.is_empty() {
            return price(&pool.instance_type, Market::OnDemand);
        }
        let total: f64 = live
            .iter()
            .map(|i| {
                let market = match i.instance_lifecycle() {
                    Some(InstanceLifecycleType::Spot) => Market::Spot,
                    _ => Market::OnDemand,
                };
                price(i.instance_type().map_or(pool.instance_type.as_str(), |t| t.as_str()), market)
            })
            .sum();
        total / live.len() as f64
    }

    /// What `action_id` launched, if it launched anything (looked up by its tag).
    pub(crate) async fn launched_by(&self, action_id: &str) -> Result<Option<ActionReceipt>, ProviderError> {
        let filter = Filter::builder().name(format!("tag:{ACTION_TAG}")).values(action_id).build();
        let mut calls = 0;
        let found = self.instances(vec![self.managed_filter(), filter], &mut calls).await?;
        let ids: Vec<String> = found
            .iter()
            .filter(|i| !matches!(i.state().and_then(|s| s.name()), Some(InstanceStateName::Terminated)))
            .filter_map(|i| i.instance_id().map(str::to_string))
            .collect();
        if ids.is_empty() {
            return Ok(None);
        }
        let group = found.first().and_then(|i| tag_of(i, &self.settings.group_tag)).unwrap_or("?").to_string();
        Ok(Some(ActionReceipt {
            action_id: action_id.to_string(),
            summary: format!("{group} launched {}", ids.join(", ")),
            replaced_desired: None,
            launched: ids,
            terminated: Vec::new(),
            terminated_type: None,
            undo: None,
            manual: Vec::new(),
            placements: Vec::new(),
            skipped: Vec::new(),
        }))
    }

    /// Launch `p.count` workers into the pool across its options (those `p` allows), in
    /// order, through the one launch loop; each option asked with `MinCount` 1 so a
    /// short one places what it can and the rest goes to the next. Idempotent: every
    /// instance carries the action id, and a launch that finds some already (a retry, a
    /// restart after a crash) launches only the rest; each option's `ClientToken` is the
    /// action id and the option's index.
    pub(crate) async fn provision(
        &self,
        action_id: &str,
        p: &ProvisionGpuWorkers,
    ) -> Result<ActionReceipt, ProviderError> {
        let settings = self
            .settings
            .pools
            .iter()
            .find(|s| s.name == p.pool)
            .ok_or_else(|| ProviderError::Refused(format!("no GPU pool `{}` is configured", p.pool)))?;
        let usable: Vec<LaunchOption> = settings.options.iter().filter(|o| p.allows(o)).cloned().collect();
        if usable.is_empty() {
            return Err(ProviderError::Refused(format!("`{}` has no launch option the call may use", p.pool)));
        }
        let done = self.launched_by(action_id).await?;
        let already = done.as_ref().map_or(0, |r| u32::try_from(r.launched.len()).unwrap_or(u32::MAX));
        if already >= p.count {
            tracing::info!(action_id, "This action launched its workers already; not launching again.");
            return done.ok_or_else(|| ProviderError::Refused("lost the earlier launch".into()));
        }
        let now = now_ms();
        let mut launch = Launch::new(&usable, p.count - already, now);
        let mut stopped = None;
        loop {
            let next = {
                let cache = self.cool_off.lock().unwrap_or_else(|e| e.into_inner());
                launch.next(&cache)
            };
            let Some((index, option, missing)) = next else { break };
            let attempt = self.launch_in(action_id, settings, index, &option, missing).await;
            let mut cache = self.cool_off.lock().unwrap_or_else(|e| e.into_inner());
            if let Err(stop) = launch.record(&mut cache, &option, missing, attempt) {
                stopped = Some(stop);
                break;
            }
        }
        let (outcome, failure) = match stopped {
            Some((e, outcome)) => (outcome, Some(e)),
            None => match launch.finish() {
                Ok(outcome) => (outcome, None),
                Err((e, outcome)) => (outcome, Some(e)),
            },
        };
        if let Some(e) = failure {
            if outcome.launched() == 0 && already == 0 {
                return Err(e);
            }
            // Some workers run: they are recorded, the rest is for a new proposal.
            tracing::warn!(action_id, error = %e, "The launch stopped part-way; keeping what launched.");
        }
        Ok(outcome.receipt(action_id, &p.pool, done.map(|r| r.launched).unwrap_or_default()))
    }

    /// One `RunInstances` in one option: up to `count` workers, at least one.
    async fn launch_in(
        &self,
        action_id: &str,
        pool: &PoolSettings,
        index: usize,
        option: &LaunchOption,
        count: u32,
    ) -> Result<Placement, ProviderError> {
        let (managed_key, managed_value) = &self.settings.managed_tag;
        let key = option.key();
        let tags = [
            (managed_key.as_str(), managed_value.as_str()),
            (self.settings.group_tag.as_str(), pool.name.as_str()),
            (self.settings.environment_tag.as_str(), pool.environment.as_str()),
            (ACTION_TAG, action_id),
            (OPTION_TAG, key.as_str()),
        ];
        let mut spec = TagSpecification::builder().resource_type(ResourceType::Instance);
        for (k, v) in tags {
            spec = spec.tags(Tag::builder().key(k).value(v).build());
        }
        let mut request = self
            .ec2
            .run_instances()
            .image_id(&pool.image_id)
            .instance_type(aws_sdk_ec2::types::InstanceType::from(option.instance_type.as_str()))
            .min_count(1)
            .max_count(i32::try_from(count).unwrap_or(i32::MAX))
            .client_token(client_token(action_id, index))
            .tag_specifications(spec.build());
        request = match option.zone.as_deref() {
            Some(subnet) if subnet.starts_with("subnet-") => request.subnet_id(subnet),
            Some(zone) => request.placement(Ec2Placement::builder().availability_zone(zone).build()),
            None => request,
        };
        if option.market == Market::Spot {
            let mut spot = SpotMarketOptions::builder()
                .spot_instance_type(SpotInstanceType::OneTime)
                .instance_interruption_behavior(InstanceInterruptionBehavior::Terminate);
            if let Some(max) = option.max_price {
                spot = spot.max_price(format!("{max:.4}"));
            }
            request = request.instance_market_options(
                InstanceMarketOptionsRequest::builder()
                    .market_type(MarketType::Spot)
                    .spot_options(spot.build())
                    .build(),
            );
        }
        self.mutation_permit().await?;
        // No SDK retries here: a capacity answer moves on to the next option at once, and
        // the daemon retries whatever is retryable with its own backoff.
        let launched = request
            .customize()
            .config_override(
                aws_sdk_ec2::config::Builder::default().retry_config(aws_config::retry::RetryConfig::disabled()),
            )
            .send()
            .await
            .map_err(|e| classify("RunInstances", e))?;
        let ids: Vec<String> =
            launched.instances().iter().filter_map(|i| i.instance_id().map(str::to_string)).collect();
        let zone = launched
            .instances()
            .first()
            .and_then(|i| i.placement())
            .and_then(|p| p.availability_zone())
            .map(str::to_string)
            .or_else(|| option.zone.clone());
        let on_demand =
            self.prices.hourly(&self.settings.region, &option.instance_type, Market::OnDemand).unwrap_or(0.0);
        let price =
            self.prices.hourly(&self.settings.region, &option.instance_type, option.market).unwrap_or(on_demand);
        Ok(Placement {
            instance_type: option.instance_type.clone(),
            zone,
            market: option.market,
            count: u32::try_from(ids.len()).unwrap_or(u32::MAX),
            price,
            instance_ids: ids,
        })
    }

    /// Terminate managed instances of `group`: a GPU pool's through EC2, an Auto Scaling
    /// group's through Auto Scaling (decrementing its desired capacity, so it does not
    /// replace them).
    pub(crate) async fn terminate(
        &self,
        action_id: &str,
        group: &str,
        ids: &[String],
    ) -> Result<ActionReceipt, ProviderError> {
        if !self.settings.pools.iter().any(|p| p.name == group) {
            return self.terminate_in_group(action_id, group, ids).await;
        }
        let mut calls = 0;
        let by_id = Filter::builder().name("instance-id").set_values(Some(ids.to_vec())).build();
        let found = self.instances(vec![by_id], &mut calls).await?;
        let (managed_key, managed_value) = &self.settings.managed_tag;
        for id in ids {
            let instance = found.iter().find(|i| i.instance_id() == Some(id.as_str()));
            let ours = instance.is_some_and(|i| {
                tag_of(i, managed_key) == Some(managed_value.as_str())
                    && tag_of(i, &self.settings.group_tag) == Some(group)
                    && live(i).is_some()
            });
            if !ours {
                return Err(ProviderError::Refused(format!(
                    "instance `{id}` is not a live managed instance of `{group}`"
                )));
            }
        }
        let instance_type = found.first().and_then(|i| i.instance_type()).map(|t| t.as_str().to_string());
        self.mutation_permit().await?;
        self.ec2
            .terminate_instances()
            .set_instance_ids(Some(ids.to_vec()))
            .send()
            .await
            .map_err(|e| classify("TerminateInstances", e))?;
        Ok(ActionReceipt {
            action_id: action_id.to_string(),
            summary: format!("{group} terminated {}", ids.join(", ")),
            replaced_desired: None,
            launched: Vec::new(),
            terminated: ids.to_vec(),
            terminated_type: instance_type,
            undo: None,
            manual: Vec::new(),
            placements: Vec::new(),
            skipped: Vec::new(),
        })
    }

    /// Instances of a managed Auto Scaling group: each must be in the group right now.
    async fn terminate_in_group(
        &self,
        action_id: &str,
        group: &str,
        ids: &[String],
    ) -> Result<ActionReceipt, ProviderError> {
        let mut calls = 0;
        let (_, asg) = self
            .managed_groups(&mut calls)
            .await?
            .into_iter()
            .find(|(name, _)| name == group)
            .ok_or_else(|| ProviderError::Refused(format!("no managed group `{group}`")))?;
        for id in ids {
            if !asg.instances().iter().any(|i| i.instance_id() == Some(id.as_str())) {
                return Err(ProviderError::Refused(format!(
                    "instance `{id}` is not a live managed instance of `{group}`"
                )));
            }
        }
        let before = u32::try_from(asg.desired_capacity().unwrap_or(0)).unwrap_or(0);
        let instance_type = asg.instances().first().and_then(|i| i.instance_type()).map(str::to_string);
        let mut terminated = Vec::new();
        for id in ids {
            self.mutation_permit().await?;
            let done = self
                .autoscaling
                .terminate_instance_in_auto_scaling_group()
                .instance_id(id)
                .should_decrement_desired_capacity(true)
                .send()
                .await;
            match done {
                Ok(_) => terminated.push(id.clone()),
                // Those already terminated are recorded; the rest is for a new proposal.
                Err(e) if terminated.is_empty() => {
                    return Err(crate::classify("TerminateInstanceInAutoScalingGroup", e))
                }
                Err(e) => {
                    tracing::warn!(error = %crate::classify("TerminateInstanceInAutoScalingGroup", e), "Stopped part-way.");
                    break;
                }
            }
        }
        Ok(ActionReceipt {
            action_id: action_id.to_string(),
            summary: format!("{group} terminated {}", terminated.join(", ")),
            replaced_desired: Some(before),
            launched: Vec::new(),
            terminated,
            terminated_type: instance_type,
            undo: None,
            manual: Vec::new(),
            placements: Vec::new(),
            skipped: Vec::new(),
        })
    }
}
