//! Typed events: each one writes the log line, bumps the metric and prints the console line
//! from one place, so they cannot disagree.
//!
//! Console lines (human mode, on stdout) are for a person watching `steward run`; log lines
//! (tracing, on stderr, or JSON on stdout with `--log-format json`) are for machines.

use std::collections::HashSet;
use std::sync::Mutex;

use steward_memory::ProposalRecord;
use steward_policies::{Decision, Verdict};
use steward_tools::provider::ActionReceipt;
use steward_tools::Observation;

use super::metrics::Metrics;
use crate::time::hhmm;

#[derive(Debug, Default)]
pub struct Telemetry {
    pub metrics: Metrics,
    console: bool,
    /// Proposals already reported as held, with the reason: a paused daemon says so once
    /// per proposal, not every tick.
    held: Mutex<HashSet<(i64, String)>>,
    /// Set once writing to the console failed.
    console_gone: std::sync::atomic::AtomicBool,
}

impl Telemetry {
    pub fn new(console: bool) -> Telemetry {
        Telemetry { metrics: Metrics::default(), console, held: Mutex::default(), console_gone: Default::default() }
    }

    fn say(&self, at_ms: i64, text: &str) {
        self.console_line(&format!("{}  {text}", hhmm(at_ms)));
    }

    /// A line on the console (human mode). A console that went away (a closed pipe) is not
    /// the daemon's problem: the line is dropped, the daemon goes on, and it says so once.
    pub fn console_line(&self, text: &str) {
        use std::io::Write;
        if !self.console || self.console_gone.load(std::sync::atomic::Ordering::Relaxed) {
            return;
        }
        let mut out = std::io::stdout().lock();
        if writeln!(out, "{text}").and_then(|()| out.flush()).is_err() {
            self.console_gone.store(true, std::sync::atomic::Ordering::Relaxed);
            tracing::warn!("The console's output closed; the tick report stops, the daemon goes on.");
        }
    }

    pub fn observed(&self, o: &Observation) {
        let burn = o.hourly_burn();
        self.metrics.hourly_burn.set(burn);
        *self.metrics.pools.lock().unwrap_or_else(|e| e.into_inner()) = super::pools::render(o);
        let groups: Vec<String> = o
            .groups
            .iter()
            .map(|g| {
                let load = match (g.cpu_percent, g.queue_depth) {
                    (Some(cpu), _) => format!(" cpu {cpu:.0}%"),
                    (None, Some(q)) => format!(" queue {q}"),
                    _ => String::new(),
                };
                let pending = if g.pending() > 0 { format!("+{}", g.pending()) } else { String::new() };
                format!("{} {}{}/{}{load}", g.name, g.running(), pending, g.desired)
            })
            .collect();
        let partial = if o.complete { "" } else { " (incomplete: nothing is removed this tick)" };
        tracing::debug!(groups = o.groups.len(), hourly_burn = burn, complete = o.complete, "Observed the fleet.");
        self.say(o.at_ms, &format!("observe  {} · ${burn:.2}/h{partial}", groups.join(" · ")));
        if !o.complete {
            self.metrics.observe_errors.inc();
        }
    }

    pub fn observe_failed(&self, at_ms: i64, error: &str) {
        self.metrics.observe_errors.inc();
        tracing::warn!(error, "Observation failed; the tick is skipped and nothing is executed.");
        self.say(at_ms, &format!("observe  failed: {error}; skipping this tick"));
    }

    pub fn proposed(&self, p: &ProposalRecord, cost_delta: Option<f64>) {
        let cost = cost_delta.map_or_else(String::new, |c| format!(" ({c:+.2} $/h)"));
        tracing::info!(proposal = p.id, call = %p.call, proposer = %p.proposer, rationale = %p.rationale, "Proposal made.");
        self.say(p.created_ms, &format!("propose  #{} {}{cost} by {}: {}", p.id, p.call, p.proposer, p.rationale));
    }

    pub fn invalid(&self, at_ms: i64, id: i64, error: &str) {
        self.metrics.proposal("invalid");
        tracing::warn!(proposal = id, error, "Proposal is invalid; it will not run.");
        self.say(at_ms, &format!("invalid  #{id}: {error}"));
    }

