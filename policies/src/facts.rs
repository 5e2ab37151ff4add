//! What policy needs to know beyond the validated call: who proposed it, when, what the
//! fleet costs now, and the recent history of the group.

use serde::{Deserialize, Serialize};
use steward_tools::capacity::CoolOff;
use steward_tools::field::{parse_json, FieldError};
use steward_tools::{
    Budget, Environment, GroupKind, GroupSnapshot, InstanceSnapshot, InstanceState, LaunchOption, Market, Observation,
    PoolState, ToolCall,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProposerKind {
    /// A deterministic planner.
    Planner,
    /// The LLM planner.
    Model,
    /// A person (a rollback, a chat-ops request).
    Person,
}

impl ProposerKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ProposerKind::Planner => "planner",
            ProposerKind::Model => "model",
            ProposerKind::Person => "person",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Proposer {
    pub kind: ProposerKind,
    pub name: String,
}

impl Proposer {
    pub fn planner(name: &str) -> Proposer {
        Proposer { kind: ProposerKind::Planner, name: name.to_string() }
    }

    pub fn person(name: &str) -> Proposer {
        Proposer { kind: ProposerKind::Person, name: name.to_string() }
    }
}

impl std::fmt::Display for Proposer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.kind.as_str(), self.name)
    }
}

/// Facts about the moment of decision, gathered by the caller from the store and the
/// observation.
#[derive(Debug, Clone, PartialEq)]
pub struct DecisionInput {
    pub proposer: Proposer,
    /// Unix milliseconds (simulated time on the simulated cloud).
    pub now_ms: i64,
    /// Hourly burn of the managed fleet now, USD.
    pub hourly_burn_usd: f64,
    /// What the managed fleet has cost this calendar month so far, USD.
    pub month_to_date_usd: f64,
    /// What the call's group has cost this month so far, USD.
    pub group_month_to_date_usd: f64,
    /// When the group last had an action executed, Unix milliseconds.
    pub last_change_ms: Option<i64>,
    /// Actions executed on the group in the last hour.
    pub changes_last_hour: u32,
    pub tainted: bool,
    /// For `terminate_workers`: every instance named is idle.
    pub idle_only: bool,
}

/// A group as described in a proposal file, for `steward policy explain` and policy tests.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GroupFacts {
    pub environment: Environment,
    pub kind: GroupKind,
    pub instance_type: String,
    pub min: u32,
    pub max: u32,
    pub desired: u32,
    /// Instance ids of the group that are busy; every other id a call names is idle.
    #[serde(default)]
    pub busy_instances: Vec<String>,
    /// A GPU pool's launch options, in order (default: `instance_type` on demand).
    #[serde(default)]
    pub options: Vec<LaunchOption>,
    /// A GPU pool's dollar caps.
    #[serde(default)]
    pub budget: Budget,
}

impl GroupFacts {
    /// The pool as a provider would report it, priced from the shipped table (spot at its
    /// typical figure).
    fn pool_state(&self) -> PoolState {
        let options = if self.options.is_empty() {
            vec![LaunchOption {
                instance_type: self.instance_type.clone(),
                zone: None,
                market: Market::OnDemand,
                max_price: None,
            }]
        } else {
            self.options.clone()
        };
        let states = CoolOff::default().states(&options, 0, |o| {
            let price = |market| steward_tools::prices::market_price(&o.instance_type, market).unwrap_or(0.0);
            (price(o.market), price(Market::OnDemand))
        });
        PoolState { options: states, budget: self.budget, oldest_job_age_seconds: None, jobs_started: None }
    }
}

fn default_proposer() -> Proposer {
    Proposer::planner("manual")
}

