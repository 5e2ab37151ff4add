//! The fleet as the LLM planner sees it, shared by the daemon's advisor, `steward ask` and
//! the LLM eval: answering
//! the read-only tools from the observation, the store and the guardrails; the briefing the
//! model starts from; and remembering an episode with its audit entries.
//!
//! Taint is decided here, per answer: numbers from metrics and cost are trusted; free text
//! (tags, names that are not plain identifiers, the words of a model or a person) is not.

use std::sync::Arc;

use async_trait::async_trait;
use serde_json::{json, Value};
use steward_llm::{Briefing, EpisodeReport, EpisodeTools, ToolAnswer, ToolError, Trigger};
use steward_memory::{EpisodeRow, NewEntry, ProposalRecord, Store, StoreError};
use steward_policies::{Guardrails, Proposer, ProposerKind};
use steward_tools::read::{GetCost, GetMetrics, RecentActions};
use steward_tools::{validate, Observation, ReadTool, ToolCall};

const MINUTE_MS: i64 = 60_000;
/// Most groups one answer lists.
const MAX_GROUPS: usize = 40;
/// Most samples one metrics answer holds.
const MAX_SAMPLES: usize = 30;

/// A name that cannot carry instructions: a short plain identifier.
pub fn plain_identifier(text: &str) -> bool {
    !text.is_empty()
        && text.len() <= 64
        && text.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ':'))
}

/// Answers the model's read-only tools for one observation.
pub struct FleetTools {
    pub observation: Observation,
    pub store: Store,
    pub guardrails: Arc<Guardrails>,
    pub model: String,
    /// Where `plan_migration` reads apps from, and how it plans them.
    pub migrations: Option<MigrationPlanning>,
}

/// What `plan_migration` needs: the Heroku account and the planner's options.
#[derive(Clone)]
pub struct MigrationPlanning {
    pub heroku: Arc<dyn steward_heroku::HerokuSource>,
    pub options: steward_migrate::PlanOptions,
}

impl FleetTools {
    /// The fleet, compactly: small models have small context windows, and every token is
    /// paid for. At most [`MAX_GROUPS`] groups (the costliest first, the trigger's target
    /// always), absent figures left out, at most ten idle worker ids per pool.
    fn list_groups(&self, first: Option<&str>) -> ToolAnswer {
        let mut untrusted = false;
        let mut groups: Vec<&steward_tools::GroupSnapshot> = self.observation.groups.iter().collect();
        groups.sort_by(|a, b| {
            let pinned = |g: &steward_tools::GroupSnapshot| Some(g.name.as_str()) == first;
            pinned(b).cmp(&pinned(a)).then(b.hourly_burn().total_cmp(&a.hourly_burn())).then(a.name.cmp(&b.name))
        });
        let omitted = groups.len().saturating_sub(MAX_GROUPS);
        let rows: Vec<Value> = groups
            .into_iter()
            .take(MAX_GROUPS)
            .map(|g| {
                untrusted |= !g.tags.is_empty() || !plain_identifier(&g.name);
                let mut row = serde_json::Map::new();
                row.insert("name".into(), json!(g.name));
                row.insert("kind".into(), json!(g.kind.as_str()));
                row.insert("environment".into(), json!(g.environment.as_str()));
                row.insert("instance_type".into(), json!(g.instance_type));
                row.insert("min".into(), json!(g.min));
                row.insert("max".into(), json!(g.max));
                row.insert("desired".into(), json!(g.desired));
                row.insert("running".into(), json!(g.running()));
                if g.pending() > 0 {
                    row.insert("pending".into(), json!(g.pending()));
                }
                if let Some(cpu) = g.cpu_percent {
                    row.insert("cpu_percent".into(), json!(cpu.round()));
                }
                if let Some(rpm) = g.requests_per_minute {
                    row.insert("requests_per_minute".into(), json!(rpm.round()));
                }
                if let Some(q) = g.queue_depth {
                    row.insert("queue_depth".into(), json!(q));
                }
                if g.kind == steward_tools::GroupKind::GpuPool {
                    let idle: Vec<&str> =
                        g.instances.iter().filter(|i| i.managed && !i.busy).map(|i| i.id.as_str()).collect();
                    row.insert("busy_workers".into(), json!(g.instances.iter().filter(|i| i.busy).count()));
                    row.insert("idle_worker_ids".into(), json!(idle.iter().take(10).collect::<Vec<_>>()));
                }
                row.insert("hourly_burn_usd".into(), json!((g.hourly_burn() * 100.0).round() / 100.0));
                if !g.tags.is_empty() {
                    row.insert("tags".into(), json!(g.tags));
                }
                Value::Object(row)
            })
            .collect();
        let mut data = json!({ "at": crate::time::full(self.observation.at_ms), "groups": rows });
        if !self.observation.complete {
            data["incomplete"] = json!("part of the fleet did not answer");
        }
        if omitted > 0 {
            data["groups_omitted"] = json!(omitted);
        }
        ToolAnswer { data, untrusted }
    }

