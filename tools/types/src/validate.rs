//! Validation turns a parsed [`ToolCall`] into a [`ValidatedCall`] against a fresh
//! observation; the approval path turns that into an [`ApprovedCall`], the only thing an
//! executor accepts.
//!
//! Architecture invariant: `ValidatedCall` is made only by [`validate`], and it carries the
//! facts policy needs (environment, capacity before and after, price), so policy never
//! reasons about a call it has not seen checked against the fleet.

use serde::{Deserialize, Serialize};

use crate::call::{ProvisionGpuWorkers, ToolCall};
use crate::capacity::Budget;
use crate::environment::Environment;
use crate::observe::{GroupKind, GroupSnapshot, Observation, PoolState};
use crate::prices::hourly_price;

/// Why a call cannot run against the fleet as observed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ValidationError {
    #[error("unknown group `{0}`: not in the managed inventory")]
    UnknownGroup(String),
    #[error("group `{group}` is a {kind} group; {tool} does not apply to it")]
    WrongKind { group: String, kind: &'static str, tool: &'static str },
    #[error("group `{group}` has desired capacity {actual}, not {claimed} as the call says")]
    StaleCapacity { group: String, claimed: u32, actual: u32 },
    #[error("instance `{instance}` is not a managed instance of group `{group}`")]
    UnknownInstance { group: String, instance: String },
    #[error("instance type `{0}` is not in the price table")]
    UnknownInstanceType(String),
    #[error("the scale does nothing: `{group}` already has desired capacity {desired}")]
    NoChange { group: String, desired: u32 },
    #[error("pool `{pool}` has no launch option {wanted}")]
    NoLaunchOption { pool: String, wanted: String },
}

/// What validation learnt about a call: what policy reasons about.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CallFacts {
    pub environment: Environment,
    pub kind: GroupKind,
    pub instance_type: String,
    /// USD per hour per instance.
    pub hourly_price: f64,
    pub min: u32,
    pub max: u32,
    /// Capacity (instances) before and after the call.
    pub capacity_before: u32,
    pub capacity_after: u32,
    /// For a migration step: what it risks and costs.
    #[serde(default)]
    pub step: Option<StepFacts>,
    /// The group's own dollar caps (GPU pools).
    #[serde(default)]
    pub budget: Budget,
    /// What the group burns now, USD per hour.
    #[serde(default)]
    pub group_hourly_burn: f64,
}

/// What policy knows about a migration step beyond its kind.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepFacts {
    /// The policy action: `copy_data`, `cut_over_dns`, …
    pub kind: String,
    pub cost_delta_per_hour: f64,
    pub data_at_risk: bool,
    pub downtime_minutes: u32,
}

impl CallFacts {
    /// Change in hourly burn if the call runs, USD per hour (negative saves money).
    pub fn cost_delta_per_hour(&self) -> f64 {
        match &self.step {
            Some(step) => step.cost_delta_per_hour,
            None => (f64::from(self.capacity_after) - f64::from(self.capacity_before)) * self.hourly_price,
        }
    }

    pub fn reduces_capacity(&self) -> bool {
        self.capacity_after < self.capacity_before
    }
}

/// A call checked against a fresh observation.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ValidatedCall {
    call: ToolCall,
    facts: CallFacts,
}

impl ValidatedCall {
    pub fn call(&self) -> &ToolCall {
        &self.call
    }

    pub fn facts(&self) -> &CallFacts {
        &self.facts
    }
}

