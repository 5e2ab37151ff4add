//! What Slack can do, whichever way requests arrive (HTTP endpoints or Socket Mode):
//! approve and reject from the message's buttons, the `/steward` command, and keeping every
//! approval message true to its proposal. Every operation goes through the service core as
//! the Slack user the verified request names.
//!
//! Who may decide from Slack: a Slack user listed for the proposal's environment in
//! `slack.approvers` (directly or through a user group), and then whatever the service core
//! requires of anyone (a member of the approver group policy names, not the person who
//! proposed or asked for the change). Anyone else gets an ephemeral explanation, the refusal
//! is audited, and nothing changes.

use std::sync::Arc;

use serde_json::json;
use steward_memory::{NewEntry, ProposalRecord, ProposalState, SlackMessage, StoreError};
use steward_tools::{Observation, ToolCall};

use super::api::SlackApi;
use super::blocks::{render, Shown};
use crate::config::SlackConfig;
use crate::service::{Caller, Service, ServiceError};
use crate::telemetry::Telemetry;

/// The Slack user behind a verified request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlackUser {
    pub id: String,
    pub team: String,
}

impl SlackUser {
    /// How the user appears in the audit log when nothing else names them.
    pub fn actor(&self) -> String {
        format!("slack:{}", self.id)
    }

    fn via(&self) -> serde_json::Value {
        json!({ "slack": { "user": self.id, "team": self.team } })
    }

    fn caller(&self) -> Caller {
        Caller::slack(&self.id, &self.team)
    }
}

pub struct ChatOps {
    pub service: Service,
    pub slack: SlackConfig,
    pub api: SlackApi,
    pub telemetry: Arc<Telemetry>,
}

fn environment_of(call: &ToolCall, observation: Option<&Observation>) -> String {
    match call {
        ToolCall::MigrationStep(m) => m.environment.as_str().to_string(),
        other => observation
            .and_then(|o| o.group(other.target()))
            .map_or_else(|| "default".to_string(), |g| g.environment.as_str().to_string()),
    }
}

fn parse_value(value: &str) -> Option<(i64, String)> {
    let (id, hash) = value.split_once(':')?;
    Some((id.parse().ok()?, hash.to_string()))
}

impl ChatOps {
    pub fn new(service: Service, slack: SlackConfig, telemetry: Arc<Telemetry>) -> anyhow::Result<ChatOps> {
        let api = SlackApi::new(&slack)?;
        Ok(ChatOps { service, slack, api, telemetry })
    }

    async fn shown(&self, p: &ProposalRecord, observation: Option<&Observation>) -> anyhow::Result<Shown> {
        let decisions: Vec<(String, String, String)> = self
            .service
            .store()
            .approvals(p.id)
            .await?
            .into_iter()
            .filter(|a| a.call_hash == p.call_hash)
            .map(|a| (a.approver, a.decision, a.reason))
            .collect();
        let approvals = decisions.iter().filter(|(_, d, _)| d == "approve").count() as u32;
        Ok(Shown { environment: environment_of(&p.call, observation), approvals, decisions })
    }

    /// Bring every message up to date: post proposals that wait without one, update those
    /// whose proposal moved on. `observation` (the tick's) gives each its environment. A
    /// Slack failure is logged and retried next time.
    pub async fn sync(&self, observation: Option<&Observation>) -> anyhow::Result<()> {
        let store = self.service.store();
        for id in store.unposted_pending().await? {
            let Some(p) = store.proposal(id).await? else { continue };
            let shown = self.shown(&p, observation).await?;
            let Some(channel) = self.slack.channel_for(&shown.environment).map(str::to_string) else {
                continue;
            };
            let (text, blocks) = render(&p, &shown);
            match self.api.post(&channel, &text, blocks).await {
                Ok(ts) => {
                    let m = SlackMessage {
                        proposal_id: id,
                        channel,
                        ts,
                        shown_state: p.state.as_str().to_string(),
                        shown_approvals: i64::from(shown.approvals),
                    };
                    store.record_slack_message(&m).await?;
                    self.telemetry.metrics.slack_api("posted");
                }
                Err(e) => {
                    self.telemetry.metrics.slack_api("failed");
                    tracing::warn!(
                        proposal = id,
                        error = format!("{e:#}"),
                        "Posting the approval message failed; retrying next tick."
                    );
                }
            }
        }
        for m in store.stale_slack_messages().await? {
            self.update(&m, observation).await;
        }
        Ok(())
    }

