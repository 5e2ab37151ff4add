//! The GPU planner on the simulated cloud: it learns what a job takes, replaces a worker
//! under a spot notice at once, and never proposes past the pool's hourly budget.

use std::sync::Arc;

use steward_planners::{GpuQueue, GpuQueueConfig, Planner, Remembered};
use steward_sim::{GroupSpec, Load, SimCloud, SimOption, SimPool};
use steward_tools::provider::CloudProvider;
use steward_tools::{validate, ApprovedCall, Budget, Environment, Grant, GroupKind, LaunchOption, Market, ToolCall};

const MINUTE: i64 = 60_000;

fn cloud(min: u32, jobs: Vec<f64>, minutes_per_job: u32, budget: Budget) -> SimCloud {
    let option = |market| {
        SimOption::new(LaunchOption { instance_type: "g5.xlarge".into(), zone: None, market, max_price: None })
    };
    let spec = GroupSpec {
        name: "gpu".into(),
        kind: GroupKind::GpuPool,
        environment: Environment::Staging,
        instance_type: "g5.xlarge".into(),
        min,
        max: 40,
        desired: min,
        requests_per_instance: 0.0,
        launch_delay_minutes: 3,
        minutes_per_job,
        unmanaged: 0,
        load: Load::Series(Arc::new(jobs)),
        pool: SimPool {
            options: vec![option(Market::Spot), option(Market::OnDemand)],
            budget,
            one_job_per_worker: false,
        },
    };
    SimCloud::new(vec![spec], 0, 5)
}

/// Plan, run what was planned, move a minute; `minutes` times. Returns every call planned.
async fn drive(cloud: &SimCloud, planner: &mut GpuQueue, minutes: usize) -> Vec<ToolCall> {
    let mut calls = Vec::new();
    for m in 0..minutes {
        let o = cloud.observe().await.expect("observe");
        for (i, plan) in planner.plan(&o).into_iter().enumerate() {
            let validated = validate(plan.call.clone(), &o).expect("the planner proposes valid calls");
            let approved = ApprovedCall::grant(validated, Grant::Policy { policies: vec![] });
            let id = format!("p-{}-{m}-{i}", o.at_ms);
            cloud.execute(&id, &approved).await.expect("runs");
            calls.push(plan.call);
        }
        cloud.advance_clock(MINUTE).await;
    }
    calls
}

#[tokio::test]
async fn it_learns_how_long_a_job_takes_and_how_long_a_boot_takes() {
    // A steady job every two minutes; jobs take 12 minutes, not the configured 5.
    let jobs: Vec<f64> = (0..240).map(|m| if m % 2 == 0 { 1.0 } else { 0.0 }).collect();
    let cloud = cloud(0, jobs, 12, Budget::default());
    let mut planner = GpuQueue::new(GpuQueueConfig::default());
    drive(&cloud, &mut planner, 240).await;
    let (job, boot, rate) = planner.learnt("gpu").expect("learnt");
    assert!((job - 12.0).abs() < 1.5, "learnt {job:.1} min a job");
    assert!((boot - 3.0).abs() < 0.5, "learnt {boot:.1} min a boot");
    assert!((rate - 0.5).abs() < 0.2, "learnt {rate:.2} jobs a minute");
}

#[tokio::test]
async fn a_worker_under_notice_is_replaced_at_once_on_the_next_option() {
    let cloud = cloud(2, vec![0.0; 30], 5, Budget::default());
    let mut planner = GpuQueue::new(GpuQueueConfig::default());
    assert!(drive(&cloud, &mut planner, 3).await.is_empty(), "two idle workers at the minimum stay");
    let first = cloud.observe().await.expect("observe").group("gpu").expect("gpu").instances[0].id.clone();
    // The minimum's workers start in the first option (spot): give one its notice.
    assert!(cloud.interrupt(&first));
    let calls = drive(&cloud, &mut planner, 1).await;
    assert!(
        matches!(calls.as_slice(), [ToolCall::ProvisionGpuWorkers(p)] if p.count == 1),
        "one replacement at once: {calls:?}"
    );
    let after = cloud.observe().await.expect("observe");
    let gpu = after.group("gpu").expect("gpu");
    let replacement = gpu.instances.iter().find(|i| i.state == steward_tools::InstanceState::Pending).expect("booting");
    assert_eq!(replacement.capacity.as_ref().map(|c| c.market), Some(Market::OnDemand), "spot is being reclaimed");
}

