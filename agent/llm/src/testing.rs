//! A scripted OpenAI-compatible server for tests and CI evals: it speaks
//! `POST /v1/chat/completions` (and Azure's deployment path) with `tools` and
//! `tool_calls`, answers from a script, and records every request.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::post;
use axum::{Json, Router};
use serde_json::{json, Value};

/// One scripted answer.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub body: Value,
    pub delay: Duration,
}

impl Reply {
    /// A completion that calls tools: `(name, arguments as the model writes them)`.
    pub fn tools(content: &str, calls: &[(&str, &str)]) -> Reply {
        let tool_calls: Vec<Value> = calls
            .iter()
            .enumerate()
            .map(|(i, (name, arguments))| {
                json!({ "id": format!("call_{i}"), "type": "function",
                        "function": { "name": name, "arguments": arguments } })
            })
            .collect();
        Reply::completion(json!({ "role": "assistant", "content": content, "tool_calls": tool_calls }), "tool_calls")
    }

    /// A completion that answers in words.
    pub fn answer(text: &str) -> Reply {
        Reply::completion(json!({ "role": "assistant", "content": text }), "stop")
    }

    fn completion(message: Value, finish: &str) -> Reply {
        Reply {
            status: 200,
            body: json!({
                "id": "chatcmpl-scripted", "object": "chat.completion", "created": 0, "model": "scripted",
                "choices": [{ "index": 0, "message": message, "finish_reason": finish }],
                "usage": { "prompt_tokens": 100, "completion_tokens": 20, "total_tokens": 120 },
            }),
            delay: Duration::ZERO,
        }
    }

    /// An error status with an OpenAI-shaped error body.
    pub fn error(status: u16, message: &str) -> Reply {
        Reply {
            status,
            body: json!({ "error": { "message": message, "type": "server_error", "param": null, "code": null } }),
            delay: Duration::ZERO,
        }
    }

    /// The same answer, after a pause.
    pub fn after(mut self, delay: Duration) -> Reply {
        self.delay = delay;
        self
    }
}

/// How the server picks its answer.
#[derive(Debug, Clone)]
pub enum Script {
    /// Answers in order, one per request; then `Answer("Nothing more to do.")`.
    Sequence(Vec<Reply>),
    /// For a request whose first user message contains the needle, the reply at the index
    /// of the turn (how many assistant messages the request carries). Stateless, so
    /// scenarios can run in any order.
    ByPrompt(Vec<(String, Vec<Reply>)>),
    /// The same reply to every request (a model that never stops calling tools).
    Always(Reply),
}

struct Shared {
    script: Mutex<(Script, VecDeque<Reply>)>,
    requests: Mutex<Vec<Value>>,
}

/// A running scripted server on a loopback port.
pub struct ScriptedServer {
    pub base_url: String,
    shared: Arc<Shared>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for ScriptedServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn pick(script: &mut (Script, VecDeque<Reply>), request: &Value) -> Reply {
    let done = || Reply::answer("Nothing more to do.");
    match &script.0 {
        Script::Sequence(_) => script.1.pop_front().unwrap_or_else(done),
        Script::Always(reply) => reply.clone(),
        Script::ByPrompt(rules) => {
            let messages = request["messages"].as_array().cloned().unwrap_or_default();
            let first_user =
                messages.iter().find(|m| m["role"] == "user").and_then(|m| m["content"].as_str()).unwrap_or_default();
            let turn = messages.iter().filter(|m| m["role"] == "assistant").count();
            rules
                .iter()
                .find(|(needle, _)| first_user.contains(needle.as_str()))
                .and_then(|(_, replies)| replies.get(turn).cloned())
                .unwrap_or_else(done)
        }
    }
}

async fn complete(State(shared): State<Arc<Shared>>, Json(request): Json<Value>) -> impl IntoResponse {
    let reply = {
        let mut script = shared.script.lock().unwrap_or_else(|e| e.into_inner());
        pick(&mut script, &request)
    };
    shared.requests.lock().unwrap_or_else(|e| e.into_inner()).push(request);
    if !reply.delay.is_zero() {
        tokio::time::sleep(reply.delay).await;
    }
    let status = StatusCode::from_u16(reply.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (status, Json(reply.body))
}

impl ScriptedServer {
    /// Start serving `script` on `127.0.0.1` on a free port.
    pub async fn start(script: Script) -> std::io::Result<ScriptedServer> {
        let queue = match &script {
            Script::Sequence(replies) => replies.iter().cloned().collect(),
            _ => VecDeque::new(),
        };
        let shared = Arc::new(Shared { script: Mutex::new((script, queue)), requests: Mutex::new(Vec::new()) });
        let app = Router::new()
            .route("/v1/chat/completions", post(complete))
            .route("/openai/deployments/{deployment}/chat/completions", post(complete))
            .with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let address = listener.local_addr()?;
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(ScriptedServer { base_url: format!("http://{address}/v1"), shared, task })
    }

    /// Every request received so far.
    pub fn requests(&self) -> Vec<Value> {
        self.shared.requests.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}
