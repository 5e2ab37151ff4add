//! `steward migrate plan | start | status | rollback | export`: moving an app off Heroku,
//! through the service core.

use serde_json::json;
use steward_policies::{Decision, Verdict};
use steward_tools::Secret;

use super::args::{MigrateChoices, MigrateCommand, Who};
use super::output::{line, print};
use super::signer::caller;
use crate::identity::Operation;
use crate::service::{MigrateOptions, PlanView, Service};
use crate::time::full;

fn options(choices: &MigrateChoices) -> MigrateOptions {
    MigrateOptions {
        environment: choices.environment,
        image: choices.image.clone().filter(|i| !i.trim().is_empty()),
        target_database_url: choices.target_database_url.clone().filter(|u| !u.trim().is_empty()).map(Secret::new),
        health_url: choices.health_url.clone().filter(|u| !u.trim().is_empty()),
    }
}

fn usd(cents: i64) -> String {
    let sign = if cents < 0 { "−" } else { "+" };
    format!("{sign}${:.2}/h", cents.unsigned_abs() as f64 / 100.0)
}

/// What policy says of a step, in a few words.
fn verdict(d: &Decision) -> String {
    match &d.verdict {
        Verdict::Allow => "allowed: runs on its own in autonomous mode (supervised: a person approves)".into(),
        Verdict::Deny => format!("denied: {}", d.reason_line()),
        Verdict::NeedsApproval { approvals, approvers, requester_may_approve } => {
            let who = if approvers.is_empty() { String::new() } else { format!(" from {}", approvers.join(" or ")) };
            let you = if *requester_may_approve { ", who may be you" } else { "" };
            let people = if *approvals == 1 { "1 person".to_string() } else { format!("{approvals} people") };
            format!("needs {people}{who}{you}")
        }
    }
}

fn plan_text(view: &PlanView) -> String {
    let plan = &view.plan;
    let mut out = format!(
        "{} (read from {}): Heroku {} → AWS {}, environment {}\n\n",
        plan.app, view.source, plan.heroku_region, plan.aws_region, plan.environment
    );
    for (i, (call, step)) in plan.calls(1).iter().zip(&plan.steps).enumerate() {
        let policy = view.decisions.get(i).map(verdict).unwrap_or_default();
        let risk = match (step.data_at_risk, step.downtime_minutes) {
            (true, 0) => " · data at risk".to_string(),
            (true, m) => format!(" · data at risk · ~{m} min downtime"),
            (false, 0) => String::new(),
            (false, m) => format!(" · ~{m} min downtime"),
        };
        let what = step.action.describe();
        out.push_str(&format!(
            "{:>2}. {:<18} {what}\n    {}{risk} · {}\n    policy: {policy}\n",
            i + 1,
            call.policy_action(),
            usd(step.cost_cents_per_hour),
            step.why
        ));
    }
    let (added, saved) = plan.costs();
    out.push_str(&format!("\nAWS +${added:.2}/h; Heroku −${saved:.2}/h once scaled down.\n"));
    for note in &plan.notes {
        out.push_str(&format!("note: {note}\n"));
    }
    for blocker in &plan.blockers {
        out.push_str(&format!("BLOCKED: {blocker}\n"));
    }
    if plan.blockers.is_empty() {
        out.push_str(&format!(
            "\nStart it with `steward migrate start {} --environment {}`; the daemon files one step at a time.\n",
            plan.app, plan.environment
        ));
    }
    out
}

pub async fn run(service: &Service, command: MigrateCommand) -> anyhow::Result<bool> {
    match command {
        MigrateCommand::Plan { app, choices, explain, who, json } => {
            plan(service, &app, &choices, explain, &who, json).await
        }
        MigrateCommand::Start { app, choices, who } => {
            let options = options(&choices);
            let operation =
                Operation::StartMigration { app: app.clone(), environment: options.environment.to_string() };
            let caller = caller(service.config(), &who, &operation)?;
            let m = service.start_migration(&caller, &app, &options).await?;
            line(&format!(
                "Migration #{} of {app} started by {} ({} steps, environment {}). A running daemon files step 1 on its next tick; each step goes through policy and, where it says so, approval (`steward queue`). Follow it with `steward migrate status {app}`.",
                m.id,
                m.started_by,
                m.steps.len(),
                m.environment
            ));
            Ok(true)
        }
        MigrateCommand::Status { app, json } => status(service, &app, json).await,
        MigrateCommand::Rollback { app, who } => {
            let caller = caller(service.config(), &who, &Operation::RollbackMigration { app: app.clone() })?;
            let m = service.rollback_migration(&caller, &app).await?;
            line(&format!(
                "Rolling back migration #{} of {app}: a running daemon withdraws the steps still waiting and files the completed steps' inverses, newest first, each through policy and approval.",
                m.id
            ));
            Ok(true)
        }
        MigrateCommand::Export { app, format, out } => {
            let (plan, files) = service.export_migration(&app, &out).await?;
            let tool = match format {
                super::args::ExportFormat::Opentofu => "tofu",
                super::args::ExportFormat::Terraform => "terraform",
            };
            let names: Vec<String> = files.iter().map(|f| f.display().to_string()).collect();
            line(&format!(
                "Wrote {} files for {} ({} steps) to {}: {}\nSecrets are variables to give at apply time (TF_VAR_…); then `{tool} init && {tool} apply`.",
                files.len(),
                plan.app,
                plan.steps.len(),
                out.display(),
                names.join(", ")
            ));
            Ok(true)
        }
    }
}

