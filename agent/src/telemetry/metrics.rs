//! The daemon's metrics, rendered in the Prometheus text format at `GET /metrics`.
//!
//! Counters and gauges are plain atomics; the typed events in `daemon::events` are the
//! only writers, so a log line and its metric cannot disagree.

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};

#[derive(Debug, Default)]
pub struct Gauge(AtomicU64);

impl Gauge {
    pub fn set(&self, value: f64) {
        self.0.store(value.to_bits(), Ordering::Relaxed);
    }

    pub fn get(&self) -> f64 {
        f64::from_bits(self.0.load(Ordering::Relaxed))
    }
}

#[derive(Debug, Default)]
pub struct Counter(AtomicU64);

impl Counter {
    pub fn inc(&self) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }

    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }

    pub fn add(&self, n: u64) {
        self.0.fetch_add(n, Ordering::Relaxed);
    }
}

pub const DECISIONS: [&str; 4] = ["allow", "needs_approval", "deny", "invalid"];
pub const OUTCOMES: [&str; 3] = ["succeeded", "failed", "retried"];
pub const SLACK_API: [&str; 3] = ["posted", "updated", "failed"];
pub const SLACK_REFUSALS: [&str; 5] = ["too_large", "missing_headers", "stale", "bad_signature", "replayed"];
pub const EPISODE_ENDS: [&str; 6] =
    ["answered", "turn_limit", "token_limit", "time_limit", "rejected_twice", "endpoint_failed"];

#[derive(Debug, Default)]
pub struct Metrics {
    pub ticks: Counter,
    pub tick_seconds_sum: Gauge,
    pub tick_seconds_last: Gauge,
    pub observe_errors: Counter,
    pub proposals: [Counter; 4],
    pub actions: [Counter; 3],
    pub pending_approvals: Gauge,
    pub hourly_burn: Gauge,
    pub paused: Gauge,
    pub llm_episodes: [Counter; 6],
    pub llm_prompt_tokens: Counter,
    pub llm_completion_tokens: Counter,
    pub llm_requests: Counter,
    pub llm_rejected_calls: Counter,
    pub llm_proposals: Counter,
    pub slack_accepted: Counter,
    pub slack_refused: [Counter; 5],
    pub slack_refused_clicks: Counter,
    pub slack_api: [Counter; 3],
    pub provider_api_calls: Gauge,
    /// The GPU pool families, rendered from the latest observation ([`super::pools`]).
    pub pools: std::sync::Mutex<String>,
}

impl Metrics {
    pub fn proposal(&self, decision: &str) {
        if let Some(i) = DECISIONS.iter().position(|d| *d == decision) {
            self.proposals[i].inc();
        }
    }

    pub fn action(&self, outcome: &str) {
        if let Some(i) = OUTCOMES.iter().position(|o| *o == outcome) {
            self.actions[i].inc();
        }
    }

    pub fn llm_episode(&self, ended: &str, usage: &steward_llm::Usage, rejected: u64, proposals: u64) {
        if let Some(i) = EPISODE_ENDS.iter().position(|e| *e == ended) {
            self.llm_episodes[i].inc();
        }
        self.llm_prompt_tokens.add(usage.prompt_tokens);
        self.llm_completion_tokens.add(usage.completion_tokens);
        self.llm_requests.add(usage.requests);
        self.llm_rejected_calls.add(rejected);
        self.llm_proposals.add(proposals);
    }

    pub fn slack_request(&self, refusal: Option<&str>) {
        match refusal {
            None => self.slack_accepted.inc(),
            Some(reason) => {
                if let Some(i) = SLACK_REFUSALS.iter().position(|r| *r == reason) {
                    self.slack_refused[i].inc();
                }
            }
        }
    }

    pub fn slack_refused_click(&self) {
        self.slack_refused_clicks.inc();
    }

    pub fn slack_api(&self, outcome: &str) {
        if let Some(i) = SLACK_API.iter().position(|o| *o == outcome) {
            self.slack_api[i].inc();
        }
    }

    pub fn tick(&self, seconds: f64) {
        self.ticks.inc();
        self.tick_seconds_last.set(seconds);
        self.tick_seconds_sum.set(self.tick_seconds_sum.get() + seconds);
    }

