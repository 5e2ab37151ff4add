//! The approval message in Block Kit: the call in plain words, the group, the capacity and
//! cost change per hour and per month, why policy wants approval, who proposed it and why,
//! and Approve/Reject buttons while it waits. The same message is rendered again for every
//! later state, so the channel always shows the truth.

use serde_json::{json, Value};
use steward_memory::{ProposalRecord, ProposalState};
use steward_tools::ToolCall;

/// Hours in an average month, for the monthly figure.
const HOURS_PER_MONTH: f64 = 730.0;

/// What the message shows beyond the proposal itself.
#[derive(Debug, Clone, Default)]
pub struct Shown {
    pub environment: String,
    pub approvals: u32,
    /// `(approver, decision, reason)`, in order.
    pub decisions: Vec<(String, String, String)>,
}

/// The call in plain words.
pub fn plain_words(call: &ToolCall) -> String {
    match call {
        ToolCall::ScaleGroup(s) if s.desired > s.current_desired => {
            format!("Scale *{}* out from {} to {} instances", s.group, s.current_desired, s.desired)
        }
        ToolCall::ScaleGroup(s) => {
            format!("Scale *{}* in from {} to {} instances", s.group, s.current_desired, s.desired)
        }
        ToolCall::ProvisionGpuWorkers(p) => {
            let what = match (&p.instance_type, p.market) {
                (Some(t), Some(m)) => format!(" `{t}` {}", m.as_str()),
                (Some(t), None) => format!(" `{t}`"),
                (None, Some(m)) => format!(" {}", m.as_str()),
                (None, None) => String::new(),
            };
            format!("Launch {}{what} GPU worker{} in *{}*", p.count, if p.count == 1 { "" } else { "s" }, p.pool)
        }
        ToolCall::TerminateWorkers(t) => format!(
            "Terminate {} instance{} of *{}*: {}",
            t.instance_ids.len(),
            if t.instance_ids.len() == 1 { "" } else { "s" },
            t.group,
            t.instance_ids.iter().map(|i| format!("`{i}`")).collect::<Vec<_>>().join(", ")
        ),
        ToolCall::MigrationStep(m) => format!(
            "Migration of *{}* ({}): {}{}",
            m.app,
            m.environment,
            escape(&m.to_string()),
            if m.data_at_risk { " — *data at risk*" } else { "" }
        ),
    }
}

fn capacity(call: &ToolCall) -> String {
    match call {
        ToolCall::ScaleGroup(s) => format!("{} → {}", s.current_desired, s.desired),
        ToolCall::ProvisionGpuWorkers(p) => format!("+{}", p.count),
        ToolCall::TerminateWorkers(t) => format!("−{}", t.instance_ids.len()),
        ToolCall::MigrationStep(m) => match m.downtime_minutes {
            0 => m.action.kind().to_string(),
            minutes => format!("{}, ~{minutes} min downtime", m.action.kind()),
        },
    }
}

/// Slack's mrkdwn treats `&`, `<` and `>` as markup: escape text from elsewhere.
pub fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

fn who(approver: &str) -> String {
    match approver.strip_prefix("slack:") {
        Some(id) => format!("<@{id}>"),
        None => escape(approver),
    }
}

/// The final line for a proposal that no longer waits.
fn outcome_line(p: &ProposalRecord, shown: &Shown) -> String {
    let approved_by: Vec<String> =
        shown.decisions.iter().filter(|(_, d, _)| d == "approve").map(|(a, _, _)| who(a)).collect();
    let outcome = p.outcome.as_deref().map(escape).unwrap_or_default();
    match p.state {
        ProposalState::Approved => {
            format!(":white_check_mark: Approved by {}; runs on the next tick", approved_by.join(", "))
        }
        ProposalState::Executing => {
            format!(":hourglass_flowing_sand: Approved by {}; executing", approved_by.join(", "))
        }
        ProposalState::Succeeded => format!(":white_check_mark: Executed: {outcome}"),
        ProposalState::Failed => format!(":x: Failed: {outcome}"),
        ProposalState::Rejected => {
            let (by, reason) = shown
                .decisions
                .iter()
                .find(|(_, d, _)| d == "reject")
                .map(|(a, _, r)| (who(a), escape(r)))
                .unwrap_or_default();
            format!(":no_entry: Rejected by {by}: {reason}")
        }
        ProposalState::Expired => ":alarm_clock: Expired: nobody decided in time".to_string(),
        ProposalState::Superseded => format!(":arrows_counterclockwise: Replaced: {outcome}"),
        ProposalState::Invalid => format!(":warning: No longer valid: {outcome}"),
        other => format!("{other}"),
    }
}

/// The message for proposal `p`: fallback text and blocks.
pub fn render(p: &ProposalRecord, shown: &Shown) -> (String, Value) {
    let words = plain_words(&p.call);
    let per_hour = p.cost_delta_per_hour;
    let text = format!("#{} needs approval: {}", p.id, p.call);
    let reasons = if p.reason_line().is_empty() { "policy asks for a person".to_string() } else { p.reason_line() };
    let rationale = if p.rationale.trim().is_empty() { "—".to_string() } else { p.rationale.clone() };
    let taint = if p.tainted { "\n:warning: Proposed after reading untrusted text." } else { "" };
    let mut blocks = vec![
        json!({ "type": "section", "text": { "type": "mrkdwn", "text": format!("*#{}* {}", p.id, words) } }),
        json!({ "type": "section", "fields": [
            { "type": "mrkdwn", "text": format!("*Group*\n{} ({})", escape(&p.target), escape(&shown.environment)) },
            { "type": "mrkdwn", "text": format!("*Capacity*\n{}", capacity(&p.call)) },
            { "type": "mrkdwn", "text": format!("*Cost*\n{:+.2} $/h · {:+.0} $/month", per_hour, per_hour * HOURS_PER_MONTH) },
            { "type": "mrkdwn", "text": format!("*Proposed by*\n{}", escape(&p.proposer)) },
        ] }),
        json!({ "type": "section", "text": { "type": "mrkdwn",
            "text": format!("*Why approval*: {}\n*Rationale*: {}{taint}", escape(&reasons), escape(&rationale)) } }),
    ];
    if p.state == ProposalState::PendingApproval {
        let expires = p.expires_ms.map(|e| format!(" · expires {} UTC", crate::time::hhmm(e))).unwrap_or_default();
        blocks.push(json!({ "type": "context", "elements": [
            { "type": "mrkdwn", "text": format!("{}/{} approvals{expires}", shown.approvals, p.approvals_required.max(1)) }
        ] }));
        let value = format!("{}:{}", p.id, p.call_hash);
        blocks.push(json!({ "type": "actions", "block_id": format!("proposal-{}", p.id), "elements": [
            { "type": "button", "action_id": "approve", "style": "primary", "value": value,
              "text": { "type": "plain_text", "text": "Approve" } },
            { "type": "button", "action_id": "reject", "style": "danger", "value": value,
              "text": { "type": "plain_text", "text": "Reject" } },
        ] }));
    } else {
        blocks.push(json!({ "type": "section", "text": { "type": "mrkdwn", "text": outcome_line(p, shown) } }));
    }
    (text, Value::Array(blocks))
}