/// A proposal as JSON: the call and the facts around it. The input of
/// `steward policy explain FILE.json` and of each policy test case.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProposalFile {
    pub call: ToolCall,
    #[serde(default = "default_proposer")]
    pub proposer: Proposer,
    /// The group the call acts on (not needed for a migration step).
    #[serde(default)]
    pub group: Option<GroupFacts>,
    /// Hourly burn of the whole fleet now, USD.
    #[serde(default)]
    pub fleet_hourly_burn_usd: f64,
    /// What the fleet has cost this month so far, USD.
    #[serde(default)]
    pub fleet_month_to_date_usd: f64,
    /// What the group has cost this month so far, USD.
    #[serde(default)]
    pub group_month_to_date_usd: f64,
    #[serde(default)]
    pub tainted: bool,
    #[serde(default)]
    pub minutes_since_last_change: Option<u32>,
    #[serde(default)]
    pub changes_last_hour: u32,
    /// When the decision is made, Unix seconds (default: 2026-01-05 12:00 UTC, a Monday).
    #[serde(default)]
    pub at_unix_seconds: Option<i64>,
}

const DEFAULT_AT_SECONDS: i64 = 1_767_614_400;

impl ProposalFile {
    /// Parse a proposal file, naming the field that was wrong.
    pub fn from_json(text: &str) -> Result<ProposalFile, FieldError> {
        let file: ProposalFile = parse_json(text)?;
        file.call.check_ranges().map_err(|e| FieldError::new(format!("call.{}", e.field), e.message))?;
        let needs_group = !matches!(file.call, ToolCall::MigrationStep(_));
        if needs_group && file.group.is_none() {
            return Err(FieldError::new("group", "required: describe the group the call acts on"));
        }
        if !file.fleet_hourly_burn_usd.is_finite() || file.fleet_hourly_burn_usd < 0.0 {
            return Err(FieldError::new("fleet_hourly_burn_usd", "must be a non-negative number"));
        }
        Ok(file)
    }

    /// The one-group observation this file describes.
    pub fn observation(&self) -> Observation {
        let now_ms = self.now_ms();
        let groups = match &self.group {
            Some(g) => {
                let named: Vec<String> = match &self.call {
                    ToolCall::TerminateWorkers(t) => t.instance_ids.clone(),
                    _ => Vec::new(),
                };
                let mut ids: Vec<String> = named;
                ids.extend(g.busy_instances.iter().cloned());
                ids.sort();
                ids.dedup();
                let mut filler = 0;
                while ids.len() < g.desired as usize {
                    filler += 1;
                    ids.push(format!("i-{filler:05}"));
                }
                let instances = ids
                    .into_iter()
                    .map(|id| InstanceSnapshot {
                        busy: g.busy_instances.contains(&id),
                        id,
                        instance_type: g.instance_type.clone(),
                        state: InstanceState::Running,
                        managed: true,
                        launched_by: None,
                        capacity: None,
                    })
                    .collect();
                let pool = (g.kind == GroupKind::GpuPool).then(|| g.pool_state());
                vec![GroupSnapshot {
                    name: self.call.target().to_string(),
                    kind: g.kind,
                    environment: g.environment,
                    instance_type: g.instance_type.clone(),
                    min: g.min,
                    max: g.max,
                    desired: g.desired,
                    instances,
                    cpu_percent: None,
                    requests_per_minute: None,
                    queue_depth: None,
                    hourly_price: steward_tools::prices::hourly_price(&g.instance_type).unwrap_or(0.0),
                    tags: Default::default(),
                    pool,
                }]
            }
            None => Vec::new(),
        };
        Observation { at_ms: now_ms, groups, complete: true }
    }

    pub fn now_ms(&self) -> i64 {
        self.at_unix_seconds.unwrap_or(DEFAULT_AT_SECONDS).saturating_mul(1000)
    }

    /// The decision facts this file describes.
    pub fn input(&self) -> DecisionInput {
        let now_ms = self.now_ms();
        let idle_only = match (&self.call, &self.group) {
            (ToolCall::TerminateWorkers(t), Some(g)) => t.instance_ids.iter().all(|id| !g.busy_instances.contains(id)),
            _ => false,
        };
        DecisionInput {
            proposer: self.proposer.clone(),
            now_ms,
            hourly_burn_usd: self.fleet_hourly_burn_usd,
            month_to_date_usd: self.fleet_month_to_date_usd,
            group_month_to_date_usd: self.group_month_to_date_usd,
            last_change_ms: self.minutes_since_last_change.map(|m| now_ms.saturating_sub(i64::from(m) * 60_000)),
            changes_last_hour: self.changes_last_hour,
            tainted: self.tainted,
            idle_only,
        }
    }
}
