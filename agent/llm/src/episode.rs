//! One episode: turns with the model until it answers or a bound ends it.

use std::time::Instant;

use async_trait::async_trait;
use serde::Serialize;
use serde_json::{json, Value};
use steward_tools::schema::{effect_of, openai_tools, Effect};
use steward_tools::{redact, ReadTool, ToolCall};

use crate::answer::{ToolAnswer, ToolError};
use crate::client::LlmClient;
use crate::prompt::{first_message, Briefing, Trigger, SYSTEM_PROMPT};
use crate::wire::ChatResponse;

/// What the caller provides: answers to read-only tools and the check a mutating call
/// must pass against the current observation before it counts as a proposal.
#[async_trait]
pub trait EpisodeTools: Send + Sync {
    /// Answer a read-only tool. An `Err` goes back to the model as the tool's error.
    async fn read(&self, tool: &ReadTool) -> Result<ToolAnswer, ToolError>;
    /// Whether the call fits the fleet (known group, right kind, current capacity). An
    /// `Err` rejects the call with that reason.
    fn check(&self, call: &ToolCall) -> Result<(), ToolError>;
}

/// A mutating call the model made that passed parsing and the caller's check.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ProposedCall {
    pub call: ToolCall,
    /// The model's own words next to the call, redacted and trimmed.
    pub rationale: String,
}

/// A tool call that was refused, with the raw arguments (secrets redacted).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RejectedCall {
    pub tool: String,
    pub arguments: String,
    pub error: String,
}

/// Tokens and requests one episode spent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct Usage {
    pub requests: u64,
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
}

impl Usage {
    pub fn total_tokens(&self) -> u64 {
        self.prompt_tokens + self.completion_tokens
    }
}

/// How an episode ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "reason", content = "detail", rename_all = "snake_case")]
pub enum Ended {
    /// The model answered without calling a tool.
    Answered,
    /// The turn bound ended it (a model that never stops calling tools).
    TurnLimit,
    /// The token budget was spent.
    TokenLimit,
    /// The time bound ended it.
    TimeLimit,
    /// The model made a bad call again after its one correction.
    RejectedTwice,
    /// The endpoint failed (after retries) or answered something that is not a completion.
    EndpointFailed(String),
}

impl Ended {
    pub fn as_str(&self) -> &'static str {
        match self {
            Ended::Answered => "answered",
            Ended::TurnLimit => "turn_limit",
            Ended::TokenLimit => "token_limit",
            Ended::TimeLimit => "time_limit",
            Ended::RejectedTwice => "rejected_twice",
            Ended::EndpointFailed(_) => "endpoint_failed",
        }
    }
}

/// Everything an episode produced. Nothing in it has been executed.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EpisodeReport {
    pub trigger: Trigger,
    pub model: String,
    pub answer: Option<String>,
    pub proposals: Vec<ProposedCall>,
    pub rejected: Vec<RejectedCall>,
    /// The read-only tools the model called, in order.
    pub reads: Vec<String>,
    /// Whether the model read untrusted text; its proposals carry this into policy.
    pub tainted: bool,
    /// What made it tainted.
    pub taint_sources: Vec<String>,
    pub usage: Usage,
    pub turns: u32,
    pub ended: Ended,
    pub elapsed_ms: u64,
}

const MAX_TEXT: usize = 2_000;

fn trimmed(text: &str, secrets: &[&str]) -> String {
    let clean = redact(text, secrets);
    if clean.chars().count() <= MAX_TEXT {
        return clean;
    }
    clean.chars().take(MAX_TEXT).collect::<String>() + "…"
}

struct Run<'a> {
    client: &'a LlmClient,
    tools: &'a dyn EpisodeTools,
    report: EpisodeReport,
    corrected: bool,
    secrets: Vec<&'a str>,
}

impl Run<'_> {
    fn taint(&mut self, source: impl Into<String>) {
        let source = source.into();
        self.report.tainted = true;
        if !self.report.taint_sources.contains(&source) {
            self.report.taint_sources.push(source);
        }
    }

    /// Record a refused call; `true` when it was the model's one correction and the
    /// episode goes on.
    fn reject(&mut self, tool: &str, arguments: &str, error: String) -> (String, bool) {
        tracing::info!(tool, error, "The model's tool call was rejected.");
        self.report.rejected.push(RejectedCall {
            tool: trimmed(tool, &self.secrets),
            arguments: trimmed(arguments, &self.secrets),
            error: error.clone(),
        });
        if self.corrected {
            (format!("error: {error}. That was the second bad call; the episode ends."), false)
        } else {
            self.corrected = true;
            (format!("error: {error}. Nothing was proposed. You may correct this call once."), true)
        }
    }

    /// Handle one tool call; the text goes back to the model, `false` ends the episode.
    async fn handle(&mut self, name: &str, arguments: &str, rationale: &str) -> (String, bool) {
        match effect_of(name) {
            None => self.reject(name, arguments, format!("there is no tool `{}`", trimmed(name, &[]))),
            Some(Effect::ReadOnly) => {
                let tool = match ReadTool::from_name_and_arguments(name, arguments) {
                    Ok(t) => t,
                    Err(e) => return self.reject(name, arguments, e.to_string()),
                };
                self.report.reads.push(tool.name().to_string());
                match self.tools.read(&tool).await {
                    Ok(answer) => {
                        if answer.untrusted {
                            self.taint(format!("read {}", tool.name()));
                        }
                        (json!({ "data": answer.data }).to_string(), true)
                    }
                    Err(e) => (json!({ "error": e.to_string() }).to_string(), true),
                }
            }
            Some(Effect::Mutating) => {
                let call = match ToolCall::from_name_and_arguments(name, arguments) {
                    Ok(c) => c,
                    Err(e) => return self.reject(name, arguments, e.to_string()),
                };
                if let Err(e) = self.tools.check(&call) {
                    return self.reject(name, arguments, e.to_string());
                }
                if self.report.proposals.iter().any(|p| p.call == call) {
                    return ("already proposed in this episode".to_string(), true);
                }
                if self.report.proposals.len() >= self.client.settings().max_proposals {
                    let limit = self.client.settings().max_proposals;
                    return self.reject(name, arguments, format!("at most {limit} proposals per episode"));
                }
                let text = if rationale.trim().is_empty() { "proposed by the model" } else { rationale };
                self.report
                    .proposals
                    .push(ProposedCall { call: call.clone(), rationale: trimmed(text, &self.secrets) });
                let reply = format!(
                    "filed as a proposal: {call}. Validation, policy and (where policy says so) a person decide whether it runs."
                );
                (reply, true)
            }
        }
    }
}

