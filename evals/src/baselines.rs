//! The autoscalers teams use today, implemented from their documented behaviour, as
//! planners, so they are scored on the same replay as Steward's.

use std::collections::VecDeque;

use steward_planners::{Plan, Planner};
use steward_tools::{GroupKind, InstanceState, Observation, ScaleGroup, ToolCall};

pub(crate) fn scale(group: &str, from: u32, to: u32, why: String) -> Plan {
    Plan {
        call: ToolCall::ScaleGroup(ScaleGroup { group: group.to_string(), current_desired: from, desired: to }),
        rationale: why,
    }
}

/// Static provisioning for the peak: the replay starts the group at its peak need and this
/// planner never changes it.
#[derive(Debug, Default)]
pub struct StaticPeak;

impl Planner for StaticPeak {
    fn name(&self) -> &'static str {
        "static-peak"
    }

    fn plan(&mut self, _: &Observation) -> Vec<Plan> {
        Vec::new()
    }
}

/// Amazon EC2 Auto Scaling target tracking on average CPU, as documented in the EC2 Auto
/// Scaling user guide ("Target tracking scaling policies for Amazon EC2 Auto Scaling" and
/// "How target tracking scaling works"):
/// - the policy's CloudWatch alarms: scale out when the metric is above the target for 3
///   consecutive one-minute datapoints; scale in when it is below 90 % of the target for 15
///   consecutive datapoints;
/// - the new capacity is proportional: `ceil(capacity × metric / target)`;
/// - instances still warming up (default warm-up: the launch delay) add no metric and count
///   as capacity already on its way, so a scale-out does not repeat while they warm up;
/// - after a scale-in, another scale-in waits for the cooldown (default 300 s).
#[derive(Debug)]
pub struct AwsTargetTracking {
    target: f64,
    above: u32,
    below: u32,
    last_scale_in: Option<i64>,
}

impl AwsTargetTracking {
    pub fn new(target_percent: f64) -> AwsTargetTracking {
        AwsTargetTracking { target: target_percent, above: 0, below: 0, last_scale_in: None }
    }
}

pub(crate) const SCALE_OUT_DATAPOINTS: u32 = 3;
pub(crate) const SCALE_IN_DATAPOINTS: u32 = 15;
pub(crate) const SCALE_IN_COOLDOWN_MS: i64 = 300_000;

impl Planner for AwsTargetTracking {
    fn name(&self) -> &'static str {
        "aws-target-tracking"
    }

    fn plan(&mut self, o: &Observation) -> Vec<Plan> {
        let mut plans = Vec::new();
        for g in o.groups.iter().filter(|g| g.kind == GroupKind::AutoScaling) {
            let Some(cpu) = g.cpu_percent else { continue };
            let running = g.running();
            self.above = if cpu > self.target { self.above + 1 } else { 0 };
            self.below = if cpu < self.target * 0.9 { self.below + 1 } else { 0 };
            if running == 0 {
                continue;
            }
            let wanted = ((f64::from(running) * cpu / self.target).ceil() as u32).clamp(g.min, g.max);
            if self.above >= SCALE_OUT_DATAPOINTS && wanted > g.desired {
                plans.push(scale(
                    &g.name,
                    g.desired,
                    wanted,
                    format!("alarm high: cpu {cpu:.0}% > {:.0}%", self.target),
                ));
            } else if self.below >= SCALE_IN_DATAPOINTS
                && wanted < g.desired
                && g.pending() == 0
                && self.last_scale_in.is_none_or(|t| o.at_ms - t >= SCALE_IN_COOLDOWN_MS)
            {
                self.last_scale_in = Some(o.at_ms);
                plans.push(scale(&g.name, g.desired, wanted, format!("alarm low: cpu {cpu:.0}% for 15 min")));
            }
        }
        plans
    }
}

/// The Kubernetes Horizontal Pod Autoscaler's algorithm, as documented ("Horizontal Pod
/// Autoscaling", algorithm details and configurable scaling behaviour):
/// - `desired = ceil(current × currentMetric / target)`, skipped within a 10 % tolerance;
/// - scale-down stabilisation window of 300 s: the highest recommendation in the window;
/// - scale-up without stabilisation (the default policy allows doubling every 15 s, which
///   a one-minute replay never limits).
#[derive(Debug)]
pub struct KubernetesHpa {
    target: f64,
    recommendations: VecDeque<(i64, u32)>,
}

impl KubernetesHpa {
    pub fn new(target_percent: f64) -> KubernetesHpa {
        KubernetesHpa { target: target_percent, recommendations: VecDeque::new() }
    }
}

