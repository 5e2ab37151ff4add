//! The simulated cloud behaves like a cloud: deterministic for a seed, capacity follows
//! desired after a launch delay, GPU workers drain the queue, unmanaged instances stay
//! invisible, execution is idempotent on the action id, and injected failures surface.

use steward_sim::{demo_fleet, Failure, SimCloud};
use steward_tools::provider::{CloudProvider, ProviderError};
use steward_tools::{validate, ApprovedCall, Grant, ProvisionGpuWorkers, ScaleGroup, TerminateWorkers, ToolCall};

// 07:00 UTC, where the demo day starts.
const START: i64 = 1_800_003_600_000 - 1_800_003_600_000 % 86_400_000 + 7 * 3_600_000;
const MINUTE: i64 = 60_000;

async fn approved(cloud: &SimCloud, call: ToolCall) -> ApprovedCall {
    let observation = cloud.observe().await.expect("observe");
    let validated = validate(call, &observation).expect("valid call");
    ApprovedCall::grant(validated, Grant::Approvers { names: vec!["test".into()] })
}

async fn trace(seed: u64) -> Vec<(f64, u64)> {
    let cloud = SimCloud::new(demo_fleet(), START, seed);
    let mut out = Vec::new();
    for _ in 0..90 {
        cloud.advance_clock(MINUTE).await;
        let o = cloud.observe().await.expect("observe");
        out.push((
            o.group("web").and_then(|g| g.requests_per_minute).unwrap_or(-1.0),
            o.group("gpu").and_then(|g| g.queue_depth).unwrap_or(0),
        ));
    }
    out
}

#[tokio::test]
async fn same_seed_same_run_other_seed_other_run() {
    assert_eq!(trace(7).await, trace(7).await);
    assert_ne!(trace(7).await, trace(8).await);
}

#[tokio::test]
async fn scale_out_takes_the_launch_delay_and_raises_capacity() {
    let cloud = SimCloud::new(demo_fleet(), START, 1);
    let call = ToolCall::ScaleGroup(ScaleGroup { group: "web".into(), current_desired: 4, desired: 8 });
    let receipt = cloud.execute("a-1", &approved(&cloud, call).await).await.expect("scale");
    assert_eq!(receipt.replaced_desired, Some(4));
    let web = |o: steward_tools::Observation| o.group("web").cloned().expect("web");
    let now = web(cloud.observe().await.expect("observe"));
    assert_eq!((now.desired, now.running(), now.pending()), (8, 4, 4));
    cloud.advance_clock(3 * MINUTE).await;
    let later = web(cloud.observe().await.expect("observe"));
    assert_eq!((later.running(), later.pending()), (8, 0));
}

#[tokio::test]
async fn gpu_workers_drain_the_job_queue() {
    let cloud = SimCloud::new(demo_fleet(), START, 3);
    cloud.advance_clock(21 * MINUTE).await; // through the first burst
    let queue = |o: &steward_tools::Observation| o.group("gpu").and_then(|g| g.queue_depth).unwrap_or(0);
    let backlog = queue(&cloud.observe().await.expect("observe"));
    assert!(backlog > 10, "the burst should leave a backlog, got {backlog}");
    let call = ToolCall::ProvisionGpuWorkers(ProvisionGpuWorkers {
        pool: "gpu".into(),
        count: 7,
        instance_type: Some("g5.xlarge".into()),
        market: None,
    });
    cloud.execute("a-gpu", &approved(&cloud, call).await).await.expect("provision");
    cloud.advance_clock(40 * MINUTE).await;
    let after = queue(&cloud.observe().await.expect("observe"));
    assert!(after < backlog / 4, "eight workers should drain {backlog} jobs, {after} left");
}

#[tokio::test]
async fn unmanaged_instances_are_invisible_and_untouchable() {
    let cloud = SimCloud::new(demo_fleet(), START, 1);
    let observation = cloud.observe().await.expect("observe");
    let worker = observation.group("worker").expect("worker");
    assert_eq!(worker.instances.len(), 3);
    assert_eq!(cloud.instance_count("worker"), 4, "one unmanaged instance exists in the cloud");
    // The unmanaged instance was created first: i-worker-… with the lowest number after web's.
    let visible: Vec<_> = worker.instances.iter().map(|i| i.id.clone()).collect();
    let unmanaged = (1..20)
        .map(|n| format!("i-worker-{n:05}"))
        .find(|id| !visible.contains(id) && id.as_str() > "i-worker-00004")
        .expect("an id not visible");
    let call = ToolCall::TerminateWorkers(TerminateWorkers { group: "worker".into(), instance_ids: vec![unmanaged] });
    assert!(validate(call, &observation).is_err(), "validation refuses an unmanaged id");
    assert_eq!(cloud.instance_count("worker"), 4);
}

#[tokio::test]
async fn execution_is_idempotent_on_the_action_id() {
    let cloud = SimCloud::new(demo_fleet(), START, 1);
    let call = ToolCall::ProvisionGpuWorkers(ProvisionGpuWorkers {
        pool: "gpu".into(),
        count: 2,
        instance_type: Some("g5.xlarge".into()),
        market: None,
    });
    let approved = approved(&cloud, call).await;
    let first = cloud.execute("same-id", &approved).await.expect("first");
    let second = cloud.execute("same-id", &approved).await.expect("second");
    assert_eq!(first, second);
    assert_eq!(cloud.instance_count("gpu"), 3);
    assert_eq!(cloud.find_action("same-id").await, Ok(Some(first)));
    assert_eq!(cloud.find_action("other").await, Ok(None));
}

#[tokio::test]
async fn stale_level_is_a_conflict_and_failures_can_be_injected() {
    let cloud = SimCloud::new(demo_fleet(), START, 1);
    let to_six =
        approved(&cloud, ToolCall::ScaleGroup(ScaleGroup { group: "web".into(), current_desired: 4, desired: 6 }))
            .await;
    let to_two =
        approved(&cloud, ToolCall::ScaleGroup(ScaleGroup { group: "web".into(), current_desired: 4, desired: 2 }))
            .await;
    cloud.execute("a", &to_six).await.expect("first change");
    assert!(matches!(cloud.execute("b", &to_two).await, Err(ProviderError::Conflict(_))));

    cloud.inject(Failure::Throttle);
    let to_seven =
        approved(&cloud, ToolCall::ScaleGroup(ScaleGroup { group: "web".into(), current_desired: 6, desired: 7 }))
            .await;
    let throttled = cloud.execute("c", &to_seven).await;
    assert!(matches!(&throttled, Err(e) if e.is_retryable()), "{throttled:?}");
    assert!(cloud.execute("c", &to_seven).await.is_ok(), "the retry goes through");

    cloud.inject(Failure::PartialObservation);
    assert!(!cloud.observe().await.expect("observe").complete);
    cloud.inject(Failure::Unreachable);
    assert!(cloud.observe().await.is_err());
    assert!(cloud.observe().await.expect("observe").complete);
}

#[test]
fn the_demo_day_starts_at_the_next_seven_oclock() {
    let day = 86_400_000;
    let seven = 7 * 3_600_000;
    assert_eq!(steward_sim::demo_start_ms(0), seven);
    assert_eq!(steward_sim::demo_start_ms(seven), day + seven);
    assert_eq!(steward_sim::demo_start_ms(seven - 1), seven);
}