    async fn metrics(&self, m: &GetMetrics) -> Result<ToolAnswer, ToolError> {
        if self.observation.group(&m.group).is_none() {
            return Err(ToolError(format!("unknown group `{}`", m.group)));
        }
        let now = self.observation.at_ms;
        let rows = self
            .store
            .observations(&m.group, now - i64::from(m.minutes) * MINUTE_MS, now)
            .await
            .map_err(|e| ToolError(format!("the store did not answer: {e}")))?;
        // Thin longer windows evenly, newest sample always in.
        let step = rows.len().div_ceil(MAX_SAMPLES).max(1);
        let picked = rows.iter().rev().step_by(step).collect::<Vec<_>>().into_iter().rev();
        let samples: Vec<Value> = picked
            .map(|r| {
                let mut row = serde_json::Map::new();
                row.insert("at".into(), json!(crate::time::hhmm(r.at_ms)));
                row.insert("desired".into(), json!(r.desired));
                row.insert("running".into(), json!(r.running));
                if let Some(cpu) = r.cpu_percent {
                    row.insert("cpu".into(), json!(cpu.round()));
                }
                if let Some(rpm) = r.requests {
                    row.insert("rpm".into(), json!(rpm.round()));
                }
                if let Some(q) = r.queue_depth {
                    row.insert("queue".into(), json!(q));
                }
                Value::Object(row)
            })
            .collect();
        let every = format!("{} min", step);
        Ok(ToolAnswer::trusted(json!({ "group": m.group, "every": every, "samples": samples })))
    }

    async fn cost(&self, c: &GetCost) -> Result<ToolAnswer, ToolError> {
        let now = self.observation.at_ms;
        let groups: Vec<_> =
            self.observation.groups.iter().filter(|g| c.group.as_deref().is_none_or(|name| g.name == name)).collect();
        if groups.is_empty() {
            return Err(ToolError(format!("unknown group `{}`", c.group.as_deref().unwrap_or_default())));
        }
        let day_start = now - now.rem_euclid(86_400_000);
        let today = self.store.cost_by_group(day_start, now + 1).await.map_err(|e| ToolError(e.to_string()))?;
        let yesterday =
            self.store.cost_by_group(day_start - 86_400_000, day_start).await.map_err(|e| ToolError(e.to_string()))?;
        let spent = |list: &[(String, f64)], name: &str| {
            list.iter().find(|(n, _)| n == name).map_or(0.0, |(_, usd)| (usd * 100.0).round() / 100.0)
        };
        let rows: Vec<Value> = groups
            .iter()
            .map(|g| {
                json!({ "group": g.name, "hourly_burn_usd": (g.hourly_burn() * 100.0).round() / 100.0,
                        "today_usd": spent(&today, &g.name), "yesterday_usd": spent(&yesterday, &g.name) })
            })
            .collect();
        Ok(ToolAnswer::trusted(
            json!({ "fleet_hourly_burn_usd": (self.observation.hourly_burn() * 100.0).round() / 100.0, "groups": rows }),
        ))
    }

    async fn recent(&self, r: &RecentActions) -> Result<ToolAnswer, ToolError> {
        let list = self.store.recent_proposals(i64::from(r.limit)).await.map_err(|e| ToolError(e.to_string()))?;
        Ok(recent_actions(&list))
    }