#[tokio::test]
async fn it_stays_inside_the_hourly_budget_at_the_worst_case_price() {
    let mut jobs = vec![0.0; 20];
    jobs[0] = 30.0;
    // Room for three workers at the worst case (on demand: spot has no max price here).
    let cap = 3.0 * 1.006 + 0.01;
    let budget = Budget { max_usd_per_hour: Some(cap), max_usd_per_month: None };
    let cloud = cloud(0, jobs, 5, budget);
    let mut planner = GpuQueue::new(GpuQueueConfig::default());
    let mut most = 0.0f64;
    for _ in 0..20 {
        drive(&cloud, &mut planner, 1).await;
        let o = cloud.observe().await.expect("observe");
        let gpu = o.group("gpu").expect("gpu");
        most = most.max(gpu.hourly_burn());
        assert!(gpu.queue_depth.unwrap_or(0) > 0, "more work than the budget buys");
    }
    let gpu = cloud.observe().await.expect("observe").group("gpu").cloned().expect("gpu");
    assert!(most <= cap, "burned up to ${most:.2}/h, above ${cap:.2}/h");
    assert!(
        gpu.hourly_burn() + 1.006 > cap,
        "it stopped only when one more could break the cap: {} workers, ${:.2}/h",
        gpu.instances.len(),
        gpu.hourly_burn()
    );
    assert!(gpu.instances.len() > 3, "spot workers cost less than the worst case, so more fit");
}

/// Two workers busy all along, a job started every four minutes: 8 minutes a job.
fn remembered(from_minute: i64, minutes: i64, started_from: u64) -> Vec<Remembered> {
    (0..minutes)
        .map(|m| Remembered {
            group: "gpu".into(),
            at_ms: (from_minute + m) * MINUTE,
            requests_per_minute: None,
            busy: Some(2),
            jobs_started: Some(started_from + u64::try_from(m / 4).expect("small")),
        })
        .collect()
}

#[test]
fn it_starts_from_what_the_store_remembers_and_skips_gaps_and_resets() {
    let config = GpuQueueConfig { minutes_per_job: 3.0, ..GpuQueueConfig::default() };
    let mut planner = GpuQueue::new(config);
    assert!(planner.wants_history());
    for row in remembered(0, 120, 0) {
        planner.remember(&row);
    }
    let (job, _, _) = planner.learnt("gpu").expect("learnt from history");
    assert!((job - 8.0).abs() < 0.3, "8 minutes a job, not the configured 3: {job}");

    // An hour's gap (the daemon was down; the counter moved on by thousands meanwhile) and
    // a counter that went back (the provider restarted) are not counted.
    let mut planner = GpuQueue::new(config);
    let mut rows = remembered(0, 120, 0);
    rows.extend(remembered(180, 120, 10_000));
    rows.extend(remembered(300, 120, 5));
    for row in &rows {
        planner.remember(row);
    }
    let (job, _, _) = planner.learnt("gpu").expect("learnt from history");
    assert!((job - 8.0).abs() < 0.3, "{job}");

    // Rows without the pool's figures (another group, or rows from before they were kept)
    // teach nothing: the configured figure stays.
    let mut planner = GpuQueue::new(config);
    for mut row in remembered(0, 120, 0) {
        row.busy = None;
        planner.remember(&row);
    }
    assert_eq!(planner.learnt("gpu"), None, "nothing learnt: the configured figures hold");
}
