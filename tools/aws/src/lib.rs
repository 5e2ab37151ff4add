//! The AWS provider, through the official SDK: managed Auto Scaling groups found by tag,
//! GPU pools of tagged EC2 workers, CPU, queue depth and any configured metric
//! ([`GroupMetric`]) from CloudWatch in batched `GetMetricData` calls; `scale_group` as a
//! level-checked `SetDesiredCapacity`, `provision_gpu_workers` as `RunInstances`
//! (idempotent on the action id), `terminate_workers` on a pool's managed workers or a
//! managed group's own instances only.
//!
//! Mutating calls share a budget per account and region (governor); past it a call is
//! throttled here, retryably, before AWS throttles it.
//!
//! [`MultiRegion`] puts several regions behind one provider.
//!
//! Capacity is priced from the shipped table, refreshed daily from the Price List API and
//! the spot price history when `prices.refresh` is on ([`prices`]); spot capacity (pool
//! workers launched as spot, the spot share of a mixed-instances group) at spot prices.
//! [`cost_explorer`] reads month-to-date actuals for `steward cost`.
//!
//! Architecture invariants:
//! - Only resources that carry the management tag are seen; anything else is invisible and
//!   can never be acted on.
//! - `SetDesiredCapacity` has no idempotency token, so it is level-driven: right before the
//!   call the group must still have the capacity the proposal saw.

use std::collections::HashMap;
use std::sync::Mutex;

use async_trait::async_trait;
use aws_sdk_autoscaling::types::{Filter, LifecycleState};
use aws_sdk_cloudwatch::types::{Dimension, Metric, MetricDataQuery, MetricStat, ScanBy};
use steward_tools::provider::{ActionReceipt, CloudProvider, ProviderError};

pub mod cost_explorer;
mod ec2;
pub mod error;
pub mod prices;
mod queue;
mod regions;
pub mod settings;
#[cfg(feature = "testing")]
pub mod testing;
pub use cost_explorer::{month_to_date, MonthToDate};
pub use ec2::{ACTION_TAG, IDLE_TAG, OPTION_TAG};
pub use error::classify;
pub use prices::{Market, PriceBook};
pub use regions::MultiRegion;
pub use settings::{
    AwsSettings, CostExplorerSettings, GroupMetric, MetricField, PoolSettings, PriceSettings, MAX_QUERIES_PER_CALL,
};
use steward_tools::{
    ApprovedCall, Environment, GroupKind, GroupSnapshot, InstanceSnapshot, InstanceState, Observation, ToolCall,
};

/// The levels of the last scale Steward made on a group, `from:to`, beside its action id.
pub const SCALE_TAG: &str = "steward:action-scale";

pub struct AwsProvider {
    settings: AwsSettings,
    mutating: governor::DefaultDirectRateLimiter,
    autoscaling: aws_sdk_autoscaling::Client,
    cloudwatch: aws_sdk_cloudwatch::Client,
    ec2: aws_sdk_ec2::Client,
    /// The Price List API, when prices are refreshed.
    pricing: Option<aws_sdk_pricing::Client>,
    prices: PriceBook,
    price_refresh: prices::RefreshState,
    /// API calls made by the last observation (inventory, metrics, price refresh).
    last_calls: Mutex<u64>,
    /// Launch options that could not launch lately (shared by this region's pools).
    cool_off: Mutex<steward_tools::capacity::CoolOff>,
    /// Each pool's jobs-started counter, from its jobs metric.
    jobs: Mutex<queue::JobCounter>,
}

impl std::fmt::Debug for AwsProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AwsProvider").field("settings", &self.settings).finish_non_exhaustive()
    }
}

/// The wall clock, Unix milliseconds.
pub(crate) fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// What `GetMetricData` answered: each query's newest value, and all its datapoints
/// (period start in Unix ms, value).
#[derive(Debug, Default)]
struct MetricValues {
    latest: HashMap<String, f64>,
    series: HashMap<String, Vec<(i64, f64)>>,
}