    /// `next` says what happens now: "runs now", "queued (expires 08:03)", "dry-run".
    pub fn decided(&self, at_ms: i64, id: i64, decision: &Decision, next: &str) {
        self.metrics.proposal(decision.verdict.kind());
        let reasons = decision.reason_line();
        match decision.verdict {
            Verdict::Deny => tracing::info!(proposal = id, decision = "deny", reasons, "Proposal denied by policy."),
            _ => tracing::info!(proposal = id, decision = decision.verdict.kind(), reasons, next, "Proposal decided."),
        }
        self.say(at_ms, &format!("decide   #{id} {decision} → {next}"));
        if let Some(shadow) = &decision.shadow {
            let ids: Vec<&str> = shadow.reasons.iter().map(|r| r.policy.as_str()).collect();
            tracing::info!(proposal = id, would_be = %shadow.would_be, policies = ?ids, "Shadow policy would decide otherwise.");
            self.say(at_ms, &format!("shadow   #{id} would be {} by {}", shadow.would_be, ids.join(", ")));
        }
    }

    pub fn executed(&self, at_ms: i64, id: i64, receipt: &ActionReceipt) {
        self.metrics.action("succeeded");
        tracing::info!(proposal = id, action_id = %receipt.action_id, summary = %receipt.summary, "Action executed and verified.");
        self.say(at_ms, &format!("execute  #{id} done: {} (verified)", receipt.summary));
    }

    pub fn failed(&self, at_ms: i64, id: i64, error: &str) {
        self.metrics.action("failed");
        tracing::error!(proposal = id, error, "Action failed; an operator should look at it.");
        self.say(at_ms, &format!("execute  #{id} failed: {error}"));
    }

    /// A call the cloud refused for now (throttled, unreachable, out of capacity): tried
    /// again at `retry_at_ms` with the same action id.
    pub fn retrying(&self, at_ms: i64, id: i64, attempt: u32, error: &str, retry_at_ms: i64) {
        self.metrics.action("retried");
        tracing::warn!(
            proposal = id,
            attempt,
            error,
            retry_at_ms,
            "Action failed for now; it is retried with the same action id."
        );
        self.say(at_ms, &format!("retry    #{id}: attempt {attempt} failed ({error}); again at {}", hhmm(retry_at_ms)));
    }

    /// A proposal left the queue or the pipeline without running.
    pub fn ended(&self, at_ms: i64, id: i64, state: &str, why: &str) {
        tracing::info!(proposal = id, state, why, "Proposal ended without running.");
        self.say(at_ms, &format!("{state:<8} #{id}: {why}"));
    }

    pub fn held(&self, at_ms: i64, id: i64, why: &str) {
        let first = self.held.lock().map(|mut seen| seen.insert((id, why.to_string()))).unwrap_or(true);
        if first {
            tracing::info!(proposal = id, why, "Approved action held back.");
            self.say(at_ms, &format!("hold     #{id}: {why}"));
        } else {
            tracing::debug!(proposal = id, why, "Approved action still held back.");
        }
    }

    pub fn episode_started(&self, at_ms: i64, trigger: &steward_llm::Trigger) {
        let summary = trigger.summary();
        tracing::info!(trigger = trigger.kind(), summary, "Consulting the LLM planner.");
        self.say(at_ms, &format!("llm      consulting the model: {summary}"));
    }

    pub fn episode(&self, at_ms: i64, id: i64, r: &steward_llm::EpisodeReport) {
        self.metrics.llm_episode(r.ended.as_str(), &r.usage, r.rejected.len() as u64, r.proposals.len() as u64);
        tracing::info!(
            episode = id,
            ended = r.ended.as_str(),
            turns = r.turns,
            prompt_tokens = r.usage.prompt_tokens,
            completion_tokens = r.usage.completion_tokens,
            proposals = r.proposals.len(),
            rejected = r.rejected.len(),
            tainted = r.tainted,
            "LLM episode recorded."
        );
        let ended = match &r.ended {
            steward_llm::Ended::EndpointFailed(e) => format!("endpoint failed ({e})"),
            other => other.as_str().replace('_', " "),
        };
        let taint = if r.tainted { ", tainted" } else { "" };
        self.say(
            at_ms,
            &format!(
                "llm      episode #{id} {ended}: {} turns, {} tokens, {} proposals, {} rejected{taint}",
                r.turns,
                r.usage.total_tokens(),
                r.proposals.len(),
                r.rejected.len()
            ),
        );
    }

    pub fn note(&self, at_ms: i64, text: &str) {
        tracing::info!(note = text, "Daemon note.");
        self.say(at_ms, text);
    }
}
