//! The facts policy needs beyond the call itself: who proposed it, the fleet's burn, the
//! target's recent changes (from the store), taint and whether only idle workers go. Shared
//! by the daemon's propose path, the LLM planner's `explain_policy` tool and the LLM eval,
//! so every decision is made on the same facts.

use steward_memory::{Store, StoreError};
use steward_policies::{DecisionInput, Limits, Proposer, ProposerKind};
use steward_tools::{Observation, ValidatedCall};

const HOUR_MS: i64 = 3_600_000;

/// The facts about `validated`, proposed by `proposer`, from the store's history of the
/// target and the observation.
pub async fn decision_input(
    store: &Store,
    validated: &ValidatedCall,
    proposer: Proposer,
    tainted: bool,
    observation: &Observation,
    limits: &Limits,
    now: i64,
) -> Result<DecisionInput, StoreError> {
    let target = validated.call().target();
    let (last_change_ms, changes_last_hour) = store.change_history(target, now - HOUR_MS).await?;
    // Month-to-date spend only matters to a monthly budget, and only for a change that adds
    // capacity: read it from the store only then.
    let facts = validated.facts();
    let monthly = facts.budget.max_usd_per_month.is_some() || limits.monthly_budget_usd.is_some();
    let spent = if monthly && facts.cost_delta_per_hour() > 0.0 {
        let (month_start, _) = crate::time::month_bounds(now);
        store.cost_by_group(month_start, now + 1).await?
    } else {
        Vec::new()
    };
    Ok(DecisionInput {
        proposer,
        now_ms: now,
        hourly_burn_usd: observation.hourly_burn(),
        month_to_date_usd: spent.iter().map(|(_, usd)| usd).sum::<f64>(),
        group_month_to_date_usd: spent.iter().filter(|(g, _)| g == target).map(|(_, usd)| usd).sum::<f64>(),
        last_change_ms,
        changes_last_hour,
        tainted,
        idle_only: observation.terminates_only_idle(validated.call()),
    })
}

/// `planner:target-tracking` → the proposer it names (`person` when there is no kind).
pub fn parse_proposer(text: &str) -> Proposer {
    let (kind, name) = text.split_once(':').unwrap_or(("person", text));
    let kind = match kind {
        "planner" => ProposerKind::Planner,
        "model" => ProposerKind::Model,
        _ => ProposerKind::Person,
    };
    Proposer { kind, name: name.to_string() }
}
