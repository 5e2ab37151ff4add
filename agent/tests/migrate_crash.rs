//! `kill -9` of the real daemon in the middle of a migration, twice: after the data copy
//! restored the new database but before it was verified, and after the cutover changed DNS
//! but before its receipt was recorded. Each restart finishes the step it was in: the rows
//! are the source's (none twice), nothing is created twice, and the rollback still knows
//! what DNS held before the cutover. On both store backends.

mod common;

use std::time::Duration;

use common::migration::{heroku_record, step, Fixture};
use serde_json::Value;
use steward_memory::both;
use steward_memory::testing::TestDb;
use steward_migrate::target::Target;

/// Approve (as the OS user who started it: allowed outside prod) what step `n` waits for.
async fn approve_step(f: &Fixture, n: usize) -> i64 {
    let status = f.wait(&format!("step {n} to wait for approval"), |s| step(s, n)["state"] == "pending_approval").await;
    let id = step(&status, n)["proposal"].as_i64().expect("proposal");
    f.ok(&["approve", &id.to_string()]).await;
    id
}

/// The audit entries (`audit tail --json`: one JSON object a line) of kind `kind`.
async fn entries(f: &Fixture, args: &[&str], kind: &str) -> usize {
    let mut all = vec!["audit", "tail", "--json"];
    all.extend(args);
    let text = f.ok(&all).await;
    let entries: Vec<Value> = text.lines().map(|l| serde_json::from_str(l).expect("an audit entry")).collect();
    entries.iter().filter(|e| e["kind"] == kind).count()
}

async fn resumes_after_kill_9_during_the_copy_and_the_cutover(db: &TestDb) {
    let name = format!("crash_{}", if db.url.starts_with("sqlite") { "lite" } else { "pg" });
    let f = Fixture::new(&name, &db.url, "").await;
    let app = f.app.clone();
    f.ok(&[
        "migrate",
        "start",
        &app,
        "--environment",
        "staging",
        "--target-database-url",
        &f.target.url,
        "--health-url",
        &f.health_url,
    ])
    .await;

    // Staging, autonomous: secrets and services run on their own; the copy, the cutover
    // and the scale-down wait for one person.
    let daemon = f.daemon("autonomous", &[("STEWARD_PAUSE_AT", "copy_data.verify")]);
    let copy = approve_step(&f, 4).await;
    let mut daemon = daemon;
    daemon.wait_for("paused at copy_data.verify", Duration::from_secs(60));
    assert!(f.data_matches().await, "the restore ran before the kill");
    let lines = daemon.kill9();
    let done = format!("#{copy} done");
    assert!(!lines.iter().any(|l| l.contains(&done)), "killed before the copy's outcome was recorded");
    let status = f.status().await;
    assert_eq!(step(&status, 4)["state"], "executing", "{status:#}");

    // Restart: the copy runs again over what is there and is verified; then the cutover,
    // killed after DNS changed.
    let mut daemon = f.daemon("autonomous", &[("STEWARD_PAUSE_AT", "cut_over_dns.changed")]);
    f.wait("the copy to finish", |s| step(s, 4)["state"] == "succeeded").await;
    assert!(f.data_matches().await, "identical rows and keys after the resumed copy");
    assert_eq!(f.target.count("orders").await, f.source.count("orders").await, "no row twice");
    let executing = entries(&f, &["--proposal", &copy.to_string()], "proposal.executing").await;
    assert_eq!(executing, 1, "one intent to execute; the restart resumed it with the same action id");
    approve_step(&f, 5).await;
    daemon.wait_for("paused at cut_over_dns.changed", Duration::from_secs(60));
    let lb = f.aws.load_balancer(&app).await.expect("lb").expect("the load balancer");
    assert_eq!(f.dns().await[0].values, std::slice::from_ref(&lb.dns_name), "DNS changed before the kill");
    daemon.kill9();

    // Restart: the cutover finds its work done and records what DNS held before it.
    let mut daemon = f.daemon("autonomous", &[]);
    approve_step(&f, 6).await;
    let done = f.wait("the migration to complete", |s| s["state"] == "completed").await;
    let cutover = step(&done, 5)["summary"].as_str().unwrap_or_default().to_string();
    assert!(cutover.contains("was CNAME quiet-river-1.herokudns.com"), "{cutover}");
    // Nothing twice: one load balancer and one service per process type, by name; one
    // record at the domain.
    assert_eq!(f.aws.load_balancer(&app).await.expect("lb"), Some(lb.clone()));
    assert_eq!(f.aws.service(&app, &name, "web").await.expect("ecs"), Some(2));
    assert_eq!(f.aws.service(&app, &name, "worker").await.expect("ecs"), Some(1));
    assert_eq!(f.dns().await.len(), 1);
    assert_eq!(entries(&f, &["-n", "100000"], "migration.step_filed").await, 6, "each step filed once");

    // The rollback puts back the record saved before the first, killed, cutover.
    f.ok(&["migrate", "rollback", &app]).await;
    // Outside prod the inverses of the copy, the cutover and the scale-down wait for a
    // person; the rest run on their own.
    let mut approved = Vec::new();
    loop {
        let status = f.status().await;
        if status["state"] == "rolled_back" {
            break;
        }
        assert_eq!(status["state"], "rolling_back", "{status:#}");
        let waiting = status["steps"].as_array().and_then(|steps| {
            steps.iter().find_map(|s| (s["undo"][1] == "pending_approval").then(|| s["undo"][0].as_i64()).flatten())
        });
        match waiting {
            Some(id) if !approved.contains(&id) => {
                f.ok(&["approve", &id.to_string()]).await;
                approved.push(id);
            }
            _ => tokio::time::sleep(Duration::from_millis(200)).await,
        }
    }
    assert_eq!(approved.len(), 2, "restore_formation and restore_dns waited; end_maintenance is not destructive");
    assert_eq!(f.dns().await, [heroku_record(&f.domain)]);
    assert_eq!(f.aws.load_balancer(&app).await.expect("lb"), None);
    let verify = f.ok(&["audit", "verify"]).await;
    assert!(verify.contains("chain intact"), "{verify}");
    daemon.drain();
}
both!(resumes_after_kill_9_during_the_copy_and_the_cutover);