    async fn explain(&self, call: &ToolCall) -> Result<ToolAnswer, ToolError> {
        let validated = match validate(call.clone(), &self.observation) {
            Ok(v) => v,
            Err(e) => return Ok(ToolAnswer::trusted(json!({ "valid": false, "error": e.to_string() }))),
        };
        let proposer = Proposer { kind: ProposerKind::Model, name: self.model.clone() };
        let now = self.observation.at_ms;
        let input = crate::facts::decision_input(
            &self.store,
            &validated,
            proposer,
            false,
            &self.observation,
            self.guardrails.limits(),
            now,
        )
        .await
        .map_err(|e| ToolError(e.to_string()))?;
        let decision = self.guardrails.decide(&validated, &input);
        let reasons: Vec<Value> =
            decision.reasons.iter().map(|r| json!({ "policy": r.policy, "reason": r.message })).collect();
        Ok(ToolAnswer::trusted(json!({
            "valid": true,
            "verdict": decision.verdict.kind(),
            "reasons": reasons,
            "cost_delta_per_hour_usd": (decision.cost_delta_per_hour * 100.0).round() / 100.0,
            "note": "as a proposal from you in an untainted episode; after reading untrusted text, a person must approve",
        })))
    }
}

impl FleetTools {
    /// The typed planner's plan for `app`: the steps as the planner made them (the model
    /// only reads and explains it). Names from Heroku are free text: untrusted.
    async fn plan_migration(&self, app: &str) -> Result<ToolAnswer, ToolError> {
        let Some(m) = &self.migrations else {
            return Err(ToolError("migrations are not set up here".into()));
        };
        let described = m.heroku.app(app).await.map_err(|e| ToolError(e.to_string()))?;
        let plan = steward_migrate::plan(&described, &m.options);
        let steps: Vec<Value> = plan
            .calls(1)
            .iter()
            .zip(&plan.steps)
            .map(|(call, s)| {
                json!({ "step": call.to_string(), "usd_per_hour": s.cost_cents_per_hour as f64 / 100.0,
                        "data_at_risk": s.data_at_risk, "downtime_minutes": s.downtime_minutes, "why": s.why })
            })
            .collect();
        let (added, saved) = plan.costs();
        // Config var names (never values, nor the process commands, which may hold some).
        let (copied, repointed): (Vec<&String>, Vec<&String>) = plan
            .steps
            .iter()
            .find_map(|s| match &s.action {
                steward_tools::StepAction::StoreSecrets { copy, repoint, .. } => {
                    Some((copy.iter().collect(), repoint.iter().collect()))
                }
                _ => None,
            })
            .unwrap_or_default();
        Ok(ToolAnswer::untrusted(json!({
            "app": plan.app, "environment": plan.environment, "aws_region": plan.aws_region, "steps": steps,
            "config_vars_copied": copied, "config_vars_repointed_at_the_new_database": repointed,
            "usd_per_hour_added": added, "usd_per_hour_saved_at_heroku": saved,
            "notes": plan.notes, "blockers": plan.blockers,
            "how_to_start": format!("a person runs `steward migrate start {}`; every step then goes through policy and approval", plan.app),
        })))
    }
}

/// The newest proposals in the model's view, one line each: when, the call, what became of
/// it, who proposed it. Rationales are left out (a model's or a person's words are free
/// text).
fn recent_actions(list: &[ProposalRecord]) -> ToolAnswer {
    let rows: Vec<Value> = list
        .iter()
        .map(|p| {
            let outcome = p.outcome.as_deref().map(|o| format!(": {}", o.chars().take(120).collect::<String>()));
            json!(format!(
                "#{} {} {} — {} by {}{}",
                p.id,
                crate::time::hhmm(p.updated_ms),
                p.call,
                p.state.as_str(),
                p.proposer,
                outcome.unwrap_or_default()
            ))
        })
        .collect();
    let untrusted = list.iter().any(|p| !plain_identifier(p.proposer.split_once(':').map_or(&p.proposer, |(_, n)| n)));
    ToolAnswer { data: json!(rows), untrusted }
}

#[async_trait]
impl EpisodeTools for FleetTools {
    async fn read(&self, tool: &ReadTool) -> Result<ToolAnswer, ToolError> {
        match tool {
            ReadTool::ListGroups(_) => Ok(self.list_groups(None)),
            ReadTool::GetMetrics(m) => self.metrics(m).await,
            ReadTool::GetCost(c) => self.cost(c).await,
            ReadTool::RecentActions(r) => self.recent(r).await,
            ReadTool::ExplainPolicy(e) => self.explain(&e.call).await,
            ReadTool::PlanMigration(p) => self.plan_migration(&p.app).await,
        }
    }