    /// The Prometheus text exposition format, version 0.0.4.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let mut metric = |name: &str, kind: &str, help: &str, samples: &[(String, String)]| {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
            for (suffix, value) in samples {
                let _ = writeln!(out, "{name}{suffix} {value}");
            }
        };
        let one = |value: String| [(String::new(), value)];
        metric("steward_ticks_total", "counter", "Ticks run.", &one(self.ticks.get().to_string()));
        metric(
            "steward_tick_duration_seconds",
            "summary",
            "Time spent in ticks (observe, plan, decide, execute).",
            &[
                ("_sum".to_string(), self.tick_seconds_sum.get().to_string()),
                ("_count".to_string(), self.ticks.get().to_string()),
            ],
        );
        metric(
            "steward_last_tick_duration_seconds",
            "gauge",
            "Duration of the most recent tick.",
            &one(self.tick_seconds_last.get().to_string()),
        );
        metric(
            "steward_observe_errors_total",
            "counter",
            "Ticks whose observation failed or was incomplete.",
            &one(self.observe_errors.get().to_string()),
        );
        let labelled = |label: &str, names: &[&str], counters: &[Counter]| -> Vec<(String, String)> {
            names
                .iter()
                .zip(counters)
                .map(|(name, counter)| (format!("{{{label}=\"{name}\"}}"), counter.get().to_string()))
                .collect()
        };
        metric(
            "steward_proposals_total",
            "counter",
            "Proposals by decision.",
            &labelled("decision", &DECISIONS, &self.proposals),
        );
        metric(
            "steward_actions_total",
            "counter",
            "Executed actions by outcome (retried: an attempt that will be tried again).",
            &labelled("outcome", &OUTCOMES, &self.actions),
        );
        metric(
            "steward_pending_approvals",
            "gauge",
            "Proposals waiting for approval.",
            &one(self.pending_approvals.get().to_string()),
        );
        metric(
            "steward_hourly_burn_usd",
            "gauge",
            "Hourly burn of managed capacity, USD.",
            &one(format!("{:.4}", self.hourly_burn.get())),
        );
        metric("steward_paused", "gauge", "1 while the kill switch is on.", &one(self.paused.get().to_string()));
        metric(
            "steward_provider_api_calls",
            "gauge",
            "Cloud API calls the last observation made (inventory pages and metric batches).",
            &one(self.provider_api_calls.get().to_string()),
        );
        metric(
            "steward_llm_episodes_total",
            "counter",
            "LLM planner episodes by how they ended.",
            &labelled("ended", &EPISODE_ENDS, &self.llm_episodes),
        );
        metric(
            "steward_llm_tokens_total",
            "counter",
            "Tokens the LLM planner spent.",
            &[
                ("{kind=\"prompt\"}".to_string(), self.llm_prompt_tokens.get().to_string()),
                ("{kind=\"completion\"}".to_string(), self.llm_completion_tokens.get().to_string()),
            ],
        );
        metric(
            "steward_llm_requests_total",
            "counter",
            "Requests to the model endpoint.",
            &one(self.llm_requests.get().to_string()),
        );
        metric(
            "steward_llm_rejected_calls_total",
            "counter",
            "Tool calls from the model rejected by validation.",
            &one(self.llm_rejected_calls.get().to_string()),
        );
        metric(
            "steward_llm_proposals_total",
            "counter",
            "Proposals the LLM planner filed.",
            &one(self.llm_proposals.get().to_string()),
        );
        metric(
            "steward_slack_requests_accepted_total",
            "counter",
            "Requests from Slack that passed verification.",
            &one(self.slack_accepted.get().to_string()),
        );
        metric(
            "steward_slack_requests_refused_total",
            "counter",
            "Requests claiming to come from Slack that were refused, by reason.",
            &labelled("reason", &SLACK_REFUSALS, &self.slack_refused),
        );
        metric(
            "steward_slack_refused_decisions_total",
            "counter",
            "Approvals or rejections from Slack users who may not decide.",
            &one(self.slack_refused_clicks.get().to_string()),
        );
        metric(
            "steward_slack_messages_total",
            "counter",
            "Approval messages posted, updated, or failed to post or update.",
            &labelled("outcome", &SLACK_API, &self.slack_api),
        );
        out.push_str(&self.pools.lock().unwrap_or_else(|e| e.into_inner()));
        out
    }
}
