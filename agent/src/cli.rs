//! The `steward` command line.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::commands::{self, BadInput};
use crate::config::{Config, LogFormat, Mode, Overrides};
use crate::daemon::RunOptions;

#[derive(Debug, Parser)]
#[command(name = "steward", version, about = "Runs your cloud for you, never beyond what you allowed.")]
pub struct Cli {
    /// Configuration file (default: steward.toml when it exists).
    #[arg(long, global = true, env = "STEWARD_CONFIG")]
    pub config: Option<PathBuf>,
    /// Store URL: sqlite://PATH (default sqlite://steward.db) or postgres://…
    #[arg(long, global = true, env = "STEWARD_STORE", hide_env_values = true)]
    pub store: Option<crate::config::StoreUrl>,
    /// Log format.
    #[arg(long, global = true, value_enum, env = "STEWARD_LOG_FORMAT")]
    pub log_format: Option<LogFormat>,
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
        /// `sim` (default: the simulated cloud and its demo fleet) or `aws`.
        #[arg(long, env = "STEWARD_PROVIDER")]
        provider: Option<String>,
    },
    /// List proposals waiting for approval.
    Queue {
        #[arg(long)]
        json: bool,
    },
    /// Approve a waiting proposal.
    Approve {
        id: i64,
        /// Who approves (default: the OS user).
        #[arg(long = "as")]
        who: Option<String>,
    },
    /// Reject a waiting proposal.
    Reject {
        id: i64,
        #[arg(long)]
        reason: String,
        #[arg(long = "as")]
        who: Option<String>,
    },
    /// Propose the inverse of an executed action, through the same pipeline.
    Rollback {
        id: i64,
        #[arg(long = "as")]
        who: Option<String>,
    },
    /// Kill switch on: nothing executes until `steward resume`.
    Pause {
        #[arg(long, default_value = "")]
        reason: String,
        #[arg(long = "as")]
        who: Option<String>,
    },
    /// Kill switch off.
    Resume {
        #[arg(long = "as")]
        who: Option<String>,
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
    },
    /// Ask the LLM planner about the fleet; a change it proposes is filed as a proposal.
    Ask {
        question: String,
        /// Who asks (default: the OS user).
        #[arg(long = "as")]
        who: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Ask the LLM planner to plan moving an app off Heroku; files a migrate_app proposal.
    Migrate {
        /// The app's name on Heroku.
        app: String,
        /// The app's description: `heroku apps:info --json` (config values are never read).
        #[arg(long = "from")]
        from: PathBuf,
        #[arg(long = "as")]
        who: Option<String>,
        #[arg(long)]
        json: bool,
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

pub fn main() -> ExitCode {
    // One TLS crypto provider for the whole process (Socket Mode's WebSocket, the Slack Web
    // API); with more than one linked in, rustls would otherwise refuse to choose.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() { ExitCode::from(2) } else { ExitCode::SUCCESS };
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return ExitCode::from(1);
        }
    };
    match runtime.block_on(dispatch(cli)) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            eprintln!("error: {}", one_line(&format!("{e:#}")));
            if e.downcast_ref::<BadInput>().is_some() {
                ExitCode::from(2)
            } else {
                ExitCode::from(1)
            }
        }
    }
}

fn one_line(text: &str) -> String {
    text.lines().map(str::trim).collect::<Vec<_>>().join(" ")
}

/// Run a command; `Ok(false)` means a check failed (exit 1).
async fn dispatch(cli: Cli) -> anyhow::Result<bool> {
    let mut overrides = Overrides { store: cli.store.clone(), log_format: cli.log_format, ..Overrides::default() };
    if let Command::Run { mode, tick_interval, listen, seed, provider, .. } = &cli.command {
        overrides.provider = provider.clone();
        overrides.mode = *mode;
        overrides.tick_interval = tick_interval.clone();
        overrides.listen = listen.clone();
        overrides.seed = *seed;
    }
    let config = Config::load(cli.config.as_deref(), overrides).map_err(|e| BadInput(format!("{e:#}")))?;
    crate::logging::init(config.log_format);
    match cli.command {
        Command::Run { ticks, realtime, .. } => {
            commands::run::run(config, RunOptions { ticks, realtime }).await?;
            Ok(true)
        }
        Command::Queue { json } => {
            commands::approvals::queue(&commands::open_store(&config).await?, json).await?;
            Ok(true)
        }
        Command::Approve { id, who } => {
            let store = commands::open_store(&config).await?;
            commands::approvals::decide(&config, &store, id, &commands::whoami(who.as_deref()), true, "").await?;
            Ok(true)
        }
        Command::Reject { id, reason, who } => {
            let store = commands::open_store(&config).await?;
            commands::approvals::decide(&config, &store, id, &commands::whoami(who.as_deref()), false, &reason).await?;
            Ok(true)
        }
        Command::Rollback { id, who } => {
            let store = commands::open_store(&config).await?;
            commands::approvals::rollback(&store, id, &commands::whoami(who.as_deref())).await?;
            Ok(true)
        }
        Command::Pause { reason, who } => {
            let store = commands::open_store(&config).await?;
            commands::control::set_paused(&store, true, &commands::whoami(who.as_deref()), &reason).await?;
            Ok(true)
        }
        Command::Resume { who } => {
            let store = commands::open_store(&config).await?;
            commands::control::set_paused(&store, false, &commands::whoami(who.as_deref()), "").await?;
            Ok(true)
        }
        Command::Audit { command } => {
            let store = commands::open_store(&config).await?;
            match command {
                AuditCommand::Tail { lines, proposal, json } => {
                    commands::audit::tail(&store, lines, proposal, json).await?;
                    Ok(true)
                }
                AuditCommand::Show { seq } => {
                    commands::audit::show(&store, seq).await?;
                    Ok(true)
                }
                AuditCommand::Verify { checkpoints, public_key } => {
                    commands::audit::verify(&config, &store, checkpoints.as_deref(), public_key.as_deref()).await
                }
            }
        }
        Command::Policy { command } => match command {
            PolicyCommand::Test { dir } => commands::policy::test(&config, dir.as_deref()),
            PolicyCommand::Explain { file, json } => {
                commands::policy::explain(&config, &file, json)?;
                Ok(true)
            }
        },
        Command::Eval { planner: EvalPlanner::Llm, llm_scenarios, report, json, .. } => {
            commands::eval::eval_llm(&config, llm_scenarios.as_deref(), report.as_deref(), json).await
        }
        Command::Eval {
            traces, gpu_traces, scenarios, days, max_minutes, peak_instances, seed, report, json, ..
        } => {
            let scenarios = scenarios.map(|list| list.into_iter().filter(|s| s != "none").collect());
            let args = commands::eval::EvalArgs {
                traces,
                gpu_traces,
                scenarios,
                days,
                max_minutes,
                peak_instances,
                seed,
                report,
                json,
            };
            commands::eval::eval(args).await
        }
        Command::Ask { question, who, json } => {
            let store = commands::open_store(&config).await?;
            commands::ask::ask(&config, &store, &question, &commands::whoami(who.as_deref()), json).await
        }
        Command::Migrate { app, from, who, json } => {
            let store = commands::open_store(&config).await?;
            commands::ask::migrate(&config, &store, &app, &from, &commands::whoami(who.as_deref()), json).await
        }
        Command::Cost { json } => {
            commands::cost::cost(&config, &commands::open_store(&config).await?, json).await?;
            Ok(true)
        }
        Command::Tools { command: ToolsCommand::Schema } => {
            println!("{}", serde_json::to_string_pretty(&steward_tools::schema::openai_tools())?);
            Ok(true)
        }
    }
}