    fn check(&self, call: &ToolCall) -> Result<(), ToolError> {
        validate(call.clone(), &self.observation).map(|_| ()).map_err(|e| ToolError(e.to_string()))
    }
}

/// What the model starts from: the fleet, the last hour of the target's figures, recent
/// actions and the most similar past episodes.
pub async fn briefing(tools: &FleetTools, trigger: &Trigger) -> Result<Briefing, StoreError> {
    let mut briefing = Briefing::default();
    briefing.add("fleet", tools.list_groups(trigger.target()));
    if let Some(target) = trigger.target().filter(|t| tools.observation.group(t).is_some()) {
        let metrics = tools.metrics(&GetMetrics { group: target.to_string(), minutes: 60 }).await;
        if let Ok(answer) = metrics {
            briefing.add("last_hour_of_target", answer);
        }
    }
    briefing.add("recent_actions", recent_actions(&tools.store.recent_proposals(10).await?));
    let past = tools.store.similar_episodes(trigger.kind(), trigger.target(), 3).await?;
    let rows: Vec<Value> = past
        .iter()
        .map(|e| {
            // A tainted episode's words stay out; its figures are enough.
            let answer = if e.tainted { None } else { e.answer.clone() };
            json!({ "at": crate::time::full(e.started_ms), "target": e.target, "ended": e.ended,
                    "proposals": e.proposals, "rejected": e.rejected, "answer": answer })
        })
        .collect();
    // Untainted answers came from an episode that read only trusted data.
    briefing.add("similar_past_episodes", ToolAnswer::trusted(json!(rows)));
    Ok(briefing)
}

/// The proposer string of a model's proposals.
pub fn proposer_of(report: &EpisodeReport) -> String {
    format!("model:{}", report.model)
}

/// Remember the episode and write its audit entries: the episode, and each rejected call
/// with its raw text (redacted). Returns the episode's id.
pub async fn record(store: &Store, report: &EpisodeReport, started_ms: i64) -> Result<i64, StoreError> {
    let row = EpisodeRow {
        id: 0,
        started_ms,
        trigger_kind: report.trigger.kind().to_string(),
        target: report.trigger.target().map(str::to_string),
        summary: steward_tools::redact(&report.trigger.summary(), &[]),
        model: report.model.clone(),
        ended: report.ended.as_str().to_string(),
        tainted: report.tainted,
        requests: i64::try_from(report.usage.requests).unwrap_or(i64::MAX),
        prompt_tokens: i64::try_from(report.usage.prompt_tokens).unwrap_or(i64::MAX),
        completion_tokens: i64::try_from(report.usage.completion_tokens).unwrap_or(i64::MAX),
        elapsed_ms: i64::try_from(report.elapsed_ms).unwrap_or(i64::MAX),
        proposals: report.proposals.len() as i64,
        rejected: report.rejected.len() as i64,
        answer: report.answer.clone(),
    };
    let actor = proposer_of(report);
    let id = store
        .record_episode(&row, |id| {
            let mut entries = vec![NewEntry::new(
                started_ms,
                &actor,
                "llm.episode",
                None,
                json!({
                    "episode": id,
                    "trigger": { "kind": report.trigger.kind(), "target": report.trigger.target(), "summary": row.summary },
                    "ended": report.ended,
                    "turns": report.turns,
                    "usage": report.usage,
                    "tainted": report.tainted,
                    "taint_sources": report.taint_sources,
                    "reads": report.reads,
                    "proposals": report.proposals.iter().map(|p| &p.call).collect::<Vec<_>>(),
                    "rejected": report.rejected.len(),
                    "answer": report.answer,
                }),
            )];
            for rejected in &report.rejected {
                entries.push(NewEntry::new(
                    started_ms,
                    &actor,
                    "llm.call_rejected",
                    None,
                    json!({ "episode": id, "tool": rejected.tool, "raw_arguments": rejected.arguments, "error": rejected.error }),
                ));
            }
            entries
        })
        .await?;
    Ok(id)
}