/// Check `call` against `observation`: the group exists and is managed, the tool fits the
/// group's kind, instances belong to the group, and level-driven calls saw the current level.
pub fn validate(call: ToolCall, observation: &Observation) -> Result<ValidatedCall, ValidationError> {
    let target = call.target().to_string();
    let facts = match &call {
        // A migration step is checked against the plan it came from, not the fleet: its
        // facts travel with it.
        ToolCall::MigrationStep(m) => CallFacts {
            environment: m.environment,
            kind: GroupKind::App,
            instance_type: String::new(),
            hourly_price: 0.0,
            min: 0,
            max: 0,
            capacity_before: 0,
            capacity_after: 0,
            budget: Budget::default(),
            group_hourly_burn: 0.0,
            step: Some(StepFacts {
                kind: m.action.kind().to_string(),
                cost_delta_per_hour: m.cost_cents_per_hour as f64 / 100.0,
                data_at_risk: m.data_at_risk,
                downtime_minutes: m.downtime_minutes,
            }),
        },
        _ => {
            let group = observation.group(&target).ok_or_else(|| ValidationError::UnknownGroup(target.clone()))?;
            let wrong_kind =
                || ValidationError::WrongKind { group: target.clone(), kind: group.kind.as_str(), tool: call.name() };
            let base = |instance_type: &str, before: u32, after: u32| -> Result<CallFacts, ValidationError> {
                Ok(CallFacts {
                    environment: group.environment,
                    kind: group.kind,
                    instance_type: instance_type.to_string(),
                    // The provider's own figure for the group (its region, spot share, a
                    // refreshed price list) when it has one; else the shipped table's.
                    hourly_price: if instance_type == group.instance_type && group.hourly_price > 0.0 {
                        group.hourly_price
                    } else {
                        price(instance_type)?
                    },
                    min: group.min,
                    max: group.max,
                    capacity_before: before,
                    capacity_after: after,
                    step: None,
                    budget: group.pool.as_ref().map(|p| p.budget).unwrap_or_default(),
                    group_hourly_burn: group.hourly_burn(),
                })
            };
            match &call {
                ToolCall::ScaleGroup(s) => {
                    if group.kind != GroupKind::AutoScaling {
                        return Err(wrong_kind());
                    }
                    if s.current_desired != group.desired {
                        return Err(ValidationError::StaleCapacity {
                            group: target.clone(),
                            claimed: s.current_desired,
                            actual: group.desired,
                        });
                    }
                    if s.desired == group.desired {
                        return Err(ValidationError::NoChange { group: target.clone(), desired: s.desired });
                    }
                    base(&group.instance_type, group.desired, s.desired)?
                }
                ToolCall::ProvisionGpuWorkers(p) => {
                    if group.kind != GroupKind::GpuPool {
                        return Err(wrong_kind());
                    }
                    let before = group.desired;
                    let after = before.saturating_add(p.count);
                    match launch_price(group, p)? {
                        Some((instance_type, worst)) => {
                            CallFacts { hourly_price: worst, ..base(&instance_type, before, after)? }
                        }
                        None => base(p.instance_type.as_deref().unwrap_or(&group.instance_type), before, after)?,
                    }
                }
                ToolCall::TerminateWorkers(t) => {
                    if group.kind == GroupKind::App {
                        return Err(wrong_kind());
                    }
                    for id in &t.instance_ids {
                        let known = group.instances.iter().any(|i| &i.id == id && i.managed);
                        if !known {
                            return Err(ValidationError::UnknownInstance {
                                group: target.clone(),
                                instance: id.clone(),
                            });
                        }
                    }
                    let removed = u32::try_from(t.instance_ids.len()).unwrap_or(u32::MAX);
                    base(&group.instance_type, group.desired, group.desired.saturating_sub(removed))?
                }
                ToolCall::MigrationStep(_) => return Err(wrong_kind()),
            }
        }
    };
    Ok(ValidatedCall { call, facts })
}

/// For a pool with launch options: the type of the first option the call may use and the
/// worst-case price per worker-hour over those it may use (cooling-off ones left out while
/// any other remains, as the executor skips them). `None` for a pool without options.
fn launch_price(group: &GroupSnapshot, p: &ProvisionGpuWorkers) -> Result<Option<(String, f64)>, ValidationError> {
    let Some(pool) = group.pool.as_ref().filter(|pool| !pool.options.is_empty()) else { return Ok(None) };
    let usable: Vec<_> = pool.usable(p).collect();
    let Some(first) = usable.first() else {
        let mut wanted: Vec<String> = Vec::new();
        if let Some(t) = &p.instance_type {
            wanted.push(format!("of type {t}"));
        }
        if let Some(m) = p.market {
            wanted.push(format!("in the {} market", m.as_str()));
        }
        return Err(ValidationError::NoLaunchOption { pool: group.name.clone(), wanted: wanted.join(" ") });
    };
    let worst = PoolState::worst_case(&usable);
    let open = usable.iter().find(|o| o.unavailable.is_none()).unwrap_or(first);
    let instance_type = &open.option.instance_type;
    Ok(Some((instance_type.clone(), worst)))
}

fn price(instance_type: &str) -> Result<f64, ValidationError> {
    hourly_price(instance_type).ok_or_else(|| ValidationError::UnknownInstanceType(instance_type.to_string()))
}

/// Who let a call run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "by", rename_all = "snake_case")]
pub enum Grant {
    /// Policy allowed it in autonomous mode; the ids of the permitting policies.
    Policy { policies: Vec<String> },
    /// People approved it.
    Approvers { names: Vec<String> },
}

/// A validated call that policy allowed or people approved: the only input an executor takes.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ApprovedCall {
    validated: ValidatedCall,
    grant: Grant,
}

impl ApprovedCall {
    /// Made only by the agent's approval path (`agent/src/daemon/authorize.rs`), after policy
    /// was evaluated again against fresh state and every approval was checked against the
    /// call's canonical hash.
    pub fn grant(validated: ValidatedCall, grant: Grant) -> Self {
        ApprovedCall { validated, grant }
    }

    pub fn call(&self) -> &ToolCall {
        self.validated.call()
    }

    pub fn facts(&self) -> &CallFacts {
        self.validated.facts()
    }

    pub fn granted_by(&self) -> &Grant {
        &self.grant
    }
}
