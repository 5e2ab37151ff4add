//! GPU pools on EC2 and terminations: the instances Steward launches itself.
//!
//! A launch is idempotent twice over: the action id is the `ClientToken`, and before any
//! launch the instances tagged `steward:action-id` = the action id are looked up, so a
//! retry or a restart after a crash finds what the first attempt launched instead of
//! launching again (the token expires; the tag does not). A termination reaches only
//! instances that carry the management tag and belong to the named group, checked again
//! right before the call.

use std::collections::HashMap;

use aws_sdk_ec2::types::{Filter, InstanceLifecycleType, InstanceStateName, ResourceType, Tag, TagSpecification};
use steward_tools::provider::{ActionReceipt, ProviderError};
use steward_tools::{GroupKind, GroupSnapshot, InstanceSnapshot, InstanceState};

use crate::{classify, AwsProvider, Market, PoolSettings};

/// The tag that records which action launched an instance.
pub const ACTION_TAG: &str = "steward:action-id";
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

    pub(crate) fn pool_snapshot(
        &self,
        pool: &PoolSettings,
        instances: &[aws_sdk_ec2::types::Instance],
        queue: Option<u64>,
    ) -> GroupSnapshot {
        let instances_raw = instances;
        let instances: Vec<InstanceSnapshot> = instances
            .iter()
            .filter_map(|i| {
                Some(InstanceSnapshot {
                    id: i.instance_id()?.to_string(),
                    instance_type: i.instance_type().map(|t| t.as_str().to_string()).unwrap_or_default(),
                    state: live(i)?,
                    managed: true,
                    busy: tag_of(i, IDLE_TAG) != Some("true"),
                    launched_by: tag_of(i, ACTION_TAG).map(str::to_string),
                })
            })
            .collect();
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
            queue_depth: queue,
            hourly_price: self.pool_price(pool, instances_raw),
            tags: Default::default(),
        }
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
        }))
    }

    /// Launch `count` workers into `pool`: the action id as `ClientToken` and tag, and no
    /// second launch for an action that already launched.
    pub(crate) async fn provision(
        &self,
        action_id: &str,
        pool: &str,
        count: u32,
        instance_type: &str,
    ) -> Result<ActionReceipt, ProviderError> {
        let settings = self
            .settings
            .pools
            .iter()
            .find(|p| p.name == pool)
            .ok_or_else(|| ProviderError::Refused(format!("no GPU pool `{pool}` is configured")))?;
        if let Some(done) = self.launched_by(action_id).await? {
            tracing::info!(action_id, "This action launched its workers already; not launching again.");
            return Ok(done);
        }
        let (managed_key, managed_value) = &self.settings.managed_tag;
        let tags = [
            (managed_key.as_str(), managed_value.as_str()),
            (self.settings.group_tag.as_str(), pool),
            (self.settings.environment_tag.as_str(), settings.environment.as_str()),
            (ACTION_TAG, action_id),
        ];
        let mut spec = TagSpecification::builder().resource_type(ResourceType::Instance);
        for (k, v) in tags {
            spec = spec.tags(Tag::builder().key(k).value(v).build());
        }
        let count = i32::try_from(count).unwrap_or(i32::MAX);
        let token: String = action_id.chars().take(64).collect();
        self.mutation_permit().await?;
        let launched = self
            .ec2
            .run_instances()
            .image_id(&settings.image_id)
            .instance_type(aws_sdk_ec2::types::InstanceType::from(instance_type))
            .min_count(count)
            .max_count(count)
            .client_token(token)
            .set_subnet_id(settings.subnet_id.clone())
            .tag_specifications(spec.build())
            .send()
            .await
            .map_err(|e| classify("RunInstances", e))?;
        let ids: Vec<String> =
            launched.instances().iter().filter_map(|i| i.instance_id().map(str::to_string)).collect();
        Ok(ActionReceipt {
            action_id: action_id.to_string(),
            summary: format!("{pool} launched {}", ids.join(", ")),
            replaced_desired: None,
            launched: ids,
            terminated: Vec::new(),
            terminated_type: None,
            undo: None,
            manual: Vec::new(),
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
        })
    }
}