/// Run one episode about `trigger`. Never fails: endpoint errors and bounds end the
/// episode, and the report says how.
pub async fn run_episode(
    client: &LlmClient,
    tools: &dyn EpisodeTools,
    trigger: Trigger,
    briefing: &Briefing,
) -> EpisodeReport {
    let settings = client.settings();
    let started = Instant::now();
    let deadline = started + settings.timeout;
    let mut run = Run {
        client,
        tools,
        report: EpisodeReport {
            trigger: trigger.clone(),
            model: settings.model.clone(),
            answer: None,
            proposals: Vec::new(),
            rejected: Vec::new(),
            reads: Vec::new(),
            tainted: false,
            taint_sources: Vec::new(),
            usage: Usage::default(),
            turns: 0,
            ended: Ended::TurnLimit,
            elapsed_ms: 0,
        },
        corrected: false,
        secrets: settings.known_secrets(),
    };
    if trigger.untrusted() {
        run.taint(format!("{} text", trigger.kind()));
    }
    for (title, answer) in &briefing.sections {
        if answer.untrusted {
            run.taint(format!("briefing: {title}"));
        }
    }
    let mut messages = vec![
        json!({ "role": "system", "content": SYSTEM_PROMPT }),
        json!({ "role": "user", "content": first_message(&trigger, briefing) }),
    ];
    let tools_json = openai_tools();
    run.report.ended = loop {
        if run.report.turns >= settings.max_turns {
            break Ended::TurnLimit;
        }
        let spent = run.report.usage.total_tokens();
        if spent >= settings.max_tokens {
            break Ended::TokenLimit;
        }
        if Instant::now() >= deadline {
            break Ended::TimeLimit;
        }
        let budget = (settings.max_tokens - spent).min(u64::from(settings.max_tokens_per_request));
        let request = json!({
            "model": settings.model,
            "messages": messages,
            "tools": tools_json,
            "tool_choice": "auto",
            "temperature": 0,
            "max_tokens": budget,
            "stream": false,
        });
        run.report.turns += 1;
        let value = match client.complete(&request, deadline).await {
            Ok(v) => v,
            Err(_) if Instant::now() >= deadline => break Ended::TimeLimit,
            Err(e) => break Ended::EndpointFailed(e.to_string()),
        };
        run.report.usage.requests += 1;
        let response: ChatResponse = match serde_json::from_value(value) {
            Ok(r) => r,
            Err(e) => break Ended::EndpointFailed(format!("the answer is not a chat completion: {e}")),
        };
        if let Some(u) = &response.usage {
            run.report.usage.prompt_tokens += u.prompt_tokens;
            run.report.usage.completion_tokens += u.completion_tokens;
        }
        let Some(choice) = response.choices.into_iter().next() else {
            break Ended::EndpointFailed("the answer has no choices".into());
        };
        let content = choice.message.content.unwrap_or_default();
        let calls = choice.message.tool_calls.unwrap_or_default();
        if calls.is_empty() {
            run.report.answer = Some(trimmed(&content, &run.secrets));
            break Ended::Answered;
        }
        // Echo the assistant turn back the way the API expects it.
        let echoed: Vec<Value> = calls
            .iter()
            .enumerate()
            .map(|(i, c)| {
                json!({
                    "id": c.id.clone().unwrap_or_else(|| format!("call_{}_{i}", run.report.turns)),
                    "type": "function",
                    "function": { "name": c.function.name, "arguments": redact(&c.function.arguments_text(), &run.secrets) },
                })
            })
            .collect();
        // Echoed redacted: a key the model repeats is not sent back in the body.
        messages.push(json!({ "role": "assistant", "content": redact(&content, &run.secrets), "tool_calls": echoed }));
        let mut go_on = true;
        for (call, echo) in calls.iter().zip(&echoed) {
            let (reply, more) = if go_on {
                run.handle(&call.function.name, &call.function.arguments_text(), &content).await
            } else {
                ("not run: the episode ended".to_string(), false)
            };
            go_on &= more;
            messages.push(json!({ "role": "tool", "tool_call_id": echo["id"], "content": reply }));
        }
        if !go_on {
            break Ended::RejectedTwice;
        }
    };
    run.report.elapsed_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    tracing::info!(
        trigger = run.report.trigger.kind(),
        ended = run.report.ended.as_str(),
        turns = run.report.turns,
        tokens = run.report.usage.total_tokens(),
        proposals = run.report.proposals.len(),
        rejected = run.report.rejected.len(),
        tainted = run.report.tainted,
        "LLM episode finished."
    );
    run.report
}
