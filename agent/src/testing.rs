//! Test support (feature `testing`): one daemon harness for every integration test that
//! runs the daemon in-process, on the simulated cloud, against a store of the test's
//! choosing; operator keys for tests that prove who approves; and a prod migration step
//! that waits for two people.

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use steward_memory::Store;
use steward_sim::{demo_start_ms, GroupSpec, SimCloud};
use steward_tools::{Environment, MigrationStep, StepAction, ToolCall};

use crate::config::approvals::format_public_key;
use crate::config::{Config, FileConfig, Overrides};
use crate::daemon::{AfterTick, Daemon, DaemonClock, DaemonParts, RunOptions, Summary};
use crate::service::Service;
use crate::telemetry::Telemetry;

/// A fixed start for simulated runs (2027-01-15 08:00 UTC, rounded to the demo's 07:00).
pub const START: i64 = 1_800_000_000_000;

/// The simulated cloud, a scratch directory for checkpoints and keys, and the store.
pub struct Harness {
    pub dir: tempfile::TempDir,
    pub sim: Arc<SimCloud>,
    pub telemetry: Arc<Telemetry>,
    pub store: Store,
}

impl Harness {
    pub fn new(store: &Store, fleet: Vec<GroupSpec>) -> Harness {
        Harness {
            dir: tempfile::tempdir().expect("tempdir"),
            sim: Arc::new(SimCloud::new(fleet, demo_start_ms(START), 1)),
            telemetry: Arc::new(Telemetry::new(false)),
            store: store.clone(),
        }
    }

    /// The config `extra` (TOML) describes, with the audit checkpoints in the scratch
    /// directory.
    pub fn config(&self, extra: &str) -> Config {
        let text = format!(
            "{extra}\n[audit]\ncheckpoint_dir = \"{0}/checkpoints\"\ncheckpoint_key = \"{0}/checkpoint.key\"\n",
            self.dir.path().display()
        );
        let file: FileConfig = toml::from_str(&text).expect("config");
        let mut config = Config::resolve(file, Overrides::default(), None).expect("resolve");
        config.sim_state_dir = self.dir.path().join("sim");
        config
    }

    /// The service core over the harness's store, as a CLI beside the daemon would see it.
    pub fn service(&self, extra: &str) -> Service {
        Service::new(Arc::new(self.config(extra)), self.store.clone())
    }

    /// Run the daemon for `ticks` ticks with `config` and `hooks`, on the shared simulated
    /// cloud, continuing its clock.
    pub async fn run_config(
        &self,
        config: Arc<Config>,
        ticks: u64,
        hooks: Vec<Arc<dyn AfterTick>>,
    ) -> anyhow::Result<Summary> {
        let parts = DaemonParts {
            config,
            store: self.store.clone(),
            provider: self.sim.clone(),
            clock: DaemonClock::starting_at(self.sim.now_ms()),
            telemetry: self.telemetry.clone(),
            ready: Arc::new(AtomicBool::new(false)),
            hooks,
        };
        let daemon = Daemon::start(parts).await?;
        daemon.run(RunOptions { ticks: Some(ticks), realtime: false }, std::future::pending()).await
    }

    /// Run the daemon for `ticks` ticks with the config `extra` describes.
    pub async fn run(&self, extra: &str, ticks: u64) -> anyhow::Result<Summary> {
        self.run_config(Arc::new(self.config(extra)), ticks, Vec::new()).await
    }
}

/// Step 5 of moving `app` to prod: the data copy, which waits for two people of the
/// `platform` approver group under the default policies.
pub fn prod_data_copy(app: &str) -> ToolCall {
    ToolCall::MigrationStep(Box::new(MigrationStep {
        app: app.into(),
        migration: 1,
        environment: Environment::Prod,
        action: StepAction::CopyData {
            source_var: "DATABASE_URL".into(),
            target_parameter: format!("/steward/{app}/DATABASE_URL"),
            jobs: 2,
        },
        cost_cents_per_hour: 0,
        data_at_risk: true,
        downtime_minutes: 10,
    }))
}

/// A new operator key for `name` at `dir/NAME.key`: its path and the config line that
/// registers it (under `[approvals.operators]`).
pub fn operator_key(dir: &Path, name: &str) -> (PathBuf, String) {
    let path = dir.join(format!("{name}.key"));
    let (key, _) = steward_memory::checkpoint::load_or_create_key(&path).expect("operator key");
    (path, format!("{name} = \"{}\"", format_public_key(&key.verifying_key())))
}
