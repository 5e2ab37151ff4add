//! Chat-ops in Slack, on both store backends: the daemon posts approval messages to a
//! stand-in for Slack's Web API and keeps them true; signed requests reach the real HTTP
//! endpoints; forged, stale, replayed and oversized requests are refused; only authorised
//! approvers decide, once.

mod common;

use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use common::slack::{block_action, command, interaction, now_seconds, reject_submission, sign, SlackStandIn};
use serde_json::Value;
use steward_agent::config::Config;
use steward_agent::daemon::AfterTick;
use steward_agent::http::{router, HttpState};
use steward_agent::service::Service;
use steward_agent::slack::http::SlackState;
use steward_agent::slack::verify::RequestVerifier;
use steward_agent::slack::ChatOps;
use steward_agent::telemetry::Telemetry;
use steward_agent::testing::{prod_data_copy, Harness as Daemon};
use steward_memory::testing::TestDb;
use steward_memory::{both, NewProposal, ProposalRecord, ProposalState, Store};
use steward_sim::demo_fleet;
use steward_tools::{Observation, ScaleGroup, ToolCall};

const SECRET: &str = "test-signing-secret-0123456789";
const TOKEN: &str = "xoxb-test-bot-token-0123456789";

/// Slack's approval messages kept true at the end of every tick, as `steward run` wires it.
struct Sync(Arc<ChatOps>);

#[async_trait]
impl AfterTick for Sync {
    async fn after_tick(&self, observation: &Observation, _pending_approvals: usize) {
        self.0.sync(Some(observation)).await.expect("sync");
    }
}

struct Harness {
    daemon: Daemon,
    slack: SlackStandIn,
    store: Store,
    config: Arc<Config>,
    telemetry: Arc<Telemetry>,
    base: String,
    http: reqwest::Client,
    server: tokio::task::JoinHandle<()>,
    chatops: Arc<ChatOps>,
}

impl Drop for Harness {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl Harness {
    async fn new(store: &Store, extra: &str) -> Harness {
        let daemon = Daemon::new(store, demo_fleet());
        let dir = daemon.dir.path().to_path_buf();
        let slack = SlackStandIn::start().await;
        slack.set_group("SONCALL", &["UDAVE"]);
        std::fs::write(dir.join("bot"), TOKEN).expect("write");
        std::fs::write(dir.join("secret"), SECRET).expect("write");
        let text = format!(
            "{extra}\n[approvals.groups]\nplatform = [\"slack:UALICE\", \"slack:UBOB\"]\n\
             [slack]\napi_url = \"{api}\"\nbot_token_file = \"{d}/bot\"\nsigning_secret_file = \"{d}/secret\"\n\
             max_body_bytes = 4096\n\
             [slack.channels]\nprod = \"CPROD\"\ndefault = \"COPS\"\n\
             [slack.approvers]\nprod = [\"UALICE\", \"UBOB\", \"SONCALL\"]\nstaging = [\"UCAROL\"]\n",
            api = slack.api_url,
            d = dir.display()
        );
        let config = Arc::new(daemon.config(&text));
        let telemetry = daemon.telemetry.clone();
        let slack_config = config.slack.clone().expect("slack on");
        let service = Service::new(config.clone(), store.clone());
        let chatops = Arc::new(ChatOps::new(service, slack_config.clone(), telemetry.clone()).expect("chat-ops"));
        let verifier = Arc::new(RequestVerifier::new(SECRET, slack_config.max_body_bytes));
        let app = router(HttpState { telemetry: telemetry.clone(), ready: Arc::new(AtomicBool::new(true)) })
            .merge(steward_agent::slack::http::routes(SlackState { chatops: chatops.clone(), verifier }));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("address"));
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Harness {
            daemon,
            slack,
            store: store.clone(),
            config,
            telemetry,
            base,
            http: reqwest::Client::new(),
            server,
            chatops,
        }
    }

    /// Run the daemon for `ticks` ticks on the shared simulated cloud, Slack following.
    async fn ticks(&self, ticks: u64) {
        let hooks: Vec<Arc<dyn AfterTick>> = vec![Arc::new(Sync(self.chatops.clone()))];
        self.daemon.run_config(self.config.clone(), ticks, hooks).await.expect("run");
    }

