//! `steward ask "QUESTION"`: the LLM planner answers from the read-only tools, against the
//! daemon's newest observation; a change it proposes is filed as a proposal that the daemon
//! validates and decides on its next tick, like any other.

use std::sync::Arc;

use anyhow::Context;
use serde_json::json;
use steward_llm::{run_episode, Ended, LlmClient, Trigger};
use steward_memory::control::keys;
use steward_memory::{NewProposal, Store};
use steward_tools::Observation;

use super::BadInput;
use crate::config::Config;
use crate::llm::{briefing, proposer_of, record, FleetTools};

/// Longest question accepted, characters.
const MAX_QUESTION: usize = 2_000;

/// The daemon's newest observation, from the store.
pub async fn latest_observation(store: &Store) -> anyhow::Result<Option<Observation>> {
    let Some(text) = store.control(keys::LATEST_OBSERVATION).await? else { return Ok(None) };
    Ok(Some(serde_json::from_str(&text).context("the stored observation is unreadable")?))
}

/// Ask; `Ok(false)` when the model could not answer (exit 1).
pub async fn ask(config: &Config, store: &Store, question: &str, who: &str, json: bool) -> anyhow::Result<bool> {
    let question = question.trim();
    if question.is_empty() || question.chars().count() > MAX_QUESTION {
        return Err(BadInput(format!("the question must be 1 to {MAX_QUESTION} characters")).into());
    }
    let trigger = Trigger::Question { text: question.to_string(), asked_by: who.to_string() };
    consult(config, store, trigger, who, json).await
}

/// Largest app description `steward migrate` reads.
const MAX_APP_FILE: u64 = 1 << 20;

/// What of a Heroku app description reaches the model: its shape, never a config value.
pub fn describe_app(app: &str, text: &str) -> Result<serde_json::Value, String> {
    let v: serde_json::Value = serde_json::from_str(text).map_err(|e| format!("not JSON: {e}"))?;
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

/// `steward migrate APP --from FILE`: the model plans moving an app off Heroku from its
/// description (`heroku apps:info --json`, with `formation` and `config_vars` when
/// present); config values are dropped before anything reaches the model.
pub async fn migrate(
    config: &Config,
    store: &Store,
    app: &str,
    file: &std::path::Path,
    who: &str,
    json: bool,
) -> anyhow::Result<bool> {
    let size = std::fs::metadata(file).with_context(|| format!("reading {}", file.display()))?.len();
    if size > MAX_APP_FILE {
        return Err(BadInput(format!("{}: larger than 1 MiB; give the app's description only", file.display())).into());
    }
    let text = std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?;
    let described = describe_app(app, &text).map_err(|e| BadInput(format!("{}: {e}", file.display())))?;
    let trigger = Trigger::Migration { app: app.to_string(), detail: described.to_string() };
    consult(config, store, trigger, who, json).await
}

/// What one consultation produced.
pub struct Consulted {
    pub episode: i64,
    pub report: steward_llm::EpisodeReport,
    pub filed: Vec<steward_memory::ProposalRecord>,
}

impl Consulted {
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
}

/// One episode about `trigger` against the daemon's newest observation; proposals are
/// filed (state `proposed`) for the daemon to decide. `who` is recorded as the requester.
pub async fn consult_once(config: &Config, store: &Store, trigger: Trigger, who: &str) -> anyhow::Result<Consulted> {
    let Some(llm) = &config.llm else {
        anyhow::bail!(
            "the LLM planner is not configured: set STEWARD_LLM_MODEL (with OPENAI_BASE_URL and OPENAI_API_KEY) or [llm] model in the config"
        );
    };
    let Some(observation) = latest_observation(store).await? else {
        anyhow::bail!("no observation in the store yet: start the daemon (`steward run`) first");
    };
    let client = LlmClient::new(llm.settings.clone()).map_err(anyhow::Error::msg)?;
    let guardrails = Arc::new(crate::daemon::load_guardrails(&super::run::with_demo_freeze(config.clone()))?);
    let tools = FleetTools { observation, store: store.clone(), guardrails, model: llm.settings.model.clone() };
    let briefing = briefing(&tools, &trigger).await?;
    let started = super::now_ms(store).await?;
    let report = run_episode(&client, &tools, trigger, &briefing).await;
    let episode = record(store, &report, started).await?;
    let mut filed = Vec::new();
    for p in &report.proposals {
        let new = NewProposal {
            at_ms: started,
            call: p.call.clone(),
            proposer: proposer_of(&report),
            rationale: format!("{} (asked by {who}; LLM episode #{episode})", p.rationale),
            tainted: report.tainted,
            rollback_of: None,
            requested_by: Some(who.to_string()),
        };
        filed.push(store.insert_proposal(&new).await?);
    }
    Ok(Consulted { episode, report, filed })
}

async fn consult(config: &Config, store: &Store, trigger: Trigger, who: &str, json: bool) -> anyhow::Result<bool> {
    let c = consult_once(config, store, trigger, who).await?;
    let answered = !matches!(c.report.ended, Ended::EndpointFailed(_));
    if json {
        let filed: Vec<_> =
            c.filed.iter().map(|p| json!({ "id": p.id, "call": p.call, "tainted": p.tainted })).collect();
        println!(
            "{}",
            serde_json::to_string_pretty(&json!({ "episode": c.episode, "report": c.report, "filed": filed }))?
        );
        return Ok(answered);
    }
    if let Ended::EndpointFailed(e) = &c.report.ended {
        eprintln!("error: the model did not answer: {e}");
        return Ok(false);
    }
    println!("{}", c.text());
    Ok(true)
}
