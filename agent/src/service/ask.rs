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

    /// Ask the LLM planner to explain the typed plan for moving `app` off Heroku. The plan
    /// comes from the typed planner; the model reads it (and may read it again with its
    /// `plan_migration` tool) and explains it. Only the plan's shape reaches the model:
    /// config var names, never their values.
    pub async fn explain_migration(
        &self,
        caller: &Caller,
        app: &str,
        view: &super::migrations::PlanView,
    ) -> Result<Consulted, ServiceError> {
        let identity = self.identify(caller, &Operation::Ask { question: format!("explain migrating {app}") })?;
        let steps: Vec<String> = view.plan.calls(1).iter().map(ToString::to_string).collect();
        let detail = json!({ "steps": steps, "notes": view.plan.notes, "blockers": view.plan.blockers });
        let trigger = Trigger::Migration { app: app.to_string(), detail: detail.to_string() };
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
        // Explaining a migration needs no fleet; anything else does.
        let observation = match (self.latest_observation().await?, &trigger) {
            (Some(seen), _) => seen,
            (None, Trigger::Migration { .. }) => {
                steward_tools::Observation { at_ms: self.now_ms().await?, groups: Vec::new(), complete: true }
            }
            (None, _) => self.observation().await?,
        };
        let client = LlmClient::new(llm.settings.clone()).map_err(|e| ServiceError::Config(anyhow::Error::from(e)))?;
        let guardrails = Arc::new(self.guardrails()?);
        let tools = FleetTools {
            observation,
            store: self.store().clone(),
            guardrails,
            model: llm.settings.model.clone(),
            migrations: Some(crate::migration::planning(self.config())),
        };
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
