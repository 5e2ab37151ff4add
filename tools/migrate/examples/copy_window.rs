//! The maintenance window of a migration's data copy against a bare copy of the same
//! database on the same machine.
//!
//! ```sh
//! cargo run --release -p steward-migrate --features testing --example copy_window -- [--scale 50] [--jobs 2]
//! ```
//!
//! Makes a pgbench database of the given scale (`pgbench -i -s N`, 50 by default: five
//! million accounts) on the test server (`STEWARD_TEST_DATABASE_URL`), then times:
//! - the bare copy: `pg_dump -Fc SOURCE | pg_restore --dbname TARGET`, one stream;
//! - Steward's window: the `copy_data` step as the daemon runs it, from maintenance mode on
//!   at Heroku (the Platform API stand-in) to every table's rows and keys checked: a
//!   directory-format `pg_dump` and `pg_restore` with `--jobs` workers each, then the
//!   verification of both sides.
//!
//! Each is run `--runs` times (default 2) into a freshly emptied target, one after the
//! other; the best and the median of each are reported, with the ratios. The goal: the
//! window is at most 1.2 times the bare copy.

use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use steward_heroku::testing::{shop, HerokuStandIn};
use steward_migrate::testing::ScratchDb;
use steward_migrate::{Migrator, NoInputs, PgCopier, SimTarget, Target};
use steward_tools::{Environment, MigrationStep, Secret, StepAction};

fn arg(name: &str, default: u32) -> u32 {
    let args: Vec<String> = std::env::args().collect();
    args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// libpq's environment for `db`, so no URL with a password reaches a command line.
fn env(db: &ScratchDb) -> Vec<(&'static str, String)> {
    steward_migrate::copy::pg_env(&db.secret()).expect("a postgres URL")
}

fn bare_copy(source: &ScratchDb, target: &ScratchDb) -> Duration {
    let started = Instant::now();
    let mut dump = Command::new("pg_dump")
        .args(["--format=custom", "--no-owner", "--no-acl"])
        .envs(env(source))
        .stdout(Stdio::piped())
        .spawn()
        .expect("pg_dump");
    let restore = Command::new("pg_restore")
        .args(["--no-owner", "--no-acl", "--exit-on-error", &format!("--dbname={}", target.name)])
        .envs(env(target))
        .stdin(dump.stdout.take().expect("pipe"))
        .status()
        .expect("pg_restore");
    assert!(dump.wait().expect("pg_dump").success() && restore.success(), "the bare copy failed");
    started.elapsed()
}

async fn reset(target: &ScratchDb) -> ScratchDb {
    ScratchDb::create(&target.name).await
}

#[tokio::main]
async fn main() {
    let scale = arg("--scale", 50);
    let jobs = arg("--jobs", 2);
    let runs = arg("--runs", 2).max(1);
    let source = ScratchDb::create("steward_bench_source").await;
    let mut target = ScratchDb::create("steward_bench_target").await;
    eprintln!("pgbench -i -s {scale} …");
    let made = Instant::now();
    let status = Command::new("pgbench")
        .args(["-i", "-q", "-s", &scale.to_string(), "--foreign-keys"])
        .envs(env(&source))
        .stdout(Stdio::null())
        .status()
        .expect("pgbench");
    assert!(status.success(), "pgbench -i failed");
    let rows = source.count("pgbench_accounts").await;
    eprintln!("{rows} accounts in {:.0} s", made.elapsed().as_secs_f64());
    let size: i64 = {
        use sqlx::Row;
        let mut conn = source.connect().await;
        sqlx::query("SELECT pg_database_size(current_database()) AS b")
            .fetch_one(&mut conn)
            .await
            .expect("size")
            .get("b")
    };

    // Heroku (the stand-in) and the target's URL where the copy step finds it.
    let heroku = HerokuStandIn::start("bench").await;
    heroku.add_app(shop("benchshop", &source.url, &[], "www.benchshop.example"));
    let api = steward_heroku::HerokuApi::new(&heroku.url, Secret::new("bench".into())).expect("client");
    let sim = Arc::new(SimTarget::new());
    sim.put_secrets(&[("/steward/benchshop/DATABASE_URL".into(), target.secret())]).await.expect("ssm");
    let migrator = Migrator {
        heroku: Arc::new(api),
        target: sim.clone(),
        copier: Arc::new(PgCopier::default()),
        inputs: Arc::new(NoInputs),
    };
    let step = MigrationStep {
        app: "benchshop".into(),
        migration: 1,
        environment: Environment::Staging,
        action: StepAction::CopyData {
            source_var: "DATABASE_URL".into(),
            target_parameter: "/steward/benchshop/DATABASE_URL".into(),
            jobs,
        },
        cost_cents_per_hour: 0,
        data_at_risk: true,
        downtime_minutes: 10,
    };

    let mut bare = Vec::new();
    let mut window = Vec::new();
    let mut last = String::new();
    for run in 1..=runs {
        target = reset(&target).await;
        let b = bare_copy(&source, &target);
        eprintln!("run {run}: bare {:.1} s", b.as_secs_f64());
        bare.push(b);

        target = reset(&target).await;
        heroku.add_app(shop("benchshop", &source.url, &[], "www.benchshop.example"));
        let started = Instant::now();
        let receipt = migrator.execute(&format!("bench-{run}"), &step).await.expect("the copy step");
        let w = started.elapsed();
        assert!(heroku.app("benchshop").expect("app").maintenance, "maintenance on");
        eprintln!("run {run}: window {:.1} s: {}", w.as_secs_f64(), receipt.summary);
        window.push(w);
        last = receipt.summary;
    }
    let best = |v: &[Duration]| v.iter().min().copied().unwrap_or_default().as_secs_f64();
    let median = |v: &[Duration]| {
        let mut v: Vec<f64> = v.iter().map(Duration::as_secs_f64).collect();
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let ratios: Vec<String> =
        bare.iter().zip(&window).map(|(b, w)| format!("{:.2}", w.as_secs_f64() / b.as_secs_f64())).collect();
    let (b, w) = (best(&bare), best(&window));
    let (mb, mw) = (median(&bare), median(&window));
    let verdict = |r: f64| if r <= 1.2 { "met" } else { "missed" };
    println!(
        "pgbench scale {scale}: {rows} accounts, {:.0} MB on disk; {runs} runs, each into an emptied target",
        size as f64 / 1e6
    );
    println!("bare pg_dump -Fc | pg_restore (one stream):       best {b:.1} s, median {mb:.1} s");
    println!("Steward copy_data window (jobs {jobs}, verified):   best {w:.1} s, median {mw:.1} s");
    println!("  last run: {last}");
    println!("window / bare, run by run: {}", ratios.join(", "));
    println!(
        "window / bare: best {:.2} ({}), median {:.2} ({}); goal ≤ 1.20",
        w / b,
        verdict(w / b),
        mw / mb,
        verdict(mw / mb)
    );
    source.drop_db().await;
    target.drop_db().await;
}