/// The receipt of a scale that ran.
fn scale_receipt(action_id: &str, group: &str, from: u32, to: u32) -> ActionReceipt {
    ActionReceipt {
        action_id: action_id.to_string(),
        summary: format!("{group} desired capacity {from} → {to}"),
        replaced_desired: Some(from),
        launched: Vec::new(),
        terminated: Vec::new(),
        terminated_type: None,
        undo: None,
        manual: Vec::new(),
        placements: Vec::new(),
        skipped: Vec::new(),
    }
}

/// What a group's metrics read this tick.
#[derive(Debug, Default, Clone, Copy)]
struct Readings {
    cpu_percent: Option<f64>,
    requests_per_minute: Option<f64>,
    queue_depth: Option<f64>,
}

/// The key of an Auto Scaling group's metric in a `GetMetricData` round.
fn metric_key(asg: &str, field: MetricField) -> String {
    format!("asg:{asg}:{}", field.as_str())
}

/// USD per instance-hour of `count` instances of which the first `base` and `percent` % of
/// the rest (rounded up, as Auto Scaling does) run on demand and the others on spot.
pub fn blended_price(on_demand: f64, spot: f64, count: u32, base: u32, percent: u32) -> f64 {
    if count == 0 {
        return on_demand;
    }
    let base = base.min(count);
    let above = count - base;
    let on_demand_count = base + (u64::from(above) * u64::from(percent.min(100))).div_ceil(100) as u32;
    let spot_count = count - on_demand_count.min(count);
    (f64::from(on_demand_count.min(count)) * on_demand + f64::from(spot_count) * spot) / f64::from(count)
}

fn environment(value: Option<&str>) -> Environment {
    match value {
        Some("staging") => Environment::Staging,
        Some("dev") => Environment::Dev,
        _ => Environment::Prod,
    }
}

