//! `steward`'s entry: parse the command line, load the configuration, run the command
//! through the service core, and map the outcome to an exit code.

use std::process::ExitCode;
use std::sync::Arc;

use clap::Parser;

use super::args::{AuditCommand, Cli, Command, EvalPlanner, OperatorCommand, PolicyCommand, ToolsCommand};
use super::failure::{exit_code, one_line, BadInput};
use super::output::{error_line, line};
use super::{approvals, ask, audit, control, cost, eval, migrate, operator, policy, run};
use crate::config::{Config, Overrides};
use crate::daemon::RunOptions;
use crate::service::Service;

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
            error_line(&format!("error: cannot start the runtime: {e}"));
            return ExitCode::from(1);
        }
    };
    match runtime.block_on(dispatch(cli)) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            error_line(&format!("error: {}", one_line(&e)));
            exit_code(&e)
        }
    }
}

/// Open the store the config names and put the service core over it.
async fn service(config: Config) -> anyhow::Result<Service> {
    let store = steward_memory::Store::connect(config.store.expose()).await?;
    Ok(Service::new(Arc::new(config), store))
}

/// Run a command; `Ok(false)` means a check failed (exit 1).
async fn dispatch(cli: Cli) -> anyhow::Result<bool> {
    let mut overrides = Overrides {
        store: cli.store.clone(),
        log_format: cli.log_format,
        provider: cli.provider.clone(),
        ..Overrides::default()
    };
    if let Command::Run { mode, tick_interval, listen, seed, .. } = &cli.command {
        overrides.mode = *mode;
        overrides.tick_interval = tick_interval.clone();
        overrides.listen = listen.clone();
        overrides.seed = *seed;
    }
    let config = Config::load(cli.config.as_deref(), overrides).map_err(|e| BadInput(format!("{e:#}")))?;
    crate::logging::init(config.log_format);
    match cli.command {
        Command::Run { ticks, realtime, .. } => {
            run::run(config, RunOptions { ticks, realtime }).await?;
            Ok(true)
        }
        Command::Queue { json } => approvals::queue(&service(config).await?, json).await.map(|()| true),
        Command::Approve { id, who } => {
            approvals::decide(&service(config).await?, id, &who, true, "").await.map(|()| true)
        }
        Command::Reject { id, reason, who } => {
            approvals::decide(&service(config).await?, id, &who, false, &reason).await.map(|()| true)
        }
        Command::Rollback { id, who } => approvals::rollback(&service(config).await?, id, &who).await.map(|()| true),
        Command::Pause { reason, who } => {
            control::set_paused(&service(config).await?, true, &who, &reason).await.map(|()| true)
        }
        Command::Resume { who } => control::set_paused(&service(config).await?, false, &who, "").await.map(|()| true),
        Command::Audit { command } => {
            let service = service(config).await?;
            match command {
                AuditCommand::Tail { lines, proposal, json } => {
                    audit::tail(&service, lines, proposal, json).await.map(|()| true)
                }
                AuditCommand::Show { seq } => audit::show(&service, seq).await.map(|()| true),
                AuditCommand::Verify { checkpoints, public_key } => {
                    audit::verify(&service, checkpoints.as_deref(), public_key.as_deref()).await
                }
            }
        }
        Command::Policy { command } => match command {
            PolicyCommand::Test { dir } => policy::test(&config, dir.as_deref()),
            PolicyCommand::Explain { file, json } => policy::explain(&config, &file, json).map(|()| true),
        },
        Command::Eval { planner: EvalPlanner::Llm, llm_scenarios, report, json, .. } => {
            eval::eval_llm(&config, llm_scenarios.as_deref(), report.as_deref(), json).await
        }
        Command::Eval {
            traces,
            gpu_traces,
            scenarios,
            days,
            max_minutes,
            peak_instances,
            seed,
            report,
            json,
            pipeline,
            approve_after,
            supervised,
            ..
        } => {
            let scenarios = scenarios.map(|list| list.into_iter().filter(|s| s != "none").collect());
            let args =
                eval::EvalArgs { traces, gpu_traces, scenarios, days, max_minutes, peak_instances, seed, report, json };
            if pipeline {
                let approve_after = crate::config::parse_duration("--approve-after", &approve_after)
                    .map_err(|e| super::failure::BadInput(format!("{e:#}")))?;
                eval::eval_pipeline(args, approve_after, supervised).await
            } else {
                eval::eval(args).await
            }
        }
        Command::Ask { question, who, json } => ask::ask(&service(config).await?, &question, &who, json).await,
        Command::Migrate { command } => migrate::run(&service(config).await?, command).await,
        Command::Cost { json } => cost::cost(&service(config).await?, json).await.map(|()| true),
        Command::Tools { command: ToolsCommand::Schema } => {
            line(&serde_json::to_string_pretty(&steward_tools::schema::openai_tools())?);
            Ok(true)
        }
        Command::Operator { command } => match command {
            OperatorCommand::Init { name, key } => operator::init(name.as_deref(), key.as_deref()).map(|()| true),
            OperatorCommand::Show { key } => operator::show(key.as_deref()).map(|()| true),
        },
    }
}
