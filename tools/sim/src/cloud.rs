//! The simulated cloud's state and its [`CloudProvider`] implementation.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Mutex, MutexGuard};

use async_trait::async_trait;
use rand::Rng;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use steward_tools::capacity::{CoolOff, INTERRUPTED, SPOT_NOTICE_MS};
use steward_tools::prices::hourly_price;
use steward_tools::provider::{ActionReceipt, CloudProvider, ProviderError};
use steward_tools::{
    ApprovedCall, GroupKind, GroupSnapshot, InstanceSnapshot, InstanceState, LaunchOption, Market, Observation,
    PoolState, ToolCall, WorkerCapacity,
};

use crate::fleet::GroupSpec;
use crate::gpu::{interruption_chance, on_demand, options, placed, price_now};
use crate::state::{Failure, SimGroup, SimInstance, State, MINUTE_MS};

/// The simulated cloud. Cheap to share: all state sits behind one mutex.
#[derive(Debug)]
pub struct SimCloud {
    state: Mutex<State>,
}

impl SimCloud {
    /// A cloud running `fleet`, with its clock at `start_ms`, deterministic for `seed`.
    pub fn new(fleet: Vec<GroupSpec>, start_ms: i64, seed: u64) -> SimCloud {
        let mut state = State {
            now_ms: start_ms,
            start_ms,
            rng: ChaCha8Rng::seed_from_u64(seed),
            groups: Vec::new(),
            next_instance: 1,
            executed: HashMap::new(),
            failures: VecDeque::new(),
            job_waits_ms: Vec::new(),
            cool_off: CoolOff::default(),
            jobs_interrupted: 0,
            workers_interrupted: 0,
        };
        for spec in fleet {
            let mut group = SimGroup {
                desired: spec.desired,
                instances: Vec::new(),
                last_load: 0.0,
                queue: VecDeque::new(),
                tags: BTreeMap::new(),
                jobs_started: 0,
                spec,
            };
            for _ in 0..group.spec.unmanaged {
                let id = state.instance_id(&group.spec.name);
                group.instances.push(SimInstance::new(id, &group.spec.instance_type, start_ms, false));
            }
            // A pool's first workers run in its first option.
            let first = options(&group.spec).into_iter().next();
            for _ in 0..group.desired {
                let id = state.instance_id(&group.spec.name);
                let mut worker = SimInstance::new(id, &group.spec.instance_type, start_ms, true);
                if let (GroupKind::GpuPool, Some(o)) = (group.spec.kind, &first) {
                    worker.instance_type = o.option.instance_type.clone();
                    worker.placed = Some(placed(o));
                }
                group.instances.push(worker);
            }
            state.groups.push(group);
        }
        let cloud = SimCloud { state: Mutex::new(state) };
        {
            let mut state = cloud.lock();
            state.step_load();
        }
        cloud
    }

    /// Queue a failure for the next matching call.
    pub fn inject(&self, failure: Failure) {
        self.lock().failures.push_back(failure);
    }

    /// The simulated clock, Unix milliseconds.
    pub fn now_ms(&self) -> i64 {
        self.lock().now_ms
    }

    /// The waits of the jobs that started since the last call, milliseconds.
    pub fn take_job_waits(&self) -> Vec<i64> {
        std::mem::take(&mut self.lock().job_waits_ms)
    }

    /// `(workers reclaimed, jobs they were running)` since the cloud started: each such job
    /// went back to the front of its queue.
    pub fn interruptions(&self) -> (u64, u64) {
        let state = self.lock();
        (state.workers_interrupted, state.jobs_interrupted)
    }

    /// Give `instance` the 2-minute interruption notice now (a spot worker), as AWS does
    /// before it reclaims the capacity. `false` when it is not a live spot worker.
    pub fn interrupt(&self, instance: &str) -> bool {
        let mut state = self.lock();
        let now = state.now_ms;
        let mut cooled = None;
        for group in &mut state.groups {
            if let Some(worker) = group.instances.iter_mut().find(|i| i.id == instance) {
                if let Some(p) = worker.placed.as_mut().filter(|p| p.market == Market::Spot) {
                    p.reclaim_at_ms.get_or_insert(now + SPOT_NOTICE_MS);
                    cooled = Some(p.key.clone());
                }
            }
        }
        match cooled {
            Some(key) => {
                state.cool_off.mark(&key, INTERRUPTED, now);
                true
            }
            None => false,
        }
    }