    async fn post_signed(&self, path: &str, body: &str, timestamp: i64, signature: &str) -> (u16, String) {
        let response = self
            .http
            .post(format!("{}{path}", self.base))
            .header("content-type", "application/x-www-form-urlencoded")
            .header("x-slack-request-timestamp", timestamp.to_string())
            .header("x-slack-signature", signature)
            .body(body.to_string())
            .send()
            .await
            .expect("request");
        let status = response.status().as_u16();
        (status, response.text().await.unwrap_or_default())
    }

    async fn post(&self, path: &str, body: &str) -> (u16, String) {
        let now = now_seconds();
        self.post_signed(path, body, now, &sign(SECRET, now, body)).await
    }

    async fn click(&self, user: &str, action: &str, p: &ProposalRecord) -> (u16, String) {
        let value = format!("{}:{}", p.id, p.call_hash);
        self.post("/slack/interactions", &interaction(&block_action(user, action, &value))).await
    }

    async fn state(&self, id: i64) -> ProposalState {
        self.store.proposal(id).await.expect("read").expect("exists").state
    }

    /// Wait (up to 10 s) for proposal `id` to reach `state` (clicks run beside the request).
    async fn wait_state(&self, id: i64, state: ProposalState) {
        for _ in 0..200 {
            if self.state(id).await == state {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("#{id} never reached {state}: it is {}", self.state(id).await);
    }

    async fn ephemeral_to(&self, user: &str, needle: &str) -> String {
        let calls = self
            .slack
            .wait_for("chat.postEphemeral", |c| {
                c.iter().any(|c| c.body["user"] == user && c.body["text"].as_str().unwrap_or("").contains(needle))
            })
            .await;
        calls
            .into_iter()
            .rev()
            .find(|c| c.body["user"] == user)
            .map(|c| c.body["text"].as_str().unwrap_or("").to_string())
            .unwrap_or_default()
    }

    /// A pending proposal without named approver groups (any listed Slack approver may decide).
    async fn open_proposal(&self) -> ProposalRecord {
        let pending = self.store.proposals_in(&[ProposalState::PendingApproval]).await.expect("list");
        pending.into_iter().find(|p| p.approvers.is_empty()).expect("a pending proposal anyone listed may approve")
    }

    /// `call` filed by `proposer` for `requested_by`, after the tick that queues it.
    async fn file(&self, call: ToolCall, proposer: &str, requested_by: Option<&str>) -> ProposalRecord {
        let filed = self
            .store
            .insert_proposal(&NewProposal {
                at_ms: self.daemon.sim.now_ms(),
                rationale: format!("{call}"),
                call,
                proposer: proposer.into(),
                tainted: requested_by.is_some(),
                rollback_of: None,
                requested_by: requested_by.map(str::to_string),
            })
            .await
            .expect("insert");
        self.ticks(1).await;
        self.store.proposal(filed.id).await.expect("read").expect("exists")
    }

    /// A prod data copy of `app` (two approvals from `platform`), filed by the migration
    /// planner.
    async fn file_migration(&self, app: &str) -> ProposalRecord {
        self.file(prod_data_copy(app), "planner:migration", None).await
    }

    /// One more instance for the prod group `group`.
    async fn scale_out(&self, group: &str) -> ToolCall {
        let seen = self.store.latest_observation().await.expect("read").expect("observed");
        let desired = seen.group(group).expect("group").desired;
        ToolCall::ScaleGroup(ScaleGroup { group: group.into(), current_desired: desired, desired: desired + 1 })
    }

    async fn audit(&self, kind: &str) -> Vec<Value> {
        let tail = self.store.audit_tail(10_000).await.expect("audit");
        tail.into_iter().filter(|e| e.kind == kind).map(|e| serde_json::from_str(&e.data).unwrap_or_default()).collect()
    }
}

fn message_text(call: &common::slack::Call) -> String {
    call.body["blocks"].to_string()
}

async fn approving_from_slack_runs_the_change_and_the_message_follows(db: &TestDb) {
    let h = Harness::new(&db.store, "").await;
    h.ticks(1).await;
    let posted = h.slack.wait_for("chat.postMessage", |c| !c.is_empty()).await;
    assert!(posted.iter().all(|c| c.body["channel"] == "CPROD"), "prod proposals go to the prod channel");
    assert!(posted.iter().all(|c| c.authorization == format!("Bearer {TOKEN}")), "the bot token is the bearer");
    let p = h.open_proposal().await;
    let message = posted
        .iter()
        .find(|c| c.body["text"].as_str().unwrap_or("").starts_with(&format!("#{} ", p.id)))
        .expect("its message");
    let blocks = message_text(message);
    for needle in ["Approve", "Reject", "$/h", "$/month", "*Why approval*", "planner:", &p.target] {
        assert!(blocks.contains(needle), "{needle} in {blocks}");
    }
    let shown = h.store.slack_message(p.id).await.expect("read").expect("the message is remembered");
    assert_eq!(shown.channel, "CPROD");

    let (status, _) = h.click("UALICE", "approve", &p).await;
    assert_eq!(status, 200);
    h.wait_state(p.id, ProposalState::Approved).await;
    let updates =
        h.slack.wait_for("chat.update", |c| c.iter().any(|c| message_text(c).contains("Approved by <@UALICE>"))).await;
    let approved = updates.iter().find(|u| message_text(u).contains("Approved by <@UALICE>")).expect("the update");
    assert_eq!(approved.body["ts"], shown.ts.as_str(), "the message is updated in place");
    let approvals = h.audit("approval.approved").await;
    assert_eq!(approvals[0]["via"]["slack"]["user"], "UALICE");
    assert_eq!(approvals[0]["via"]["slack"]["team"], "TSTEWARD");

    h.ticks(1).await;
    assert!(matches!(h.state(p.id).await, ProposalState::Succeeded | ProposalState::Failed));
    h.slack.wait_for("chat.update", |c| c.iter().any(|c| message_text(c).contains("Executed"))).await;
}
both!(approving_from_slack_runs_the_change_and_the_message_follows);

async fn rejecting_asks_for_a_reason_and_records_it(db: &TestDb) {
    let h = Harness::new(&db.store, "").await;
    h.ticks(1).await;
    let p = h.open_proposal().await;
    h.click("UBOB", "reject", &p).await;
    let modal = h.slack.wait_for("views.open", |c| !c.is_empty()).await;
    let metadata = modal[0].body["view"]["private_metadata"].as_str().unwrap_or_default().to_string();
    assert_eq!(metadata, format!("{}:{}", p.id, p.call_hash));
    assert_eq!(h.state(p.id).await, ProposalState::PendingApproval, "nothing is decided before the reason");

    let (status, body) = h.post("/slack/interactions", &interaction(&reject_submission("UBOB", &metadata, "  "))).await;
    assert_eq!(status, 200);
    assert!(body.contains("\"response_action\":\"errors\""), "an empty reason is refused in the form: {body}");
    h.post("/slack/interactions", &interaction(&reject_submission("UBOB", &metadata, "too expensive at this hour")))
        .await;
    h.wait_state(p.id, ProposalState::Rejected).await;
    h.slack
        .wait_for("chat.update", |c| {
            c.iter().any(|c| message_text(c).contains("Rejected by <@UBOB>: too expensive at this hour"))
        })
        .await;
}
both!(rejecting_asks_for_a_reason_and_records_it);

async fn forged_stale_replayed_and_oversized_requests_are_refused(db: &TestDb) {
    let h = Harness::new(&db.store, "").await;
    h.ticks(1).await;
    let p = h.open_proposal().await;
    let body = interaction(&block_action("UALICE", "approve", &format!("{}:{}", p.id, p.call_hash)));
    let now = now_seconds();
    let (status, text) = h.post_signed("/slack/interactions", &body, now, &sign("not-the-secret", now, &body)).await;
    assert_eq!((status, text.as_str()), (401, "bad_signature"));
    let old = now - 301;
    let (status, text) = h.post_signed("/slack/interactions", &body, old, &sign(SECRET, old, &body)).await;
    assert_eq!((status, text.as_str()), (401, "stale"));
    let big = format!("{body}&padding={}", "x".repeat(5000));
    let (status, _) = h.post_signed("/slack/interactions", &big, now, &sign(SECRET, now, &big)).await;
    assert_eq!(status, 413);
    let (status, _) = h.post_signed("/slack/commands", "text=status", now, "").await;
    assert_eq!(status, 401, "an empty signature is a bad one");
    // Refusals are answered before anything is parsed or started: nothing runs behind them.
    assert_eq!(h.state(p.id).await, ProposalState::PendingApproval, "no refused request changed anything");
    assert!(h.store.approvals(p.id).await.expect("approvals").is_empty(), "and no vote was recorded");

    // The same signed request twice: the second is a replay.
    let reject = command("UALICE", &format!("reject {} replayed", p.id));
    let signature = sign(SECRET, now, &reject);
    let (first, _) = h.post_signed("/slack/commands", &reject, now, &signature).await;
    let (second, text) = h.post_signed("/slack/commands", &reject, now, &signature).await;
    assert_eq!((first, second, text.as_str()), (200, 409, "replayed"));
    let metrics = h.telemetry.metrics.render();
    for line in
        ["reason=\"bad_signature\"} 2", "reason=\"stale\"} 1", "reason=\"too_large\"} 1", "reason=\"replayed\"} 1"]
    {
        assert!(metrics.contains(line), "{line} in {metrics}");
    }
}
both!(forged_stale_replayed_and_oversized_requests_are_refused);

async fn only_authorised_approvers_decide_and_never_their_own_request(db: &TestDb) {
    let h = Harness::new(&db.store, "").await;
    h.ticks(1).await;
    let p = h.open_proposal().await;
    h.click("UZED", "approve", &p).await;
    let text = h.ephemeral_to("UZED", "cannot decide").await;
    assert!(text.contains("is not an approver for prod changes"), "{text}");
    h.click("UCAROL", "approve", &p).await;
    h.ephemeral_to("UCAROL", "is not an approver for prod").await;
    assert_eq!(h.state(p.id).await, ProposalState::PendingApproval);
    assert_eq!(h.audit("slack.refused").await.len(), 2, "refusals are audited");

    // A member of a listed user group may decide.
    h.click("UDAVE", "approve", &p).await;
    h.wait_state(p.id, ProposalState::Approved).await;
    h.ticks(1).await; // it runs, so the scale-outs below start from the fleet as it is after

    // A person's own request: filed as person:slack:UALICE.
    let own = h.file(h.scale_out("web").await, "person:slack:UALICE", None).await;
    assert_eq!(own.state, ProposalState::PendingApproval);
    h.click("UALICE", "approve", &own).await;
    let text = h.ephemeral_to("UALICE", "cannot decide it").await;
    assert!(text.contains("proposed"), "{text}");
    assert_eq!(h.state(own.id).await, ProposalState::PendingApproval);

    // Nor a change they asked the LLM planner for (`/steward ask`): the requester is kept.
    let asked = h.file(h.scale_out("worker").await, "model:scripted", Some("slack:UBOB")).await;
    h.click("UBOB", "approve", &asked).await;
    let text = h.ephemeral_to("UBOB", "asked for").await;
    assert!(text.contains("cannot decide it"), "{text}");
    assert_eq!(h.state(asked.id).await, ProposalState::PendingApproval);
}
both!(only_authorised_approvers_decide_and_never_their_own_request);

async fn two_approvals_and_double_clicks_decide_once(db: &TestDb) {
    let h = Harness::new(&db.store, "").await;
    let p = h.file_migration("shop").await;
    assert_eq!((p.state, p.approvals_required), (ProposalState::PendingApproval, 2));
    // A double click, and the same click twice at once.
    let (a, b) = tokio::join!(h.click("UALICE", "approve", &p), h.click("UALICE", "approve", &p));
    assert_eq!((a.0, b.0), (200, 200));
    h.ephemeral_to("UALICE", "already decided").await;
    h.slack.wait_for("chat.update", |c| c.iter().any(|c| message_text(c).contains("1/2 approvals"))).await;
    assert_eq!(h.state(p.id).await, ProposalState::PendingApproval, "one approval of two");
    h.click("UBOB", "approve", &p).await;
    h.wait_state(p.id, ProposalState::Approved).await;
    let approvals = h.store.approvals(p.id).await.expect("approvals");
    assert_eq!(approvals.len(), 2, "{approvals:?}");
}
both!(two_approvals_and_double_clicks_decide_once);

async fn an_expired_proposal_cannot_be_approved(db: &TestDb) {
    let h = Harness::new(&db.store, "[approvals]\nexpire_after = \"2m\"").await;
    h.ticks(1).await;
    let p = h.open_proposal().await;
    h.ticks(3).await;
    assert_eq!(h.state(p.id).await, ProposalState::Expired);
    h.slack.wait_for("chat.update", |c| c.iter().any(|c| message_text(c).contains("Expired"))).await;
    h.click("UALICE", "approve", &p).await;
    let text = h.ephemeral_to("UALICE", "nothing changed").await;
    assert!(text.contains("expired"), "{text}");
    assert_eq!(h.state(p.id).await, ProposalState::Expired);
}
both!(an_expired_proposal_cannot_be_approved);

async fn slash_commands_answer_and_are_audited(db: &TestDb) {
    let h = Harness::new(&db.store, "").await;
    h.ticks(1).await;
    let answer = |body: String| -> String {
        serde_json::from_str::<Value>(&body).map(|v| v["text"].as_str().unwrap_or("").to_string()).unwrap_or(body)
    };
    let (status, body) = h.post("/slack/commands", &command("UALICE", "status")).await;
    assert_eq!(status, 200);
    assert!(body.contains("\"response_type\":\"ephemeral\""), "{body}");
    assert!(answer(body).contains("Mode *supervised*"));
    let (_, body) = h.post("/slack/commands", &command("UALICE", "queue")).await;
    let p = h.open_proposal().await;
    assert!(answer(body).contains(&format!("*#{}*", p.id)));
    let (_, body) = h.post("/slack/commands", &command("UZED", "pause")).await;
    assert!(answer(body).contains("Only Slack approvers"));
    assert!(!h.store.paused().await.expect("paused"));
    let (_, body) = h.post("/slack/commands", &command("UALICE", "pause deploy in progress")).await;
    assert!(answer(body).starts_with("Paused"));
    assert!(h.store.paused().await.expect("paused"));
    h.post("/slack/commands", &command("UBOB", "resume")).await;
    assert!(!h.store.paused().await.expect("paused"));
    let (_, body) = h.post("/slack/commands", &command("UBOB", &format!("reject {} not now", p.id))).await;
    assert!(answer(body).contains("rejected"));
    assert_eq!(h.state(p.id).await, ProposalState::Rejected);
    let (_, body) = h.post("/slack/commands", &command("UBOB", "cost")).await;
    assert!(answer(body).contains("MONTH-END FORECAST"));
    let (_, body) = h.post("/slack/commands", &command("UBOB", "ask why?")).await;
    assert!(answer(body).contains("not configured"));
    let (_, body) = h.post("/slack/commands", &command("UBOB", "reboot")).await;
    assert!(answer(body).contains("Unknown command"));
    let audited = h.audit("slack.command").await;
    assert_eq!(audited.len(), 9, "every command is audited: {audited:?}");
    assert!(audited.iter().all(|e| e["via"]["slack"]["team"] == "TSTEWARD"));
    let paused = h.audit("control.paused").await;
    assert_eq!(paused[0]["via"]["slack"]["user"], "UALICE");

    let challenge = serde_json::json!({ "type": "url_verification", "challenge": "abc123" }).to_string();
    let (status, body) = h.post("/slack/events", &challenge).await;
    assert_eq!((status, body.as_str()), (200, "{\"challenge\":\"abc123\"}"));
}
both!(slash_commands_answer_and_are_audited);

/// A local Socket Mode server: every connection the client opens is handed to the test.
async fn socket_server(
) -> (String, tokio::sync::mpsc::Receiver<tokio_tungstenite::WebSocketStream<tokio::net::TcpStream>>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("ws://{}/link", listener.local_addr().expect("address"));
    let (tx, rx) = tokio::sync::mpsc::channel(4);
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            if let Ok(ws) = tokio_tungstenite::accept_async(stream).await {
                let _ = tx.send(ws).await;
            }
        }
    });
    (url, rx)
}

