//! GPU capacity on the simulated cloud: launch options tried in order, the count split
//! where one is short, the cool-off cache, spot's max price, interruptions with their
//! 2-minute notice (the job re-queued), and what the observation reports of each.

use std::sync::Arc;

use steward_sim::{GroupSpec, Load, SimCloud, SimOption, SimPool};
use steward_tools::capacity::{COOL_OFF_MS, INTERRUPTED, SPOT_NOTICE_MS};
use steward_tools::provider::CloudProvider;
use steward_tools::{
    validate, ApprovedCall, Budget, Environment, Grant, GroupKind, GroupSnapshot, LaunchOption, Market,
    ProvisionGpuWorkers, ToolCall,
};

const MINUTE: i64 = 60_000;

fn option(zone: &str, market: Market) -> SimOption {
    SimOption::new(LaunchOption { instance_type: "g5.xlarge".into(), zone: Some(zone.into()), market, max_price: None })
}

fn pool(options: Vec<SimOption>, jobs: Vec<f64>) -> SimCloud {
    pool_with(options, jobs, false)
}

fn pool_with(options: Vec<SimOption>, jobs: Vec<f64>, one_job_per_worker: bool) -> SimCloud {
    let spec = GroupSpec {
        name: "gpu".into(),
        kind: GroupKind::GpuPool,
        environment: Environment::Staging,
        instance_type: "g5.xlarge".into(),
        min: 0,
        max: 10,
        desired: 0,
        requests_per_instance: 0.0,
        launch_delay_minutes: 2,
        minutes_per_job: 10,
        unmanaged: 0,
        load: Load::Series(Arc::new(jobs)),
        pool: SimPool { options, budget: Budget::default(), one_job_per_worker },
    };
    SimCloud::new(vec![spec], 0, 1)
}

async fn gpu(cloud: &SimCloud) -> GroupSnapshot {
    cloud.observe().await.expect("observe").group("gpu").cloned().expect("the pool")
}

async fn launch(
    cloud: &SimCloud,
    id: &str,
    count: u32,
) -> Result<steward_tools::ActionReceipt, steward_tools::ProviderError> {
    let call = ToolCall::ProvisionGpuWorkers(ProvisionGpuWorkers {
        pool: "gpu".into(),
        count,
        instance_type: None,
        market: None,
    });
    let validated = validate(call, &cloud.observe().await.expect("observe")).expect("valid");
    cloud.execute(id, &ApprovedCall::grant(validated, Grant::Policy { policies: vec![] })).await
}

#[tokio::test]
async fn options_are_tried_in_order_split_where_short_and_cooled_off() {
    let mut spot = option("us-east-1a", Market::Spot);
    spot.capacity = Some(1);
    let cloud = pool(vec![spot, option("us-east-1a", Market::OnDemand)], vec![0.0; 60]);
    let receipt = launch(&cloud, "a-1", 3).await.expect("launched");
    let placed: Vec<_> = receipt.placements.iter().map(|p| (p.market, p.count)).collect();
    assert_eq!(placed, [(Market::Spot, 1), (Market::OnDemand, 2)]);
    assert_eq!(receipt.launched.len(), 3);
    assert_eq!(receipt.skipped.len(), 1);
    assert_eq!(receipt.skipped[0].option, "g5.xlarge/us-east-1a/spot");
    assert_eq!(receipt.skipped[0].code, "InsufficientInstanceCapacity");
    assert!(receipt.summary.contains("1 × g5.xlarge spot in us-east-1a"), "{}", receipt.summary);
    assert!(receipt.placements[0].price < receipt.placements[1].price, "spot is cheaper");

    // The observation shows the option cooling off, and the next launch passes it over.
    let seen = gpu(&cloud).await;
    let state = seen.pool.as_ref().expect("pool state");
    let cooling = state.options[0].unavailable.as_ref().expect("cooling off");
    assert_eq!((cooling.code.as_str(), cooling.until_ms), ("InsufficientInstanceCapacity", COOL_OFF_MS));
    assert!(state.options[1].unavailable.is_none());
    let burn = seen.hourly_burn();
    let prices: f64 = seen.instances.iter().map(|i| i.capacity.as_ref().expect("placed").price).sum();
    assert!((burn - prices).abs() < 1e-9, "each worker burns at its own price");
    let again = launch(&cloud, "a-2", 1).await.expect("launched");
    assert_eq!(again.placements[0].market, Market::OnDemand);
    assert_eq!(again.skipped[0].code, "InsufficientInstanceCapacity", "skipped without asking");
    // The same action again does nothing new.
    assert_eq!(launch(&cloud, "a-2", 1).await.expect("same").launched, again.launched);
    assert_eq!(gpu(&cloud).await.instances.len(), 4);
}