async fn plan(
    service: &Service,
    app: &str,
    choices: &MigrateChoices,
    explain: bool,
    who: &Who,
    json: bool,
) -> anyhow::Result<bool> {
    let view = service.plan_migration(app, &options(choices)).await?;
    if json {
        let steps: Vec<_> = view
            .plan
            .calls(1)
            .iter()
            .zip(&view.plan.steps)
            .zip(&view.decisions)
            .map(|((call, step), d)| {
                json!({ "kind": call.policy_action(), "step": call.to_string(), "action": step.action,
                        "usd_per_hour": step.cost_cents_per_hour as f64 / 100.0, "data_at_risk": step.data_at_risk,
                        "downtime_minutes": step.downtime_minutes, "why": step.why, "decision": d })
            })
            .collect();
        let (added, saved) = view.plan.costs();
        line(&serde_json::to_string_pretty(&json!({
            "app": view.plan.app, "source": view.source, "environment": view.plan.environment,
            "heroku_region": view.plan.heroku_region, "aws_region": view.plan.aws_region,
            "steps": steps, "usd_per_hour_added": added, "usd_per_hour_saved": saved,
            "notes": view.plan.notes, "blockers": view.plan.blockers,
        }))?);
    } else {
        print(&plan_text(&view));
    }
    if explain {
        let caller = caller(service.config(), who, &Operation::Ask { question: format!("explain migrating {app}") })?;
        let consulted = service.explain_migration(&caller, app, &view).await?;
        return Ok(super::ask::show(&consulted, json));
    }
    Ok(true)
}

async fn status(service: &Service, app: &str, json: bool) -> anyhow::Result<bool> {
    let s = service.migration_status(app).await?;
    if json {
        line(&serde_json::to_string_pretty(&s)?);
        return Ok(true);
    }
    let mut out = format!(
        "Migration #{} of {} → AWS {}: {} (started by {} at {}{})\n",
        s.migration,
        s.app,
        s.environment,
        s.state,
        s.started_by,
        full(s.created_ms),
        s.outcome.as_deref().map(|o| format!("; {o}")).unwrap_or_default()
    );
    for step in &s.steps {
        let proposal = step.proposal.map(|p| format!(" #{p}")).unwrap_or_default();
        let head = format!("{:>2}. {:<18} {:<16}{proposal}", step.step, step.kind, step.state);
        out.push_str(head.trim_end());
        out.push('\n');
        let decided: Vec<String> = step.decisions.iter().map(|(who, d, _)| format!("{d}d by {who}")).collect();
        if !decided.is_empty() {
            out.push_str(&format!("    {}\n", decided.join(", ")));
        }
        let mut day = String::new();
        let times: Vec<String> =
            [("filed", step.filed_ms), ("started", step.started_ms), ("finished", step.finished_ms)]
                .iter()
                .filter_map(|(what, at)| {
                    let at = crate::time::datetime((*at)?);
                    // The date where it changes, then the time alone.
                    let date = at.format("%Y-%m-%d").to_string();
                    let shown = match date == day {
                        true => at.format("%H:%M").to_string(),
                        false => at.format("%Y-%m-%d %H:%MZ").to_string(),
                    };
                    day = date;
                    Some(format!("{what} {shown}"))
                })
                .collect();
        if !times.is_empty() {
            out.push_str(&format!("    {}\n", times.join(", ")));
        }
        if let Some(summary) = &step.summary {
            out.push_str(&format!("    {summary}\n"));
        }
        match (&step.outcome, step.state.as_str()) {
            (Some(outcome), "succeeded") => out.push_str(&format!("    checked: {outcome}\n")),
            (Some(outcome), _) => out.push_str(&format!("    {outcome}\n")),
            (None, _) => {}
        }
        for m in &step.manual {
            out.push_str(&format!("    MANUAL: {m}\n"));
        }
        if let Some((id, state)) = &step.undo {
            out.push_str(&format!("    undo #{id}: {state}\n"));
        }
    }
    print(&out);
    Ok(true)
}