async fn next_json(ws: &mut tokio_tungstenite::WebSocketStream<tokio::net::TcpStream>) -> Value {
    use futures_util::StreamExt;
    loop {
        let message = tokio::time::timeout(Duration::from_secs(10), ws.next()).await.expect("an answer in time");
        match message {
            Some(Ok(tokio_tungstenite::tungstenite::Message::Text(text))) => {
                return serde_json::from_str(&text).expect("json");
            }
            Some(Ok(_)) => continue,
            other => panic!("the socket closed: {other:?}"),
        }
    }
}

async fn send_json(ws: &mut tokio_tungstenite::WebSocketStream<tokio::net::TcpStream>, value: Value) {
    use futures_util::SinkExt;
    ws.send(tokio_tungstenite::tungstenite::Message::Text(value.to_string().into())).await.expect("send");
}

fn hello() -> Value {
    serde_json::json!({ "type": "hello", "num_connections": 1,
        "connection_info": { "app_id": "ASTEWARD" }, "debug_info": { "host": "test" } })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn socket_mode_acknowledges_envelopes_and_reconnects() {
    let db = steward_memory::testing::sqlite().await;
    let h = Harness::new(&db.store, "").await;
    h.ticks(1).await;
    let (url, mut connections) = socket_server().await;
    h.slack.set_socket_url(&url);
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let chatops = h.chatops.clone();
    let listener = tokio::spawn(async move {
        let stop = async move {
            let _ = stop_rx.await;
        };
        steward_agent::slack::socket::serve(chatops, "xapp-test-app-token".into(), stop).await
    });

    let mut first =
        tokio::time::timeout(Duration::from_secs(15), connections.recv()).await.expect("connects").expect("a socket");
    let opened = h.slack.calls("apps.connections.open");
    assert_eq!(opened[0].authorization, "Bearer xapp-test-app-token", "the app-level token opens the socket");
    send_json(&mut first, hello()).await;
    send_json(
        &mut first,
        serde_json::json!({ "type": "slash_commands", "envelope_id": "env-1", "accepts_response_payload": true,
            "payload": { "command": "/steward", "text": "status", "user_id": "UALICE", "team_id": "TSTEWARD",
                         "channel_id": "CPROD", "user_name": "alice", "channel_name": "ops", "team_domain": "steward",
                         "response_url": "https://hooks.slack.invalid/1", "trigger_id": "t1", "api_app_id": "ASTEWARD",
                         "token": "legacy" } }),
    )
    .await;
    let ack = next_json(&mut first).await;
    assert_eq!(ack["envelope_id"], "env-1", "{ack}");
    assert!(
        ack["payload"]["text"].as_str().unwrap_or("").contains("Mode *supervised*"),
        "the answer rides on the ack: {ack}"
    );

    // Slack asks the client to reconnect, then drops the socket.
    send_json(
        &mut first,
        serde_json::json!({ "type": "disconnect", "reason": "refresh_requested", "debug_info": { "host": "test" } }),
    )
    .await;
    drop(first);
    let mut second =
        tokio::time::timeout(Duration::from_secs(20), connections.recv()).await.expect("reconnects").expect("a socket");
    assert!(h.slack.calls("apps.connections.open").len() >= 2, "a fresh URL for the new connection");
    send_json(&mut second, hello()).await;
    let p = h.open_proposal().await;
    let click = block_action("UBOB", "approve", &format!("{}:{}", p.id, p.call_hash));
    send_json(&mut second, serde_json::json!({ "type": "interactive", "envelope_id": "env-2", "accepts_response_payload": true, "payload": click })).await;
    let ack = next_json(&mut second).await;
    assert_eq!(ack["envelope_id"], "env-2", "{ack}");
    h.wait_state(p.id, ProposalState::Approved).await;
    let approvals = h.audit("approval.approved").await;
    assert_eq!(approvals[0]["via"]["slack"]["user"], "UBOB");

    let _ = stop_tx.send(());
    let _ = tokio::time::timeout(Duration::from_secs(10), listener).await;
    db.cleanup().await;
}

/// The real binary wires the endpoints onto its listener and posts to the configured API.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_steward_binary_serves_slack_on_its_listener() {
    let slack = SlackStandIn::start().await;
    let work = common::Workdir::new();
    work.file(
        "steward.toml",
        &format!(
            "[slack]\napi_url = \"{}\"\n[slack.channels]\ndefault = \"COPS\"\n[slack.approvers]\nprod = [\"UALICE\"]\n",
            slack.api_url
        ),
    );
    let mut run = work.command(&["run", "--realtime", "--tick-interval", "200ms", "--listen", "127.0.0.1:0"]);
    run.env("SLACK_BOT_TOKEN", TOKEN).env("SLACK_SIGNING_SECRET", SECRET);
    let mut child = run.stdout(std::process::Stdio::piped()).spawn().expect("spawn");
    let stdout = child.stdout.take().expect("stdout");
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    std::thread::spawn(move || {
        use std::io::BufRead;
        for line in std::io::BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let banner = tokio::task::spawn_blocking(move || rx.recv_timeout(Duration::from_secs(60)).expect("banner"))
        .await
        .expect("banner");
    assert!(banner.contains("Slack at /slack/*"), "{banner}");
    let address = banner.rsplit("http://").next().expect("address").trim().to_string();
    let posted = slack.wait_for("chat.postMessage", |c| !c.is_empty()).await;
    assert_eq!(posted[0].body["channel"], "COPS");
    let body = command("UALICE", "status");
    let now = now_seconds();
    let client = reqwest::Client::new();
    let response = client
        .post(format!("http://{address}/slack/commands"))
        .header("x-slack-request-timestamp", now.to_string())
        .header("x-slack-signature", sign(SECRET, now, &body))
        .body(body.clone())
        .send()
        .await
        .expect("request");
    assert_eq!(response.status().as_u16(), 200);
    assert!(response.text().await.unwrap_or_default().contains("Mode *supervised*"));
    let forged = client
        .post(format!("http://{address}/slack/commands"))
        .header("x-slack-request-timestamp", now.to_string())
        .header("x-slack-signature", sign("wrong", now, &body))
        .body(body)
        .send()
        .await
        .expect("request");
    assert_eq!(forged.status().as_u16(), 401);
    let _ = std::process::Command::new("kill").args(["-TERM", &child.id().to_string()]).status();
    let status = tokio::task::spawn_blocking(move || child.wait()).await.expect("join").expect("wait");
    assert!(status.success(), "{status:?}");
}

/// `/steward ask` goes to the LLM planner; the answer comes back to the asker only, and a
/// change it files remembers who asked (so that person cannot approve it).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ask_in_slack_answers_later_and_files_what_the_model_proposes() {
    use steward_llm::testing::{Reply, Script, ScriptedServer};
    let model = ScriptedServer::start(Script::Sequence(vec![
        Reply::tools(
            "One more GPU worker drains the queue.",
            &[("provision_gpu_workers", r#"{"pool":"gpu","count":1,"instance_type":"g5.xlarge"}"#)],
        ),
        Reply::answer("Proposed one more GPU worker."),
    ]))
    .await
    .expect("model");
    let db = steward_memory::testing::sqlite().await;
    let llm = format!("[llm]\nmodel = \"scripted\"\nbase_url = \"{}\"\n", model.base_url);
    let h = Harness::new(&db.store, &llm).await;
    h.ticks(1).await;
    let (status, body) = h.post("/slack/commands", &command("UALICE", "ask jobs are waiting, what now?")).await;
    assert_eq!(status, 200);
    assert!(body.contains("Thinking"), "{body}");
    let answer = h.ephemeral_to("UALICE", "Filed proposal #").await;
    assert!(answer.contains("Proposed one more GPU worker."), "{answer}");
    let filed = h.store.recent_proposals(1).await.expect("proposals").remove(0);
    assert_eq!(filed.proposer, "model:scripted");
    assert_eq!(filed.requested_by.as_deref(), Some("slack:UALICE"));
    assert!(filed.tainted, "a chat message is untrusted text");
    let episode = &h.store.recent_episodes(1).await.expect("episodes")[0];
    assert_eq!(episode.summary, "slack:UALICE asked: jobs are waiting, what now?");
    db.cleanup().await;
}
