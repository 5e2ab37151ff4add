//! A Heroku app to move, and everything it moves onto, for the migration tests: the Heroku
//! Platform API stand-in holding the app, two real PostgreSQL databases (Heroku's and the
//! new one), the AWS API emulator (with the hosted zone that holds the app's domain), a
//! health endpoint for the new service, and Slack's stand-in. The real `steward` binary
//! runs against them.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::Value;
use steward_heroku::testing::{shop, HerokuStandIn};
use steward_migrate::aws::{AwsTarget, AwsTargetSettings};
use steward_migrate::testing::{seed_shop, ScratchDb};
use steward_tools::DnsRecord;

use super::slack::SlackStandIn;
use super::{stderr, stdout, Daemon, Workdir};

pub const HEROKU_KEY: &str = "heroku-e2e-key-3c9d41";
pub const SLACK_TOKEN: &str = "xoxb-test-bot-token-0123456789";
pub const SLACK_SECRET: &str = "8f742231b10e8888abcd99yyyzzz85a5";
/// Config var values no output, log, audit entry, prompt or metric may show.
pub const MARKERS: [&str; 2] = ["CANARY-secret-key-base-7f3a9c", "CANARY-stripe-sk-live-51b2e8"];
pub const HEROKU_CNAME: &str = "quiet-river-1.herokudns.com";

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    tokio::task::spawn_blocking(f).await.expect("blocking task")
}

pub struct Fixture {
    pub work: Arc<Workdir>,
    pub store: String,
    pub app: String,
    pub domain: String,
    pub heroku: HerokuStandIn,
    pub slack: SlackStandIn,
    pub source: ScratchDb,
    pub target: ScratchDb,
    pub aws: AwsTarget,
    pub health_url: String,
    /// Every CLI output so far, for the canary check.
    pub outputs: std::sync::Mutex<Vec<String>>,
    _health: tokio::task::JoinHandle<()>,
}

impl Fixture {
    /// `name` tells this test's resources apart from the others' (on the shared emulator
    /// and database server); `store` is the Steward store's URL.
    pub async fn new(name: &str, store: &str, extra_config: &str) -> Fixture {
        let endpoint = steward_aws::testing::emulator();
        let region = "us-east-1";
        // The app's name is this run's own: the emulator may be one a person keeps running.
        let app = format!("{}-{}", name.replace('_', "-"), std::process::id());
        let domain = format!("www.{app}.example");
        let source = ScratchDb::create(&format!("{name}_heroku")).await;
        let target = ScratchDb::create(&format!("{name}_aws")).await;
        seed_shop(&source, 1_000).await;

        let heroku = HerokuStandIn::start(HEROKU_KEY).await;
        heroku.set_page_size(2);
        let vars = [("SECRET_KEY_BASE", MARKERS[0]), ("STRIPE_API_KEY", MARKERS[1]), ("RAILS_ENV", "production")];
        heroku.add_app(shop(&app, &source.url, &vars, &domain));

        // The zone that holds the domain, with the record Heroku's docs have people create.
        let sdk = steward_aws::testing::emulator_config(&endpoint, region).await;
        let route53 = aws_sdk_route53::Client::new(&sdk);
        let zone = route53
            .create_hosted_zone()
            .name(format!("{app}.example"))
            .caller_reference(format!("{name}-{}", std::process::id()))
            .send()
            .await
            .expect("hosted zone");
        let zone_id = zone.hosted_zone().map(|z| z.id().to_string()).expect("zone id");
        let aws = AwsTarget::connect(AwsTargetSettings {
            region: region.into(),
            endpoint_url: Some(endpoint.clone()),
            database_wait: Duration::from_secs(30),
            ..AwsTargetSettings::default()
        })
        .await;
        let zone = steward_migrate::target::Zone { id: zone_id, name: format!("{app}.example.") };
        use steward_migrate::target::Target;
        aws.change_records(&zone, &[heroku_record(&domain)], &[]).await.expect("Heroku's CNAME");

        // The new service's health endpoint (the emulator's load balancers do not answer).
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let health_url = format!("http://{}/healthz", listener.local_addr().expect("address"));
        let health = tokio::spawn(async move {
            let app = axum::Router::new().route("/healthz", axum::routing::get(|| async { "ok" }));
            let _ = axum::serve(listener, app).await;
        });

        let slack = SlackStandIn::start().await;
        let work = Arc::new(Workdir::new());
        let (_, alice) = work.operator("alice");
        work.file(
            "steward.toml",
            &format!(
                "provider = \"aws\"\n{extra_config}\n\
                 [aws]\nregion = \"{region}\"\nendpoint_url = \"{endpoint}\"\n\
                 [heroku]\napi_url = \"{heroku}\"\n\
                 [migration]\ncluster = \"{name}\"\ncopy_jobs = 2\ndatabase_wait = \"30s\"\n\
                 [approvals.groups]\nplatform = [\"alice\", \"slack:UBOB\"]\n\
                 [approvals.operators]\n{alice}\n\
                 [slack]\napi_url = \"{slack}\"\n[slack.channels]\ndefault = \"COPS\"\n\
                 [slack.approvers]\nprod = [\"UBOB\"]\nstaging = [\"UBOB\"]\n",
                heroku = heroku.url,
                slack = slack.api_url,
            ),
        );
        Fixture {
            work,
            store: store.to_string(),
            app,
            domain,
            heroku,
            slack,
            source,
            target,
            aws,
            health_url,
            outputs: std::sync::Mutex::new(Vec::new()),
            _health: health,
        }
    }