    async fn update(&self, m: &SlackMessage, observation: Option<&Observation>) {
        let result = async {
            let Some(p) = self.service.store().proposal(m.proposal_id).await? else { return Ok(()) };
            let shown = self.shown(&p, observation).await?;
            let (text, blocks) = render(&p, &shown);
            self.api.update(&m.channel, &m.ts, &text, blocks).await?;
            let next = SlackMessage {
                shown_state: p.state.as_str().to_string(),
                shown_approvals: i64::from(shown.approvals),
                ..m.clone()
            };
            self.service.store().record_slack_message(&next).await?;
            anyhow::Ok(())
        }
        .await;
        match result {
            Ok(()) => self.telemetry.metrics.slack_api("updated"),
            Err(e) => {
                self.telemetry.metrics.slack_api("failed");
                tracing::warn!(
                    proposal = m.proposal_id,
                    error = format!("{e:#}"),
                    "Updating the approval message failed; retrying next tick."
                );
            }
        }
    }

    /// Update one proposal's message now (after a click), if it has one.
    async fn refresh(&self, id: i64) {
        if let Ok(Some(m)) = self.service.store().slack_message(id).await {
            let observation = self.service.latest_observation().await.ok().flatten();
            self.update(&m, observation.as_ref()).await;
        }
    }

    /// Whether `user` is on the Slack approver list for the environment.
    async fn listed(&self, user: &SlackUser, environment: &str) -> Result<(), String> {
        let listed = self.slack.approvers_for(environment).to_vec();
        if listed.is_empty() {
            return Err(format!(
                "nobody may approve {environment} changes from Slack (slack.approvers.{environment} is empty)"
            ));
        }
        if listed.contains(&user.id) {
            return Ok(());
        }
        for group in listed.iter().filter(|id| id.starts_with('S')) {
            match self.api.group_members(group).await {
                Ok(members) if members.contains(&user.id) => return Ok(()),
                Ok(_) => {}
                Err(e) => tracing::warn!(group, error = format!("{e:#}"), "Could not read a user group's members."),
            }
        }
        Err(format!("<@{}> is not an approver for {environment} changes", user.id))
    }

    /// Whether `user` may decide `p` from Slack: listed for its environment here, and
    /// allowed by the service core's rules.
    async fn authorize(&self, user: &SlackUser, p: &ProposalRecord) -> Result<(), String> {
        let observation = self.service.latest_observation().await.ok().flatten();
        self.listed(user, &environment_of(&p.call, observation.as_ref())).await?;
        let identity = crate::identity::slack_identity(&self.service.config().approvals, &user.id);
        self.service.may_decide(&identity, p).map_err(|e| e.to_string())
    }

    async fn audit_refusal(&self, user: &SlackUser, id: Option<i64>, why: &str) {
        self.telemetry.metrics.slack_refused_click();
        let at = self.service.now_ms().await.unwrap_or_default();
        let entry = NewEntry::new(at, &user.actor(), "slack.refused", id, json!({ "why": why, "via": user.via() }));
        if let Err(e) = self.service.store().append(entry).await {
            tracing::error!(error = %e, "Could not audit a refused Slack approval.");
        }
    }

