//! The command line as clap parses it: every subcommand, flag and environment variable.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

use steward_tools::Environment;

use crate::config::{LogFormat, Mode, StoreUrl};

#[derive(Debug, Parser)]
#[command(name = "steward", version, about = "Runs your cloud for you, never beyond what you allowed.")]
pub struct Cli {
    /// Configuration file (default: steward.toml when it exists).
    #[arg(long, global = true, env = "STEWARD_CONFIG")]
    pub config: Option<PathBuf>,
    /// Store URL: sqlite://PATH (default sqlite://steward.db) or postgres://…
    #[arg(long, global = true, env = "STEWARD_STORE", hide_env_values = true)]
    pub store: Option<StoreUrl>,
    /// Log format.
    #[arg(long, global = true, value_enum, env = "STEWARD_LOG_FORMAT")]
    pub log_format: Option<LogFormat>,
    /// `sim` (default: the simulated cloud, its demo fleet and the demo Heroku account) or
    /// `aws` (AWS, and Heroku through HEROKU_API_KEY).
    #[arg(long, global = true, env = "STEWARD_PROVIDER")]
    pub provider: Option<String>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the daemon: observe, plan, decide, execute, tick after tick.
    Run {
        /// dry-run, supervised (default) or autonomous.
        #[arg(long, value_enum, env = "STEWARD_MODE")]
        mode: Option<Mode>,
        /// Stop after this many ticks (default: run until SIGINT/SIGTERM).
        #[arg(long)]
        ticks: Option<u64>,
        /// Pace ticks in real time on the simulated cloud too.
        #[arg(long)]
        realtime: bool,
        /// Time between ticks (default 1m).
        #[arg(long, env = "STEWARD_TICK_INTERVAL")]
        tick_interval: Option<String>,
        /// HTTP listener for health, readiness and metrics (default 127.0.0.1:9464).
        #[arg(long, env = "STEWARD_LISTEN")]
        listen: Option<String>,
        /// Seed of the simulated cloud.
        #[arg(long)]
        seed: Option<u64>,
    },
    /// List proposals waiting for approval.
    Queue {
        #[arg(long)]
        json: bool,
    },
    /// Approve a waiting proposal.
    Approve {
        id: i64,
        #[command(flatten)]
        who: Who,
    },
    /// Reject a waiting proposal.
    Reject {
        id: i64,
        #[arg(long)]
        reason: String,
        #[command(flatten)]
        who: Who,
    },
    /// Propose the inverse of an executed action, through the same pipeline.
    Rollback {
        id: i64,
        #[command(flatten)]
        who: Who,
    },
    /// Kill switch on: nothing executes until `steward resume`.
    Pause {
        #[arg(long, default_value = "")]
        reason: String,
        #[command(flatten)]
        who: Who,
    },
    /// Kill switch off.
    Resume {
        #[command(flatten)]
        who: Who,
    },
    /// Read and verify the audit log.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
    /// Test and explain policies.
    Policy {
        #[command(subcommand)]
        command: PolicyCommand,
    },
    /// Replay traces and scenarios against the simulated cloud and score every planner;
    /// with `--planner llm`, score the LLM planner on its scenarios against the configured endpoint.
    Eval {
        /// `scaling` (default): the deterministic planners and baselines on traces;
        /// `llm`: the LLM planner on the scenarios under evals/llm (or --llm-scenarios).
        #[arg(long, value_enum, default_value = "scaling")]
        planner: EvalPlanner,
        /// A directory of LLM scenario files (`*.toml`) instead of the built-in ones.
        #[arg(long)]
        llm_scenarios: Option<PathBuf>,
        /// A per-minute trace to replay against a web group (CSV `timestamp,requests`); repeatable.
        #[arg(long = "trace")]
        traces: Vec<PathBuf>,
        /// A per-minute job-arrival trace to replay against a GPU pool; repeatable.
        #[arg(long = "gpu-trace")]
        gpu_traces: Vec<PathBuf>,
        /// Built-in scenarios to run, comma-separated (default: all; `none` for none).
        #[arg(long, value_delimiter = ',')]
        scenarios: Option<Vec<String>>,
        /// Length of the generated scenarios, days.
        #[arg(long, default_value_t = 3)]
        days: usize,
        /// Replay at most this many minutes of each trace.
        #[arg(long)]
        max_minutes: Option<usize>,
        /// Scale each trace so its peak needs this many instances.
        #[arg(long, default_value_t = 40)]
        peak_instances: u32,
        #[arg(long, default_value_t = 42)]
        seed: u64,
        /// Write scorecard.md, scorecard.json and an SVG per trace here.
        #[arg(long)]
        report: Option<PathBuf>,
        /// Print the figures as JSON instead of the Markdown table.
        #[arg(long)]
        json: bool,
        /// Replay Steward's planner at each knob value through the daemon itself (propose
        /// path, policy, limits, store and audit log on SQLite), not the fast replay.
        #[arg(long)]
        pipeline: bool,
        /// With --pipeline: how long the scripted approver waits before approving a
        /// proposal that needs a person (e.g. 0s, 5m).
        #[arg(long, default_value = "5m")]
        approve_after: String,
        /// With --pipeline: supervised mode, every change waits for the scripted approver
        /// (default: autonomous, as the fast replay).
        #[arg(long)]
        supervised: bool,
    },
    /// Ask the LLM planner about the fleet; a change it proposes is filed as a proposal.
    Ask {
        question: String,
        #[command(flatten)]
        who: Who,
        #[arg(long)]
        json: bool,
    },
    /// Move an app off Heroku onto AWS: plan, start, follow, roll back, export.
    Migrate {
        #[command(subcommand)]
        command: MigrateCommand,
    },
    /// Burn by group, month-to-date, month-end forecast, and what the LLM planner spent.
    Cost {
        #[arg(long)]
        json: bool,
    },
    /// The tool calls, as the LLM sees them.
    Tools {
        #[command(subcommand)]
        command: ToolsCommand,
    },
    /// Operator keys: what proves who you are when you decide from the CLI.
    Operator {
        #[command(subcommand)]
        command: OperatorCommand,
    },
}