    /// `steward ARGS --store URL` with the stand-ins' credentials in its environment.
    pub fn command(&self, args: &[&str]) -> std::process::Command {
        let mut command = self.work.command(args);
        command.args(["--store", &self.store]);
        command.env("HEROKU_API_KEY", HEROKU_KEY).env("AWS_EC2_METADATA_DISABLED", "true");
        command.env("SLACK_BOT_TOKEN", SLACK_TOKEN).env("SLACK_SIGNING_SECRET", SLACK_SECRET);
        command
    }

    /// `steward ARGS --store URL`, its output kept for the canary check.
    pub async fn steward(&self, args: &[&str]) -> std::process::Output {
        let mut command = self.command(args);
        let out = blocking(move || command.output().expect("run steward")).await;
        self.outputs.lock().expect("outputs").push(format!("{}{}", stdout(&out), stderr(&out)));
        out
    }

    /// `steward ARGS` that must succeed; its stdout.
    pub async fn ok(&self, args: &[&str]) -> String {
        let out = self.steward(args).await;
        assert!(out.status.success(), "steward {args:?}: {}{}", stdout(&out), stderr(&out));
        stdout(&out)
    }

    /// The daemon, ticking every 300 ms, with `env` added.
    pub fn daemon(&self, mode: &str, env: &[(&str, &str)]) -> Daemon {
        let mut command = self.command(&["run", "--realtime", "--tick-interval", "300ms", "--listen", "127.0.0.1:0"]);
        command.args(["--mode", mode]);
        for (k, v) in env {
            command.env(k, v);
        }
        Daemon::start(command)
    }

    pub async fn status(&self) -> Value {
        let text = self.ok(&["migrate", "status", &self.app, "--json"]).await;
        serde_json::from_str(&text).expect("status JSON")
    }

    /// Wait (up to 90 s) until `check` holds of the migration's status; return it.
    pub async fn wait(&self, what: &str, check: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + Duration::from_secs(90);
        loop {
            let status = self.status().await;
            if check(&status) {
                return status;
            }
            assert!(Instant::now() < deadline, "timed out waiting for {what}: {status:#}");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// The queue entry of proposal `id`, once it waits for approval.
    pub async fn queued(&self, id: i64) -> Value {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let queue: Value = serde_json::from_str(&self.ok(&["queue", "--json"]).await).expect("queue JSON");
            if let Some(p) = queue.as_array().and_then(|q| q.iter().find(|p| p["id"] == id)) {
                return p.clone();
            }
            assert!(Instant::now() < deadline, "#{id} never waited for approval");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Alice approves from the CLI, proved by her key.
    pub async fn approve_as_alice(&self, id: i64) {
        let key = self.work.path().join("alice.key").display().to_string();
        self.ok(&["approve", &id.to_string(), "--as", "alice", "--key", &key]).await;
    }

    /// Bob clicks Approve in Slack, on the daemon at `address`.
    pub async fn approve_in_slack(&self, address: &str, id: i64, call_hash: &str) {
        let body =
            super::slack::interaction(&super::slack::block_action("UBOB", "approve", &format!("{id}:{call_hash}")));
        let now = super::slack::now_seconds();
        let response = reqwest::Client::new()
            .post(format!("http://{address}/slack/interactions"))
            .header("x-slack-request-timestamp", now.to_string())
            .header("x-slack-signature", super::slack::sign(SLACK_SECRET, now, &body))
            .body(body)
            .send()
            .await
            .expect("Slack interaction");
        assert_eq!(response.status().as_u16(), 200);
        self.slack
            .wait_for("chat.postEphemeral", |calls| {
                calls.iter().any(|c| c.body["text"].as_str().is_some_and(|t| t.contains(&format!("#{id} approved"))))
            })
            .await;
    }

    /// The records at the app's domain now.
    pub async fn dns(&self) -> Vec<DnsRecord> {
        use steward_migrate::target::Target;
        let zone = self.aws.zone_for(&self.domain).await.expect("zone lookup").expect("the zone");
        self.aws.records(&zone, &self.domain).await.expect("records")
    }

    /// Every table's rows and keys match between Heroku's database and the new one.
    pub async fn data_matches(&self) -> bool {
        let source = steward_migrate::copy::checks(&self.source.secret()).await.expect("source checks");
        let target = steward_migrate::copy::checks(&self.target.secret()).await.expect("target checks");
        source == target
    }
}

/// The CNAME Heroku's docs have a custom domain point at.
pub fn heroku_record(domain: &str) -> DnsRecord {
    DnsRecord { name: domain.into(), record_type: "CNAME".into(), ttl: 300, values: vec![HEROKU_CNAME.into()] }
}

/// Step `n`'s (1-based) status.
pub fn step(status: &Value, n: usize) -> &Value {
    &status["steps"][n - 1]
}