    /// Tag a group (free text, as a colleague or an attacker with tagging rights might).
    pub fn set_tag(&self, group: &str, key: &str, value: &str) {
        if let Some(g) = self.lock().groups.iter_mut().find(|g| g.spec.name == group) {
            g.tags.insert(key.to_string(), value.to_string());
        }
    }

    /// How many instances (managed or not) the named group has, for tests.
    pub fn instance_count(&self, group: &str) -> usize {
        self.lock().groups.iter().find(|g| g.spec.name == group).map_or(0, |g| g.instances.len())
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock would be a bug in this module; the state is still
        // consistent minute by minute, so keep going with it.
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl State {
    /// Draw this minute's load for every group, reclaim spot workers whose notice ran out
    /// (their jobs back to the front of the queue), give new notices, and let GPU workers
    /// take jobs (a worker under notice takes none).
    fn step_load(&mut self) {
        let minute = self.minute();
        let now = self.now_ms;
        let minute_of_day = u32::try_from(now.div_euclid(MINUTE_MS).rem_euclid(1440)).unwrap_or(0);
        let mut rng = self.rng.clone();
        let waits = &mut self.job_waits_ms;
        let mut noticed = Vec::new();
        for group in &mut self.groups {
            group.last_load = group.spec.load.at(minute, minute_of_day, &mut rng);
            if group.spec.kind != GroupKind::GpuPool {
                continue;
            }
            // Reclaimed: gone, and the job it ran goes back to the front of the queue.
            let mut kept = Vec::with_capacity(group.instances.len());
            for worker in std::mem::take(&mut group.instances) {
                let reclaim = worker.placed.as_ref().and_then(|p| p.reclaim_at_ms).is_some_and(|at| at <= now);
                if !reclaim {
                    kept.push(worker);
                    continue;
                }
                self.workers_interrupted += 1;
                if let (true, Some(arrived)) = (worker.busy_until_ms > now, worker.job_arrived_ms) {
                    group.queue.push_front(arrived);
                    self.jobs_interrupted += 1;
                }
            }
            group.instances = kept;
            // New notices: each spot worker's chance this minute, from its option's monthly
            // rate and any storm in progress.
            for worker in group.instances.iter_mut() {
                let Some(p) = worker.placed.as_mut().filter(|p| p.market == Market::Spot && p.reclaim_at_ms.is_none())
                else {
                    continue;
                };
                let Some(option) = group.spec.pool.options.iter().find(|o| o.option.key() == p.key) else { continue };
                let chance = interruption_chance(option, minute);
                if chance > 0.0 && rng.gen_bool(chance.min(1.0)) {
                    p.reclaim_at_ms = Some(now + SPOT_NOTICE_MS);
                    noticed.push(p.key.clone());
                }
            }
            for _ in 0..(group.last_load.max(0.0) as u64) {
                group.queue.push_back(now);
            }
            if group.spec.pool.one_job_per_worker {
                // Its one job done, the worker goes (its pod exited; billing stops now).
                group.instances.retain(|w| !(w.managed && w.job_arrived_ms.is_some() && w.busy_until_ms <= now));
            }
            let job_ms = i64::from(group.spec.minutes_per_job.max(1)) * MINUTE_MS;
            for worker in group.instances.iter_mut().filter(|i| i.managed && !i.under_notice()) {
                if worker.ready_at_ms <= now && worker.busy_until_ms <= now {
                    let Some(arrived) = group.queue.pop_front() else { break };
                    worker.busy_until_ms = now + job_ms;
                    worker.job_arrived_ms = Some(arrived);
                    group.jobs_started += 1;
                    waits.push(now - arrived);
                }
            }
        }
        for key in noticed {
            self.cool_off.mark(&key, INTERRUPTED, now);
        }
        self.rng = rng;
    }

    /// Auto Scaling: bring each group's instances to its desired capacity.
    fn converge(&mut self) {
        let now = self.now_ms;
        for g in 0..self.groups.len() {
            let (kind, name, instance_type, delay, desired) = {
                let group = &self.groups[g];
                (
                    group.spec.kind,
                    group.spec.name.clone(),
                    group.spec.instance_type.clone(),
                    group.spec.launch_delay_minutes,
                    group.desired,
                )
            };
            if kind != GroupKind::AutoScaling {
                continue;
            }
            let managed = self.groups[g].instances.iter().filter(|i| i.managed).count() as u32;
            if managed < desired {
                for _ in managed..desired {
                    let id = self.instance_id(&name);
                    let ready = now + i64::from(delay) * MINUTE_MS;
                    self.groups[g].instances.push(SimInstance::new(id, &instance_type, ready, true));
                }
            } else if managed > desired {
                // Scale in the newest managed instances first (pending ones before running).
                let mut excess = managed - desired;
                let instances = &mut self.groups[g].instances;
                while excess > 0 {
                    match instances.iter().rposition(|i| i.managed) {
                        Some(index) => {
                            instances.remove(index);
                            excess -= 1;
                        }
                        None => break,
                    }
                }
            }
        }
    }

    fn snapshot(&self, group: &SimGroup) -> GroupSnapshot {
        let now = self.now_ms;
        let instances: Vec<InstanceSnapshot> = group
            .instances
            .iter()
            .filter(|i| i.managed)
            .map(|i| InstanceSnapshot {
                id: i.id.clone(),
                instance_type: i.instance_type.clone(),
                state: if i.ready_at_ms <= now { InstanceState::Running } else { InstanceState::Pending },
                managed: true,
                busy: i.busy_until_ms > now,
                launched_by: i.launched_by.clone(),
                capacity: i.placed.as_ref().map(|p| WorkerCapacity {
                    zone: p.zone.clone(),
                    market: p.market,
                    price: p.price,
                    interruption_at_ms: p.reclaim_at_ms,
                }),
            })
            .collect();
        let running = instances.iter().filter(|i| i.state == InstanceState::Running).count() as f64;
        let (cpu, requests, queue) = match group.spec.kind {
            GroupKind::AutoScaling => {
                let capacity = running * group.spec.requests_per_instance;
                let cpu = if capacity > 0.0 { (group.last_load / capacity * 100.0).min(100.0) } else { 100.0 };
                (Some(cpu), Some(group.last_load), None)
            }
            GroupKind::GpuPool => (None, None, Some(group.queue.len() as u64)),
            GroupKind::App => (None, None, None),
        };
        let desired = match group.spec.kind {
            GroupKind::AutoScaling => group.desired,
            _ => u32::try_from(instances.len()).unwrap_or(u32::MAX),
        };
        GroupSnapshot {
            name: group.spec.name.clone(),
            kind: group.spec.kind,
            environment: group.spec.environment,
            instance_type: group.spec.instance_type.clone(),
            min: group.spec.min,
            max: group.spec.max,
            desired,
            instances,
            cpu_percent: cpu,
            requests_per_minute: requests,
            queue_depth: queue,
            hourly_price: hourly_price(&group.spec.instance_type).unwrap_or(0.0),
            tags: group.tags.clone(),
            pool: (group.spec.kind == GroupKind::GpuPool).then(|| {
                let options = options(&group.spec);
                let list: Vec<LaunchOption> = options.iter().map(|o| o.option.clone()).collect();
                PoolState {
                    options: self.cool_off.states(&list, now, |o| {
                        let sim = options.iter().find(|s| s.option == *o);
                        (sim.map_or(0.0, price_now), on_demand(&o.instance_type))
                    }),
                    budget: group.spec.pool.budget,
                    oldest_job_age_seconds: group.queue.front().map(|t| u64::try_from((now - t) / 1000).unwrap_or(0)),
                    jobs_started: Some(group.jobs_started),
                }
            }),
        }
    }

    fn execute(&mut self, action_id: &str, call: &ToolCall) -> Result<ActionReceipt, ProviderError> {
        if let Some(receipt) = self.executed.get(action_id) {
            return Ok(receipt.clone());
        }
        match self.take_failure(&[Failure::Throttle, Failure::NoCapacity, Failure::Refuse]) {
            Some(Failure::Throttle) => return Err(ProviderError::Throttled("Rate exceeded (injected)".into())),
            Some(Failure::Refuse) => {
                return Err(ProviderError::Refused("AccessDenied: not authorised (injected)".into()))
            }
            Some(Failure::NoCapacity) => {
                return Err(ProviderError::InsufficientCapacity(format!(
                    "InsufficientInstanceCapacity for {} (injected)",
                    call.target()
                )))
            }
            _ => {}
        }
        let mut receipt = ActionReceipt {
            action_id: action_id.to_string(),
            summary: String::new(),
            replaced_desired: None,
            launched: Vec::new(),
            terminated: Vec::new(),
            terminated_type: None,
            undo: None,
            manual: Vec::new(),
            placements: Vec::new(),
            skipped: Vec::new(),
        };
        match call {
            ToolCall::ScaleGroup(s) => {
                let group = self.group_mut(&s.group)?;
                if group.spec.kind != GroupKind::AutoScaling {
                    return Err(ProviderError::Refused(format!("`{}` is not an auto-scaling group", s.group)));
                }
                if group.desired != s.current_desired {
                    return Err(ProviderError::Conflict(format!(
                        "`{}` has desired capacity {}, the proposal saw {}",
                        s.group, group.desired, s.current_desired
                    )));
                }
                if s.desired < group.spec.min || s.desired > group.spec.max {
                    return Err(ProviderError::Refused(format!(
                        "desired {} is outside `{}`'s bounds {}..={}",
                        s.desired, s.group, group.spec.min, group.spec.max
                    )));
                }
                receipt.replaced_desired = Some(group.desired);
                group.desired = s.desired;
                receipt.summary = format!("{} desired {} → {}", s.group, s.current_desired, s.desired);
                self.converge();
            }
            ToolCall::ProvisionGpuWorkers(p) => receipt = self.provision(action_id, p)?,
            ToolCall::TerminateWorkers(t) => {
                let group = self.group_mut(&t.group)?;
                // Checked again right before acting: every id must be a managed instance here.
                for id in &t.instance_ids {
                    if !group.instances.iter().any(|i| &i.id == id && i.managed) {
                        return Err(ProviderError::Refused(format!(
                            "`{id}` is not a managed instance of `{}`",
                            t.group
                        )));
                    }
                }
                receipt.terminated_type =
                    group.instances.iter().find(|i| t.instance_ids.contains(&i.id)).map(|i| i.instance_type.clone());
                group.instances.retain(|i| !t.instance_ids.contains(&i.id));
                if group.spec.kind == GroupKind::AutoScaling {
                    let removed = u32::try_from(t.instance_ids.len()).unwrap_or(u32::MAX);
                    receipt.replaced_desired = Some(group.desired);
                    group.desired = group.desired.saturating_sub(removed).max(group.spec.min);
                }
                receipt.terminated = t.instance_ids.clone();
                receipt.summary = format!("{} terminated {}", t.group, t.instance_ids.join(", "));
                self.converge();
            }
            ToolCall::MigrationStep(m) => {
                return Err(ProviderError::Unsupported(format!(
                    "{}: migration steps run on the migration executor, not the fleet",
                    m.action.kind()
                )))
            }
        }
        self.executed.insert(action_id.to_string(), receipt.clone());
        Ok(receipt)
    }
}

#[async_trait]
impl CloudProvider for SimCloud {
    fn name(&self) -> &'static str {
        "simulated"
    }

    async fn observe(&self) -> Result<Observation, ProviderError> {
        let mut state = self.lock();
        let failure = state.take_failure(&[Failure::PartialObservation, Failure::Unreachable]);
        if failure == Some(Failure::Unreachable) {
            return Err(ProviderError::Unavailable("connection refused (injected)".into()));
        }
        let mut groups: Vec<GroupSnapshot> = state.groups.iter().map(|g| state.snapshot(g)).collect();
        let complete = failure.is_none();
        if !complete {
            groups.pop();
        }
        Ok(Observation { at_ms: state.now_ms, groups, complete })
    }

    async fn execute(&self, action_id: &str, call: &ApprovedCall) -> Result<ActionReceipt, ProviderError> {
        self.lock().execute(action_id, call.call())
    }

    async fn find_action(&self, action_id: &str) -> Result<Option<ActionReceipt>, ProviderError> {
        Ok(self.lock().executed.get(action_id).cloned())
    }

    async fn advance_clock(&self, by_ms: i64) -> bool {
        let mut state = self.lock();
        let target = state.now_ms + by_ms.max(0);
        while state.now_ms + MINUTE_MS <= target {
            state.now_ms += MINUTE_MS;
            state.converge();
            state.step_load();
        }
        state.now_ms = target;
        true
    }
}