#[tokio::test]
async fn a_shortage_and_a_low_max_price_fall_back_and_nothing_anywhere_is_one_error() {
    let mut short = option("us-east-1a", Market::OnDemand);
    short.shortages.push((0, 30));
    let mut cheap = option("us-east-1b", Market::Spot);
    cheap.option.max_price = Some(0.05);
    let cloud = pool(vec![short.clone(), cheap.clone(), option("us-east-1c", Market::OnDemand)], vec![0.0; 60]);
    let receipt = launch(&cloud, "b-1", 2).await.expect("launched");
    assert_eq!(receipt.placements[0].zone.as_deref(), Some("us-east-1c"));
    let codes: Vec<_> = receipt.skipped.iter().map(|s| s.code.as_str()).collect();
    assert_eq!(codes, ["InsufficientInstanceCapacity", "SpotMaxPriceTooLow"]);

    let alone = pool(vec![short, cheap], vec![0.0; 60]);
    let err = launch(&alone, "b-2", 1).await.expect_err("no capacity anywhere");
    assert!(err.is_retryable(), "the cool-off ends: {err}");
    assert_eq!(
        err.to_string(),
        "the cloud is out of capacity: no launch option has capacity: g5.xlarge/us-east-1a/on_demand \
         (InsufficientInstanceCapacity), g5.xlarge/us-east-1b/spot (SpotMaxPriceTooLow)"
    );
    // After the shortage and the cool-off, the first option launches again.
    alone.advance_clock(31 * MINUTE).await;
    let later = launch(&alone, "b-3", 1).await.expect("capacity is back");
    assert_eq!(later.placements[0].zone.as_deref(), Some("us-east-1a"));
}

#[tokio::test]
async fn an_interrupted_worker_gets_its_notice_then_goes_and_its_job_is_queued_again() {
    let mut jobs = vec![0.0; 60];
    jobs[3] = 1.0;
    let cloud = pool(vec![option("us-east-1a", Market::Spot), option("us-east-1a", Market::OnDemand)], jobs);
    let receipt = launch(&cloud, "c-1", 1).await.expect("launched");
    let worker = receipt.launched[0].clone();
    cloud.advance_clock(4 * MINUTE).await; // booted at 2, took the job at 3
    let before = gpu(&cloud).await;
    assert!(before.instances[0].busy);
    let started = before.pool.as_ref().and_then(|p| p.jobs_started);
    assert_eq!(started, Some(1));

    assert!(cloud.interrupt(&worker));
    assert!(!cloud.interrupt("i-nobody"));
    let noticed = gpu(&cloud).await;
    let notice = noticed.instances[0].capacity.as_ref().and_then(|c| c.interruption_at_ms);
    assert_eq!(notice, Some(4 * MINUTE + SPOT_NOTICE_MS));
    assert_eq!(noticed.staying(), 0);
    let spot = &noticed.pool.as_ref().expect("pool").options[0];
    assert_eq!(spot.unavailable.as_ref().map(|u| u.code.as_str()), Some(INTERRUPTED));

    // A replacement now goes on demand: the spot option is cooling off.
    let replacement = launch(&cloud, "c-2", 1).await.expect("replacement");
    assert_eq!(replacement.placements[0].market, Market::OnDemand);

    cloud.advance_clock(2 * MINUTE).await;
    let after = gpu(&cloud).await;
    assert!(after.instances.iter().all(|i| i.id != worker), "reclaimed after the notice");
    assert_eq!(cloud.interruptions(), (1, 1), "one worker reclaimed with its job");
    // The job went back to the queue and the replacement (booted at 6) took it again.
    assert_eq!(after.pool.as_ref().and_then(|p| p.jobs_started), Some(2));
    assert!(after.instances[0].busy);
}

#[tokio::test]
async fn a_storm_reclaims_spot_workers_and_spares_on_demand_ones() {
    let mut spot = option("us-east-1a", Market::Spot);
    spot.storms.push((10, 10, 0.999));
    let mut on_demand = option("us-east-1b", Market::OnDemand);
    on_demand.interruptions_per_month = 0.9; // ignored: on-demand capacity is not reclaimed
    let cloud = pool(vec![spot, on_demand], vec![0.0; 60]);
    launch(&cloud, "d-1", 4).await.expect("spot");
    let od = ToolCall::ProvisionGpuWorkers(ProvisionGpuWorkers {
        pool: "gpu".into(),
        count: 2,
        instance_type: None,
        market: Some(Market::OnDemand),
    });
    let validated = validate(od, &cloud.observe().await.expect("observe")).expect("valid");
    cloud.execute("d-2", &ApprovedCall::grant(validated, Grant::Policy { policies: vec![] })).await.expect("od");
    cloud.advance_clock(25 * MINUTE).await;
    let after = gpu(&cloud).await;
    assert_eq!(after.instances.len(), 2, "the spot workers are gone");
    assert!(after.instances.iter().all(|i| i.capacity.as_ref().is_some_and(|c| c.market == Market::OnDemand)));
    assert_eq!(cloud.interruptions().0, 4);
}

#[tokio::test]
async fn a_one_job_worker_goes_when_its_job_ends_and_takes_no_second() {
    let mut jobs = vec![0.0; 60];
    jobs[0] = 3.0;
    for one_job in [true, false] {
        let cloud = pool_with(vec![option("us-east-1a", Market::OnDemand)], jobs.clone(), one_job);
        launch(&cloud, "a-1", 2).await.expect("launched");
        cloud.advance_clock(4 * MINUTE).await; // booted at 2, each took a job
        let seen = gpu(&cloud).await;
        assert_eq!((seen.instances.iter().filter(|i| i.busy).count(), seen.queue_depth), (2, Some(1)));
        cloud.advance_clock(10 * MINUTE).await; // their jobs ended
        let seen = gpu(&cloud).await;
        if one_job {
            assert!(seen.instances.is_empty(), "each went when its job ended: {:?}", seen.instances);
            assert_eq!(seen.queue_depth, Some(1), "the third job is not handed to a finished worker");
        } else {
            assert_eq!(seen.instances.len(), 2);
            assert_eq!(seen.queue_depth, Some(0), "a freed worker took the third job");
        }
    }
}