impl AwsProvider {
    /// Clients for the region (credentials from the standard chain: environment, profile,
    /// SSO, IMDS, IRSA).
    pub async fn connect(settings: AwsSettings) -> AwsProvider {
        let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest())
            .region(aws_config::Region::new(settings.region.clone()));
        if let Some(url) = &settings.endpoint_url {
            loader = loader.endpoint_url(url);
        }
        let config = loader.load().await;
        let pricing = if settings.prices.refresh {
            let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest())
                .region(aws_config::Region::new(settings.prices.region.clone()));
            if let Some(url) = settings.prices.endpoint_url.as_ref().or(settings.endpoint_url.as_ref()) {
                loader = loader.endpoint_url(url);
            }
            Some(aws_sdk_pricing::Client::new(&loader.load().await))
        } else {
            None
        };
        let per_minute =
            std::num::NonZeroU32::new(settings.mutating_calls_per_minute.max(1)).unwrap_or(std::num::NonZeroU32::MIN);
        AwsProvider {
            mutating: governor::RateLimiter::direct(governor::Quota::per_minute(per_minute)),
            autoscaling: aws_sdk_autoscaling::Client::new(&config),
            cloudwatch: aws_sdk_cloudwatch::Client::new(&config),
            ec2: aws_sdk_ec2::Client::new(&config),
            pricing,
            prices: PriceBook::default(),
            price_refresh: prices::RefreshState::default(),
            settings,
            last_calls: Mutex::new(0),
            cool_off: Mutex::default(),
            jobs: Mutex::default(),
        }
    }

    /// Wait (at most two seconds) for the account and region's mutating-call budget;
    /// otherwise the call is throttled here, before AWS throttles it.
    pub(crate) async fn mutation_permit(&self) -> Result<(), ProviderError> {
        match tokio::time::timeout(std::time::Duration::from_secs(2), self.mutating.until_ready()).await {
            Ok(()) => Ok(()),
            Err(_) => Err(ProviderError::Throttled(format!(
                "more than {} mutating calls a minute in {}; try again",
                self.settings.mutating_calls_per_minute, self.settings.region
            ))),
        }
    }

    pub fn region(&self) -> &str {
        &self.settings.region
    }

    /// The prices this provider bills capacity at.
    pub fn prices(&self) -> &PriceBook {
        &self.prices
    }

    /// Refresh the on-demand and spot prices of `types` in this region from AWS (nothing
    /// when prices are not refreshed). Counts its calls.
    pub async fn refresh_prices(&self, types: &[String], calls: &mut u64) -> Result<usize, ProviderError> {
        let Some(pricing) = &self.pricing else { return Ok(0) };
        let sources = prices::PriceSources { pricing, ec2: &self.ec2 };
        self.prices.refresh(sources, &self.settings.region, types, calls).await
    }

    /// Refresh prices for the types the fleet runs when a refresh is due; a failure keeps
    /// the figures there are and is retried in an hour.
    async fn refresh_prices_if_due(&self, types: Vec<String>, calls: &mut u64) {
        if self.pricing.is_none() || types.is_empty() || !self.price_refresh.due(self.settings.prices.every) {
            return;
        }
        match self.refresh_prices(&types, calls).await {
            Ok(n) => {
                tracing::info!(region = %self.settings.region, types = types.len(), on_demand_refreshed = n, "Refreshed prices from AWS.")
            }
            Err(e) => {
                tracing::warn!(region = %self.settings.region, error = %e, "Price refresh failed; keeping the prices there are, retrying in an hour.");
                self.price_refresh.retry_in(std::time::Duration::from_secs(3600), self.settings.prices.every);
            }
        }
    }

    /// USD per instance-hour of an Auto Scaling group, its spot share (a mixed-instances
    /// policy) at spot prices.
    fn asg_price(&self, asg: &aws_sdk_autoscaling::types::AutoScalingGroup, instance_type: &str, count: u32) -> f64 {
        let region = &self.settings.region;
        let Some(on_demand) = self.prices.hourly(region, instance_type, Market::OnDemand) else { return 0.0 };
        let Some(distribution) = asg.mixed_instances_policy().and_then(|m| m.instances_distribution()) else {
            return on_demand;
        };
        let spot = self.prices.hourly(region, instance_type, Market::Spot).unwrap_or(on_demand);
        // AWS's defaults: no on-demand base, 100 % on-demand above it.
        let base = u32::try_from(distribution.on_demand_base_capacity().unwrap_or(0)).unwrap_or(0);
        let percent =
            u32::try_from(distribution.on_demand_percentage_above_base_capacity().unwrap_or(100)).unwrap_or(100);
        blended_price(on_demand, spot, count, base, percent)
    }

    /// Carry out a call whose approval the caller holds (the multi-region provider hands
    /// on the call with its group's name in this region).
    pub(crate) async fn execute_call(&self, action_id: &str, call: &ToolCall) -> Result<ActionReceipt, ProviderError> {
        match call {
            ToolCall::ScaleGroup(s) => self.scale(action_id, &s.group, s.current_desired, s.desired).await,
            ToolCall::ProvisionGpuWorkers(p) => self.provision(action_id, p).await,
            ToolCall::TerminateWorkers(t) => self.terminate(action_id, &t.group, &t.instance_ids).await,
            other => Err(ProviderError::Unsupported(format!(
                "{}: migration steps run on the migration executor, not the fleet provider",
                other.policy_action()
            ))),
        }
    }

    /// API calls the last observation made (inventory pages and metric batches).
    pub fn last_observation_calls(&self) -> u64 {
        *self.last_calls.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Every managed Auto Scaling group: `(group name, ASG)`. Counts its calls.
    pub(crate) async fn managed_groups(
        &self,
        calls: &mut u64,
    ) -> Result<Vec<(String, aws_sdk_autoscaling::types::AutoScalingGroup)>, ProviderError> {
        let (key, value) = &self.settings.managed_tag;
        let filter = Filter::builder().name(format!("tag:{key}")).values(value).build();
        // 100 groups a page, the API's maximum (its default is 50).
        let mut pages =
            self.autoscaling.describe_auto_scaling_groups().filters(filter).max_records(100).into_paginator().send();
        let mut out = Vec::new();
        while let Some(page) = pages.next().await {
            *calls += 1;
            let page = page.map_err(|e| classify("DescribeAutoScalingGroups", e))?;
            for asg in page.auto_scaling_groups() {
                let tag = |k: &str| asg.tags().iter().find(|t| t.key() == Some(k)).and_then(|t| t.value());
                // The filter is the API's; the tag is checked here again.
                if tag(key) != Some(value.as_str()) {
                    continue;
                }
                let Some(name) = asg.auto_scaling_group_name() else { continue };
                let group = tag(&self.settings.group_tag).unwrap_or(name).to_string();
                out.push((group, asg.clone()));
            }
        }
        Ok(out)
    }

    /// The newest value of each metric over the last ten minutes, keyed as asked, in
    /// batches of `metric_batch` queries per call. Counts its calls.
    async fn latest(&self, wanted: &[(String, Metric, &str)], calls: &mut u64) -> Result<MetricValues, ProviderError> {
        // Whole minutes, so each period is one calendar minute on every call: from ten
        // minutes back to the end of the current one (its datapoint, stamped this very
        // second, is included).
        let minute = now_ms().div_euclid(60_000) * 60_000;
        let end = aws_sdk_cloudwatch::primitives::DateTime::from_millis(minute + 60_000);
        let start = aws_sdk_cloudwatch::primitives::DateTime::from_millis(minute - 600_000);
        let mut out = MetricValues::default();
        let batch = self.settings.metric_batch.clamp(1, MAX_QUERIES_PER_CALL);
        for (b, chunk) in wanted.chunks(batch).enumerate() {
            let queries: Vec<MetricDataQuery> = chunk
                .iter()
                .enumerate()
                .map(|(i, (_, metric, stat))| {
                    MetricDataQuery::builder()
                        .id(format!("q{b}_{i}"))
                        .metric_stat(MetricStat::builder().metric(metric.clone()).period(60).stat(*stat).build())
                        .return_data(true)
                        .build()
                })
                .collect();
            let mut pages = self
                .cloudwatch
                .get_metric_data()
                .set_metric_data_queries(Some(queries))
                .start_time(start)
                .end_time(end)
                .scan_by(ScanBy::TimestampDescending)
                .into_paginator()
                .send();
            while let Some(page) = pages.next().await {
                *calls += 1;
                let page = page.map_err(|e| classify("GetMetricData", e))?;
                for result in page.metric_data_results() {
                    let Some(id) = result.id() else { continue };
                    let Some(i) = id.rsplit('_').next().and_then(|i| i.parse::<usize>().ok()) else { continue };
                    let Some((key, _, _)) = chunk.get(i) else { continue };
                    // Newest first: the first value of an id is its latest.
                    if let Some(v) = result.values().first() {
                        out.latest.entry(key.clone()).or_insert(*v);
                    }
                    let points = result.timestamps().iter().map(|t| t.to_millis().unwrap_or(0)).zip(result.values());
                    out.series.entry(key.clone()).or_default().extend(points.map(|(t, v)| (t, *v)));
                }
            }
        }
        Ok(out)
    }

    fn snapshot(
        &self,
        group: &str,
        asg: &aws_sdk_autoscaling::types::AutoScalingGroup,
        readings: Readings,
    ) -> GroupSnapshot {
        let tag = |k: &str| asg.tags().iter().find(|t| t.key() == Some(k)).and_then(|t| t.value());
        let instances: Vec<InstanceSnapshot> = asg
            .instances()
            .iter()
            .filter_map(|i| {
                let state = match i.lifecycle_state() {
                    Some(LifecycleState::InService) => InstanceState::Running,
                    Some(LifecycleState::Pending | LifecycleState::PendingWait | LifecycleState::PendingProceed) => {
                        InstanceState::Pending
                    }
                    _ => return None,
                };
                Some(InstanceSnapshot {
                    id: i.instance_id()?.to_string(),
                    instance_type: i.instance_type().unwrap_or_default().to_string(),
                    state,
                    managed: true,
                    busy: false,
                    launched_by: None,
                    capacity: None,
                })
            })
            .collect();
        let instance_type = instances
            .first()
            .map(|i| i.instance_type.clone())
            .or_else(|| tag("steward:instance-type").map(str::to_string))
            .unwrap_or_default();
        let tags = asg
            .tags()
            .iter()
            .filter_map(|t| Some((t.key()?.to_string(), t.value().unwrap_or_default().to_string())))
            .filter(|(k, _)| !k.starts_with("steward:") && !k.starts_with("aws:"))
            .collect();
        let to_u32 = |v: Option<i32>| u32::try_from(v.unwrap_or(0)).unwrap_or(0);
        GroupSnapshot {
            name: group.to_string(),
            kind: GroupKind::AutoScaling,
            environment: environment(tag(&self.settings.environment_tag)),
            hourly_price: self.asg_price(
                asg,
                &instance_type,
                u32::try_from(instances.len()).unwrap_or(u32::MAX).max(to_u32(asg.desired_capacity())).max(1),
            ),
            instance_type,
            min: to_u32(asg.min_size()),
            max: to_u32(asg.max_size()),
            desired: to_u32(asg.desired_capacity()),
            instances,
            cpu_percent: readings.cpu_percent,
            requests_per_minute: readings.requests_per_minute,
            queue_depth: readings.queue_depth.map(|q| q.max(0.0).round() as u64),
            tags,
            pool: None,
        }
    }

    /// The scale `action_id` made, if it landed: the group carries the action id and the
    /// levels, and its desired capacity is the target. A tag without the level is an intent
    /// that never reached `SetDesiredCapacity` (or was changed since): not found.
    async fn scaled_by(&self, action_id: &str) -> Result<Option<ActionReceipt>, ProviderError> {
        let mut calls = 0;
        for (group, asg) in self.managed_groups(&mut calls).await? {
            let tag = |k: &str| asg.tags().iter().find(|t| t.key() == Some(k)).and_then(|t| t.value());
            if tag(ACTION_TAG) != Some(action_id) {
                continue;
            }
            let Some((from, to)) = tag(SCALE_TAG).and_then(|l| l.split_once(':')) else { continue };
            let (Ok(from), Ok(to)) = (from.parse::<u32>(), to.parse::<u32>()) else { continue };
            if asg.desired_capacity().and_then(|d| u32::try_from(d).ok()) != Some(to) {
                return Ok(None);
            }
            return Ok(Some(scale_receipt(action_id, &group, from, to)));
        }
        Ok(None)
    }

    async fn scale(&self, action_id: &str, group: &str, from: u32, to: u32) -> Result<ActionReceipt, ProviderError> {
        let mut calls = 0;
        let asg = self
            .managed_groups(&mut calls)
            .await?
            .into_iter()
            .find(|(name, _)| name == group)
            .ok_or_else(|| ProviderError::Refused(format!("no managed Auto Scaling group `{group}`")))?;
        let (_, asg) = asg;
        let current = u32::try_from(asg.desired_capacity().unwrap_or(0)).unwrap_or(0);
        if current != from {
            return Err(ProviderError::Conflict(format!(
                "{group} has desired capacity {current}, not the {from} the proposal saw; re-plan"
            )));
        }
        let name = asg.auto_scaling_group_name().unwrap_or(group).to_string();
        // The intent on the group first: after a crash, start-up reconciliation finds the
        // action by it and tells a scale that landed from one that did not.
        let tag = |key: &str, value: String| {
            aws_sdk_autoscaling::types::Tag::builder()
                .resource_id(&name)
                .resource_type("auto-scaling-group")
                .key(key)
                .value(value)
                .propagate_at_launch(false)
                .build()
        };
        self.mutation_permit().await?;
        self.autoscaling
            .create_or_update_tags()
            .tags(tag(ACTION_TAG, action_id.to_string()))
            .tags(tag(SCALE_TAG, format!("{from}:{to}")))
            .send()
            .await
            .map_err(|e| classify("CreateOrUpdateTags", e))?;
        self.mutation_permit().await?;
        self.autoscaling
            .set_desired_capacity()
            .auto_scaling_group_name(&name)
            .desired_capacity(i32::try_from(to).unwrap_or(i32::MAX))
            .honor_cooldown(false)
            .send()
            .await
            .map_err(|e| classify("SetDesiredCapacity", e))?;
        Ok(scale_receipt(action_id, group, from, to))
    }
}