    /// Approve (`reason` empty) or reject proposal `id` as `user`; `hash` is the call the
    /// person saw, when they clicked a button. Returns what to tell them.
    pub async fn decide(
        &self,
        user: &SlackUser,
        id: i64,
        hash: Option<&str>,
        approve: bool,
        reason: &str,
    ) -> anyhow::Result<String> {
        let Some(p) = self.service.store().proposal(id).await? else {
            return Ok(format!("There is no proposal #{id}."));
        };
        if p.state != ProposalState::PendingApproval {
            self.refresh(id).await;
            return Ok(format!("#{id} is {} already; nothing changed.", p.state));
        }
        if hash.is_some_and(|h| h != p.call_hash) {
            self.refresh(id).await;
            return Ok(format!(
                "#{id} changed since that message was posted; nothing changed. The message is up to date now."
            ));
        }
        if let Err(why) = self.authorize(user, &p).await {
            self.audit_refusal(user, Some(id), &why).await;
            tracing::info!(proposal = id, user = user.id, why, "Refused a Slack decision.");
            return Ok(format!("You cannot decide #{id}: {why}. Nothing changed."));
        }
        if !approve && reason.trim().is_empty() {
            return Ok("A rejection needs a reason.".into());
        }
        let answer = match self.service.decide(&user.caller(), id, approve, reason, hash).await {
            Ok(decided) => match decided.tally.state {
                ProposalState::Approved => format!(
                    "#{id} approved ({}/{}); it runs on the daemon's next tick.",
                    decided.tally.approvals, decided.tally.required
                ),
                ProposalState::Rejected => format!("#{id} rejected."),
                _ => format!(
                    "Your approval of #{id} is recorded ({}/{}); it waits for more.",
                    decided.tally.approvals, decided.tally.required
                ),
            },
            Err(ServiceError::Undecidable(StoreError::AlreadyDecided { .. })) => {
                format!("You already decided #{id}; nothing changed.")
            }
            Err(ServiceError::Undecidable(StoreError::Expired { .. })) => format!("#{id} expired; nothing changed."),
            Err(ServiceError::Undecidable(StoreError::NotPending { state, .. })) => {
                format!("#{id} is {state} already; nothing changed.")
            }
            Err(ServiceError::Refused(why)) => {
                self.audit_refusal(user, Some(id), &why).await;
                format!("You cannot decide #{id}: {why}. Nothing changed.")
            }
            Err(ServiceError::Conflict(why)) => format!("{why}; nothing changed."),
            Err(e) => return Err(e.into()),
        };
        self.refresh(id).await;
        Ok(answer)
    }

    /// A button on an approval message. Approve decides at once; Reject asks for the reason
    /// in a modal (if the person may decide at all).
    pub async fn click(
        &self,
        user: &SlackUser,
        action: &str,
        value: &str,
        trigger_id: Option<&str>,
        channel: Option<&str>,
    ) -> anyhow::Result<()> {
        let Some((id, hash)) = parse_value(value) else {
            tracing::warn!(value, "A Slack button carried a value Steward did not write; ignored.");
            return Ok(());
        };
        let answer = match action {
            "approve" => Some(self.decide(user, id, Some(&hash), true, "").await?),
            "reject" => {
                let p = self.service.store().proposal(id).await?;
                match p {
                    Some(p) if p.state == ProposalState::PendingApproval && p.call_hash == hash => {
                        match self.authorize(user, &p).await {
                            Err(why) => {
                                self.audit_refusal(user, Some(id), &why).await;
                                Some(format!("You cannot decide #{id}: {why}. Nothing changed."))
                            }
                            Ok(()) => {
                                let title = format!("Reject *#{id}* {}?", super::blocks::plain_words(&p.call));
                                match trigger_id {
                                    Some(trigger) => {
                                        self.api.open_reject_modal(trigger, &title, value).await?;
                                        None
                                    }
                                    None => Some(format!("Reject with `/steward reject {id} REASON`.")),
                                }
                            }
                        }
                    }
                    _ => Some(self.decide(user, id, Some(&hash), false, "(no reason)").await?),
                }
            }
            other => {
                tracing::warn!(action = other, "Unknown Slack action; ignored.");
                None
            }
        };
        if let (Some(text), Some(channel)) = (answer, channel) {
            self.api.ephemeral(channel, &user.id, &text).await?;
        }
        Ok(())
    }

    /// The reject modal was submitted; `Err` is shown under the reason field.
    pub async fn submit_reject(
        &self,
        user: &SlackUser,
        metadata: &str,
        reason: &str,
    ) -> anyhow::Result<Result<String, String>> {
        let Some((id, hash)) = parse_value(metadata) else { return Ok(Err("this form is not Steward's".into())) };
        if reason.trim().is_empty() {
            return Ok(Err("a rejection needs a reason".into()));
        }
        Ok(Ok(self.decide(user, id, Some(&hash), false, reason.trim()).await?))
    }

