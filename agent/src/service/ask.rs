//! Questions to the LLM planner (`steward ask`, `/steward ask`) and planning a Heroku app's
//! move (`steward migrate`): one bounded episode against the daemon's newest observation.
//! Whatever the model proposes is filed for the daemon's propose path, remembering who
//! asked (who therefore may not approve it).

use std::sync::Arc;

use serde_json::json;
use steward_llm::{run_episode, EpisodeReport, LlmClient, Trigger};
use steward_memory::ProposalRecord;

use super::caller::Caller;
use super::core::Service;
use super::error::ServiceError;
use super::proposals::Filing;
use crate::fleet_tools::{briefing, proposer_of, record, FleetTools};
use crate::identity::Operation;

/// Longest question accepted, characters.
pub const MAX_QUESTION: usize = 2_000;

/// What one consultation produced.
#[derive(Debug, Clone)]
pub struct Consulted {
    pub episode: i64,
    pub report: EpisodeReport,
    pub filed: Vec<ProposalRecord>,
}

impl Consulted {
    /// Whether the model answered at all.
    pub fn answered(&self) -> bool {
        !matches!(self.report.ended, steward_llm::Ended::EndpointFailed(_))
    }

    /// For people: the answer, what was filed and rejected, and what it cost.
    pub fn text(&self) -> String {
        let mut out = self.report.answer.clone().unwrap_or_else(|| "(the model gave no answer in words)".into());
        for p in &self.filed {
            let taint = if p.tainted { "; it read untrusted text, so a person must approve it" } else { "" };
            out.push_str(&format!(
                "\n\nFiled proposal #{}: {}{taint}. The daemon validates and decides it on its next tick.",
                p.id, p.call
            ));
        }
        for r in &self.report.rejected {
            out.push_str(&format!("\n\nRejected the model's {} call: {}", r.tool, r.error));
        }
        out.push_str(&format!(
            "\n\n(episode #{}: {}, {} turns, {} tokens)",
            self.episode,
            self.report.ended.as_str().replace('_', " "),
            self.report.turns,
            self.report.usage.total_tokens()
        ));
        out
    }

    /// For scripts.
    pub fn json(&self) -> serde_json::Value {
        let filed: Vec<_> =
            self.filed.iter().map(|p| json!({ "id": p.id, "call": p.call, "tainted": p.tainted })).collect();
        json!({ "episode": self.episode, "report": self.report, "filed": filed })
    }
}

impl Service {
    /// Ask the LLM planner a question as the caller proves to be.
    pub async fn ask(&self, caller: &Caller, question: &str) -> Result<Consulted, ServiceError> {
        let question = question.trim();
        if question.is_empty() || question.chars().count() > MAX_QUESTION {
            return Err(ServiceError::BadInput(format!("the question must be 1 to {MAX_QUESTION} characters")));
        }
        let identity = self.identify(caller, &Operation::Ask { question: question.to_string() })?;
        let trigger = Trigger::Question { text: question.to_string(), asked_by: identity.name.clone() };
        self.consult(trigger, &identity.name).await
    }

    /// Ask the LLM planner to plan moving `app` off Heroku from its description (`heroku
    /// apps:info --json`, with `formation` and `config_vars` when present); config values
    /// are dropped before anything reaches the model.
    pub async fn plan_migration(
        &self,
        caller: &Caller,
        app: &str,
        description: &str,
    ) -> Result<Consulted, ServiceError> {
        let described = describe_app(app, description)?;
        let identity = self.identify(caller, &Operation::Ask { question: format!("migrate {app}") })?;
        let trigger = Trigger::Migration { app: app.to_string(), detail: described.to_string() };
        self.consult(trigger, &identity.name).await
    }

    /// One episode about `trigger` against the daemon's newest observation; proposals are
    /// filed (state `proposed`) for the daemon to decide, with `who` as the requester.
    pub async fn consult(&self, trigger: Trigger, who: &str) -> Result<Consulted, ServiceError> {
        let Some(llm) = &self.config().llm else {
            return Err(ServiceError::Unavailable(
                "the LLM planner is not configured: set STEWARD_LLM_MODEL (with OPENAI_BASE_URL and OPENAI_API_KEY) or [llm] model in the config".into(),
            ));
        };
        let observation = self.observation().await?;
        let client = LlmClient::new(llm.settings.clone()).map_err(|e| ServiceError::Config(anyhow::Error::from(e)))?;
        let guardrails = Arc::new(self.guardrails()?);
        let tools =
            FleetTools { observation, store: self.store().clone(), guardrails, model: llm.settings.model.clone() };
        let briefing = briefing(&tools, &trigger).await?;
        let started = self.now_ms().await?;
        let report = run_episode(&client, &tools, trigger, &briefing).await;
        let episode = record(self.store(), &report, started).await?;
        let mut filed = Vec::new();
        for p in &report.proposals {
            let filing = Filing {
                call: p.call.clone(),
                proposer: proposer_of(&report),
                rationale: format!("{} (asked by {who}; LLM episode #{episode})", p.rationale),
                tainted: report.tainted,
                rollback_of: None,
                requested_by: Some(who.to_string()),
            };
            filed.push(self.file(filing).await?);
        }
        Ok(Consulted { episode, report, filed })
    }
}

/// What of a Heroku app description reaches the model: its shape, never a config value.
pub fn describe_app(app: &str, text: &str) -> Result<serde_json::Value, ServiceError> {
    let v: serde_json::Value =
        serde_json::from_str(text).map_err(|e| ServiceError::BadInput(format!("not JSON: {e}")))?;
    let root = if v["app"].is_object() { &v["app"] } else { &v };
    let name_of = |x: &serde_json::Value| x["name"].as_str().or_else(|| x.as_str()).map(str::to_string);
    let formation: Vec<serde_json::Value> = v["formation"]
        .as_array()
        .or_else(|| v["dynos"].as_array())
        .map(|list| {
            list.iter().map(|d| json!({ "type": d["type"], "quantity": d["quantity"], "size": d["size"] })).collect()
        })
        .unwrap_or_default();
    let addons: Vec<String> = v["addons"]
        .as_array()
        .map(|list| list.iter().filter_map(|a| name_of(&a["plan"]).or_else(|| name_of(a))).collect())
        .unwrap_or_default();
    let config_var_names: Vec<String> =
        v["config_vars"].as_object().map(|m| m.keys().cloned().collect()).unwrap_or_default();
    Ok(json!({
        "app": app,
        "name_in_file": name_of(root),
        "region": name_of(&root["region"]),
        "stack": name_of(&root["stack"]),
        "formation": formation,
        "addons": addons,
        "config_var_names": config_var_names,
    }))
}