#[async_trait]
impl CloudProvider for AwsProvider {
    fn name(&self) -> &'static str {
        "aws"
    }

    async fn observe(&self) -> Result<Observation, ProviderError> {
        let mut calls = 0;
        let managed = self.managed_groups(&mut calls).await?;
        let pools = self.pool_instances(&mut calls).await?;
        // The fleet's types are gathered only on the tick a refresh is due.
        if self.pricing.is_some() && self.price_refresh.is_due(self.settings.prices.every) {
            let mut types: Vec<String> = managed
                .iter()
                .flat_map(|(_, asg)| asg.instances().iter().filter_map(|i| i.instance_type().map(str::to_string)))
                .chain(self.settings.pools.iter().flat_map(|p| p.options.iter().map(|o| o.instance_type.clone())))
                .collect();
            types.sort();
            types.dedup();
            self.refresh_prices_if_due(types, &mut calls).await;
        }
        let mut wanted: Vec<(String, Metric, &str)> = Vec::new();
        for (group, asg) in &managed {
            let Some(name) = asg.auto_scaling_group_name() else { continue };
            let configured: Vec<&GroupMetric> = self.settings.metrics.iter().filter(|m| &m.group == group).collect();
            if !configured.iter().any(|m| m.field == MetricField::CpuPercent) {
                let metric = Metric::builder()
                    .namespace("AWS/EC2")
                    .metric_name("CPUUtilization")
                    .dimensions(Dimension::builder().name("AutoScalingGroupName").value(name).build())
                    .build();
                wanted.push((metric_key(name, MetricField::CpuPercent), metric, "Average"));
            }
            for m in configured {
                let mut metric = Metric::builder().namespace(&m.namespace).metric_name(&m.metric);
                for (k, v) in &m.dimensions {
                    let v = if v == "{asg}" { name } else { v.as_str() };
                    metric = metric.dimensions(Dimension::builder().name(k).value(v).build());
                }
                wanted.push((metric_key(name, m.field), metric.build(), m.stat.as_str()));
            }
        }
        for pool in &self.settings.pools {
            let mut metric = Metric::builder().namespace(&pool.queue_namespace).metric_name(&pool.queue_metric);
            for (name, value) in &pool.queue_dimensions {
                metric = metric.dimensions(Dimension::builder().name(name).value(value).build());
            }
            let metric = metric.build();
            wanted.push((format!("pool:{}", pool.name), metric.clone(), "Maximum"));
            // The same queue's other figures, where configured.
            let named = |name: &str| {
                Metric::builder()
                    .set_namespace(metric.namespace().map(str::to_string))
                    .metric_name(name)
                    .set_dimensions(Some(metric.dimensions().to_vec()))
                    .build()
            };
            if let Some(name) = &pool.jobs_metric {
                wanted.push((format!("jobs:{}", pool.name), named(name), "Sum"));
            }
            if let Some(name) = &pool.age_metric {
                wanted.push((format!("age:{}", pool.name), named(name), "Maximum"));
            }
        }
        // Metrics that fail leave the inventory whole: nothing is removed on it anyway
        // without them, and the observation says it is incomplete.
        let (MetricValues { latest: values, series }, complete) = match self.latest(&wanted, &mut calls).await {
            Ok(values) => (values, true),
            Err(e) => {
                tracing::warn!(error = %e, "CloudWatch did not answer; this tick sees no metrics.");
                (MetricValues::default(), false)
            }
        };
        tracing::debug!(groups = managed.len(), "Observed AWS's groups and metrics.");
        let mut groups: Vec<GroupSnapshot> = managed
            .iter()
            .map(|(group, asg)| {
                let name = asg.auto_scaling_group_name().unwrap_or_default();
                let value = |field| values.get(&metric_key(name, field)).copied();
                let readings = Readings {
                    cpu_percent: value(MetricField::CpuPercent),
                    requests_per_minute: value(MetricField::RequestsPerMinute),
                    queue_depth: value(MetricField::QueueDepth),
                };
                self.snapshot(group, asg, readings)
            })
            .collect();
        let workers: Vec<&aws_sdk_ec2::types::Instance> = pools.values().flatten().collect();
        let (notices, complete) = match self.spot_notices(&workers, &mut calls).await {
            Ok(notices) => (notices, complete),
            Err(e) => {
                tracing::warn!(error = %e, "Spot requests did not answer; interruption notices are not seen this tick.");
                (HashMap::new(), false)
            }
        };
        *self.last_calls.lock().unwrap_or_else(|e| e.into_inner()) = calls;
        tracing::debug!(api_calls = calls, "Observed AWS.");
        for pool in &self.settings.pools {
            let whole = |key: String| values.get(&key).map(|q| q.max(0.0).round() as u64);
            let jobs_started = pool.jobs_metric.as_ref().map(|_| {
                let points = series.get(&format!("jobs:{}", pool.name)).map(Vec::as_slice).unwrap_or(&[]);
                self.jobs.lock().unwrap_or_else(|e| e.into_inner()).count(&pool.name, points, now_ms())
            });
            let readings = queue::PoolReadings {
                queue: whole(format!("pool:{}", pool.name)),
                oldest_job_age_seconds: whole(format!("age:{}", pool.name)),
                jobs_started,
            };
            let instances = pools.get(&pool.name).map(Vec::as_slice).unwrap_or(&[]);
            groups.push(self.pool_snapshot(pool, instances, readings, &notices));
        }
        let at_ms = now_ms();
        Ok(Observation { at_ms, groups, complete })
    }

    async fn execute(&self, action_id: &str, call: &ApprovedCall) -> Result<ActionReceipt, ProviderError> {
        self.execute_call(action_id, call.call()).await
    }

    fn api_calls(&self) -> Option<u64> {
        Some(self.last_observation_calls())
    }

    async fn find_action(&self, action_id: &str) -> Result<Option<ActionReceipt>, ProviderError> {
        // Launched workers carry the action id; a scaled group carries it with the levels.
        if let Some(found) = self.launched_by(action_id).await? {
            return Ok(Some(found));
        }
        self.scaled_by(action_id).await
    }
}

#[cfg(test)]
mod tests {
    use super::blended_price;

    #[test]
    fn a_mixed_group_is_priced_by_its_on_demand_and_spot_shares() {
        let close = |a: f64, b: f64| (a - b).abs() < 1e-9;
        assert!(close(blended_price(1.0, 0.4, 10, 0, 100), 1.0), "all on demand (AWS's default)");
        assert!(close(blended_price(1.0, 0.4, 10, 0, 0), 0.4), "all spot");
        // Base 2 on demand, then 25 % of 8 = 2 more: 4 on demand, 6 spot.
        assert!(close(blended_price(1.0, 0.4, 10, 2, 25), (4.0 + 6.0 * 0.4) / 10.0));
        // 30 % of 3 rounds up to 1 on demand.
        assert!(close(blended_price(1.0, 0.4, 3, 0, 30), (1.0 + 2.0 * 0.4) / 3.0));
        assert!(close(blended_price(1.0, 0.4, 2, 5, 0), 1.0), "a base above the count is all on demand");
        assert!(close(blended_price(1.0, 0.4, 0, 0, 0), 1.0));
    }
}