    /// `/steward …`: the answer, shown only to the person who typed it. Every command is an
    /// audit entry with the Slack user and team.
    pub async fn command(self: &Arc<Self>, user: &SlackUser, channel: &str, text: &str) -> anyhow::Result<String> {
        let text = text.trim();
        let at = self.service.now_ms().await?;
        let entry = NewEntry::new(
            at,
            &user.actor(),
            "slack.command",
            None,
            json!({ "command": format!("/steward {text}"), "channel": channel, "via": user.via() }),
        );
        self.service.store().append(entry).await?;
        let (verb, rest) = text.split_once(char::is_whitespace).map_or((text, ""), |(v, r)| (v, r.trim()));
        let id = |s: &str| s.trim_start_matches('#').parse::<i64>().ok();
        Ok(match verb {
            "" | "help" => HELP.to_string(),
            "status" => self.status().await?,
            "queue" => self.queue().await?,
            "approve" => match id(rest) {
                Some(n) => self.decide(user, n, None, true, "").await?,
                None => "Usage: `/steward approve ID`".into(),
            },
            "reject" => {
                let (n, reason) = rest.split_once(char::is_whitespace).map_or((rest, ""), |(n, r)| (n, r.trim()));
                match id(n) {
                    Some(n) if !reason.is_empty() => self.decide(user, n, None, false, reason).await?,
                    _ => "Usage: `/steward reject ID REASON`".into(),
                }
            }
            "pause" | "resume" => {
                let may = self.slack.approvers.values().flatten().any(|a| *a == user.id);
                if !may {
                    self.audit_refusal(user, None, "only Slack approvers may pause or resume").await;
                    "Only Slack approvers (slack.approvers) may pause or resume Steward.".into()
                } else {
                    match self.service.set_paused(&user.caller(), verb == "pause", rest).await {
                        Ok(answer) => answer,
                        Err(ServiceError::Refused(why)) => format!("You cannot {verb} Steward: {why}."),
                        Err(e) => return Err(e.into()),
                    }
                }
            }
            "cost" => format!("```\n{}```", self.service.cost().await?.table()),
            "ask" if rest.is_empty() => "Usage: `/steward ask QUESTION`".into(),
            "ask" if self.service.config().llm.is_none() => {
                "The LLM planner is not configured, so there is nobody to ask.".into()
            }
            "ask" => {
                let me = self.clone();
                let (user, channel, question) = (user.clone(), channel.to_string(), rest.to_string());
                tokio::spawn(async move {
                    let text = match me.service.ask(&user.caller(), &question).await {
                        Ok(c) => c.text(),
                        Err(e) => format!("The LLM planner could not answer: {e}"),
                    };
                    if let Err(e) = me.api.ephemeral(&channel, &user.id, &text).await {
                        tracing::warn!(
                            error = format!("{e:#}"),
                            "Could not deliver the LLM planner's answer to Slack."
                        );
                    }
                });
                "Thinking… the answer comes here in a moment.".into()
            }
            other => format!("Unknown command `{}`.\n{HELP}", super::blocks::escape(other)),
        })
    }

    async fn status(&self) -> anyhow::Result<String> {
        let status = self.service.status().await?;
        let burn = status.burn.map_or_else(
            || "no observation yet".to_string(),
            |(burn, at)| format!("${burn:.2}/h as of {} UTC", crate::time::hhmm(at)),
        );
        Ok(format!(
            "Mode *{}* · execution {} · {} waiting for approval · burn {burn}",
            status.mode.as_str(),
            if status.paused { "*paused*" } else { "running" },
            status.pending
        ))
    }

    async fn queue(&self) -> anyhow::Result<String> {
        let queue = self.service.queue().await?;
        if queue.is_empty() {
            return Ok("Nothing waits for approval.".into());
        }
        let mut lines = Vec::new();
        for item in queue.iter().take(20) {
            let p = &item.proposal;
            lines.push(format!(
                "*#{}* `{}` {:+.2} $/h · {}/{} · {}",
                p.id,
                p.call,
                p.cost_delta_per_hour,
                item.approvals,
                p.approvals_required.max(1),
                super::blocks::escape(&p.reason_line())
            ));
        }
        if queue.len() > 20 {
            lines.push(format!("… and {} more (`steward queue`)", queue.len() - 20));
        }
        Ok(lines.join("\n"))
    }
}

const HELP: &str = "`/steward status` · `/steward queue` · `/steward approve ID` · `/steward reject ID REASON` · \
`/steward pause [REASON]` · `/steward resume` · `/steward cost` · `/steward ask QUESTION`";