/// Who acts: the OS account running the command, or a registered operator proved by their
/// key.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct Who {
    /// Act as this person (default: the OS user). Another person's name needs their
    /// operator key.
    #[arg(long = "as")]
    pub name: Option<String>,
    /// The operator key to sign with (default: STEWARD_OPERATOR_KEY, else
    /// ~/.config/steward/operator.key when the name is a registered operator).
    #[arg(long)]
    pub key: Option<PathBuf>,
}

/// What shapes a migration's plan.
#[derive(Debug, Clone, clap::Args)]
pub struct MigrateChoices {
    /// Where the app will run: prod (default), staging or dev.
    #[arg(long, value_parser = parse_environment, default_value = "prod")]
    pub environment: Environment,
    /// The image to run (default for a container app: its image in Heroku's registry).
    #[arg(long)]
    pub image: Option<String>,
    /// An existing PostgreSQL database to copy into, instead of a new RDS instance (also
    /// STEWARD_TARGET_DATABASE_URL, which keeps it out of the shell's history).
    #[arg(long, env = "STEWARD_TARGET_DATABASE_URL", hide_env_values = true)]
    pub target_database_url: Option<String>,
    /// What must answer 2xx before Heroku is scaled down (default: the new load balancer).
    #[arg(long)]
    pub health_url: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum MigrateCommand {
    /// Read the app from Heroku and print the typed plan, with what policy says of each step.
    Plan {
        app: String,
        #[command(flatten)]
        choices: MigrateChoices,
        /// Have the LLM planner explain the plan (its steps always come from the planner).
        #[arg(long)]
        explain: bool,
        #[command(flatten)]
        who: Who,
        #[arg(long)]
        json: bool,
    },
    /// Start the migration: the daemon files its steps one at a time, each through policy
    /// and approval.
    Start {
        app: String,
        #[command(flatten)]
        choices: MigrateChoices,
        #[command(flatten)]
        who: Who,
    },
    /// Every step: state, who approved, timings.
    Status {
        app: String,
        #[arg(long)]
        json: bool,
    },
    /// Undo the completed steps, newest first, each through policy like any change.
    Rollback {
        app: String,
        #[command(flatten)]
        who: Who,
    },
    /// Write the target as OpenTofu/Terraform files.
    Export {
        app: String,
        #[arg(long, value_enum, default_value = "opentofu")]
        format: ExportFormat,
        #[arg(long)]
        out: PathBuf,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ExportFormat {
    /// OpenTofu files (Terraform reads them too).
    Opentofu,
    Terraform,
}

fn parse_environment(text: &str) -> Result<Environment, String> {
    match text {
        "prod" => Ok(Environment::Prod),
        "staging" => Ok(Environment::Staging),
        "dev" => Ok(Environment::Dev),
        other => Err(format!("`{other}` is not prod, staging or dev")),
    }
}

#[derive(Debug, Subcommand)]
pub enum OperatorCommand {
    /// Create an operator key (ed25519, readable by you only) and print the line that
    /// registers it in approvals.operators.
    Init {
        /// The name to register (default: the OS user).
        #[arg(long)]
        name: Option<String>,
        /// Where to keep the key (default: STEWARD_OPERATOR_KEY, else ~/.config/steward/operator.key).
        #[arg(long)]
        key: Option<PathBuf>,
    },
    /// Print the public key of an operator key.
    Show {
        #[arg(long)]
        key: Option<PathBuf>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum EvalPlanner {
    Scaling,
    Llm,
}

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// The newest entries.
    Tail {
        #[arg(short = 'n', long, default_value_t = 20)]
        lines: i64,
        /// Every entry about one proposal instead.
        #[arg(long)]
        proposal: Option<i64>,
        #[arg(long)]
        json: bool,
    },
    /// One entry in full.
    Show { seq: i64 },
    /// Check the hash chain and the signed checkpoints; exit 1 naming the first bad entry.
    Verify {
        /// Checkpoint directory (default: audit.checkpoint_dir when it exists).
        #[arg(long)]
        checkpoints: Option<PathBuf>,
        /// Trusted ed25519 public key, hex (default: derived from audit.checkpoint_key).
        #[arg(long)]
        public_key: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum PolicyCommand {
    /// Run the policy test cases (the built-in ones, or DIR/tests/*.json).
    Test {
        #[arg(long)]
        dir: Option<PathBuf>,
    },
    /// Decide a proposal given as JSON and show the policies that decided it.
    Explain {
        file: PathBuf,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum ToolsCommand {
    /// Print every tool call's JSON Schema as OpenAI function-calling `tools`.
    Schema,
}