pub(crate) const HPA_TOLERANCE: f64 = 0.1;
pub(crate) const HPA_DOWNSCALE_WINDOW_MS: i64 = 300_000;

impl Planner for KubernetesHpa {
    fn name(&self) -> &'static str {
        "kubernetes-hpa"
    }

    fn plan(&mut self, o: &Observation) -> Vec<Plan> {
        let mut plans = Vec::new();
        for g in o.groups.iter().filter(|g| g.kind == GroupKind::AutoScaling) {
            let Some(cpu) = g.cpu_percent else { continue };
            let ready = g.running();
            if ready == 0 {
                continue;
            }
            let ratio = cpu / self.target;
            let recommendation = if (ratio - 1.0).abs() <= HPA_TOLERANCE {
                g.desired
            } else {
                ((f64::from(ready) * ratio).ceil() as u32).clamp(g.min, g.max)
            };
            self.recommendations.push_back((o.at_ms, recommendation));
            while self.recommendations.front().is_some_and(|(t, _)| *t <= o.at_ms - HPA_DOWNSCALE_WINDOW_MS) {
                self.recommendations.pop_front();
            }
            let stabilized = if recommendation < g.desired {
                self.recommendations.iter().map(|(_, r)| *r).max().unwrap_or(recommendation)
            } else {
                recommendation
            };
            if stabilized != g.desired && !(stabilized > g.desired && recommendation <= g.desired) {
                plans.push(scale(
                    &g.name,
                    g.desired,
                    stabilized,
                    format!("cpu {cpu:.0}% vs target {:.0}%", self.target),
                ));
            }
        }
        plans
    }
}

/// One job, one worker: KEDA's ScaledJob (a Job per queued message, polled every 30 s)
/// and SkyPilot's managed jobs (a cluster per job, on demand, failing over to the next
/// zone or type) scale GPU work this way. Each tick: a new worker for every queued job no
/// booting or idle worker will take, up to what the pool's budget affords; a worker with
/// no job goes. The two differ in the options they launch on (see
/// [`crate::gpu::Options`]), not here. Run with the pool's `one_job_per_worker` (the eval's
/// rows), a worker goes the moment its job ends; without it (`keda-scaled-job-reuse`), a
/// freed worker takes the next queued job, which a ScaledJob's would not.
///
/// Where the replay is kind to them: it ticks once a minute, so a 30 s poll is not
/// modelled (a job waits for the next minute, as it does for every planner); and a
/// finished worker's billing stops at once, with no node scale-down delay.
#[derive(Debug)]
pub struct PerJobWorkers {
    name: &'static str,
}

impl PerJobWorkers {
    pub fn keda_scaled_job() -> PerJobWorkers {
        PerJobWorkers { name: "keda-scaled-job" }
    }

    pub fn skypilot_failover() -> PerJobWorkers {
        PerJobWorkers { name: "skypilot-failover" }
    }
}

impl Planner for PerJobWorkers {
    fn name(&self) -> &'static str {
        self.name
    }

    fn plan(&mut self, o: &Observation) -> Vec<Plan> {
        let mut plans = Vec::new();
        for g in o.groups.iter().filter(|g| g.kind == GroupKind::GpuPool) {
            let queue = u32::try_from(g.queue_depth.unwrap_or(0)).unwrap_or(u32::MAX);
            let idle: Vec<String> = g
                .instances
                .iter()
                .filter(|i| i.state == InstanceState::Running && !i.busy)
                .map(|i| i.id.clone())
                .collect();
            let booting = g.pending();
            let workers = u32::try_from(g.instances.len()).unwrap_or(u32::MAX);
            // The most workers it may run: the pool's max, and what its budget affords (a
            // ScaledJob's `maxReplicaCount`, set to the budget, as its user would).
            let wanted = queue.saturating_sub(booting).min(g.max.saturating_sub(workers)).min(g.affordable_workers());
            if wanted > 0 {
                plans.push(Plan {
                    call: ToolCall::ProvisionGpuWorkers(steward_tools::ProvisionGpuWorkers {
                        pool: g.name.clone(),
                        count: wanted.min(steward_tools::call::MAX_GPU_WORKERS_PER_CALL),
                        instance_type: None,
                        market: None,
                    }),
                    rationale: format!("{queue} queued jobs, {booting} workers booting"),
                });
            } else if queue == 0 && !idle.is_empty() {
                plans.push(Plan {
                    call: ToolCall::TerminateWorkers(steward_tools::TerminateWorkers {
                        group: g.name.clone(),
                        instance_ids: idle.into_iter().take(steward_tools::call::MAX_TERMINATIONS_PER_CALL).collect(),
                    }),
                    rationale: "their jobs are done".into(),
                });
            }
        }
        plans
    }
}
