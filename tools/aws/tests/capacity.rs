//! GPU capacity through the real SDK against the AWS API emulator, with a fault-injecting
//! proxy in front of it for what the emulator cannot produce (`InsufficientInstanceCapacity`
//! for chosen options, spot interruption notices): the next option takes over, the option
//! that failed cools off and is not asked again, spot falls back to on demand, a worker
//! under notice is seen with its deadline, and a launch is never made twice.

use steward_aws::testing::{emulator, gpu_pool, FaultProxy};
use steward_aws::{AwsProvider, AwsSettings};
use steward_tools::capacity::INTERRUPTED;
use steward_tools::provider::CloudProvider;
use steward_tools::{validate, ApprovedCall, Grant, LaunchOption, Market, ProvisionGpuWorkers, ToolCall};

/// A name no earlier run against the same emulator used.
fn unique(name: &str) -> String {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
    format!("{name}-{nanos}")
}

fn option(instance_type: &str, zone: &str, market: Market) -> LaunchOption {
    LaunchOption { instance_type: instance_type.into(), zone: Some(zone.into()), market, max_price: None }
}

async fn provider(proxy: &FaultProxy, region: &str, options: Vec<LaunchOption>) -> AwsProvider {
    let mut settings = AwsSettings::new(region);
    settings.endpoint_url = Some(proxy.url.clone());
    let mut pool = gpu_pool(region, &unique("gpu"));
    pool.instance_type = options[0].instance_type.clone();
    pool.options = options;
    settings.pools.push(pool);
    AwsProvider::connect(settings).await
}

/// An action id unique to this run.
fn ids(name: &str) -> String {
    unique(name)
}

/// The one pool's snapshot.
fn gpu(o: &steward_tools::Observation) -> &steward_tools::GroupSnapshot {
    o.groups.iter().find(|g| g.pool.is_some()).expect("the pool")
}

async fn launch(
    aws: &AwsProvider,
    id: &str,
    count: u32,
) -> Result<steward_tools::ActionReceipt, steward_tools::ProviderError> {
    let o = aws.observe().await.expect("observe");
    let pool = gpu(&o).name.clone();
    let call = ToolCall::ProvisionGpuWorkers(ProvisionGpuWorkers { pool, count, instance_type: None, market: None });
    let approved = ApprovedCall::grant(validate(call, &o).expect("valid"), Grant::Policy { policies: vec![] });
    aws.execute(id, &approved).await
}

fn launches(proxy: &FaultProxy) -> Vec<String> {
    proxy.seen().into_iter().filter(|s| s.starts_with("RunInstances")).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_capacity_falls_back_cools_off_and_spot_falls_back_to_on_demand() {
    let proxy = FaultProxy::start(&emulator()).await;
    let region = "ap-northeast-1";
    let aws = provider(
        &proxy,
        region,
        vec![
            option("g5.xlarge", "ap-northeast-1a", Market::Spot),
            option("g5.xlarge", "ap-northeast-1c", Market::OnDemand),
            option("g6.xlarge", "ap-northeast-1a", Market::OnDemand),
        ],
    )
    .await;
    proxy.no_capacity("g5.xlarge", Some("ap-northeast-1a"), Market::Spot);
    proxy.no_capacity("g5.xlarge", None, Market::OnDemand);

    let receipt = launch(&aws, &ids("cap-1"), 2).await.expect("the third option launches");
    assert_eq!(receipt.launched.len(), 2);
    let placed: Vec<_> = receipt.placements.iter().map(|p| (p.instance_type.as_str(), p.market, p.count)).collect();
    assert_eq!(placed, [("g6.xlarge", Market::OnDemand, 2)], "{receipt:?}");
    let skipped: Vec<_> = receipt.skipped.iter().map(|s| (s.option.as_str(), s.code.as_str())).collect();
    assert_eq!(
        skipped,
        [
            ("g5.xlarge/ap-northeast-1a/spot", "InsufficientInstanceCapacity"),
            ("g5.xlarge/ap-northeast-1c/on_demand", "InsufficientInstanceCapacity"),
        ]
    );
    assert_eq!(
        launches(&proxy),
        [
            "RunInstances g5.xlarge ap-northeast-1a spot",
            "RunInstances g5.xlarge ap-northeast-1c on_demand",
            "RunInstances g6.xlarge ap-northeast-1a on_demand",
        ],
        "one attempt each: capacity answers are not retried by the SDK"
    );

    // The observation shows the two cooling off; a second launch does not ask them again.
    let o = aws.observe().await.expect("observe");
    let gpu = gpu(&o);
    let state = gpu.pool.as_ref().expect("pool state");
    let cooling: Vec<_> = state.options.iter().map(|o| o.unavailable.as_ref().map(|u| u.code.clone())).collect();
    assert_eq!(
        cooling,
        [Some("InsufficientInstanceCapacity".into()), Some("InsufficientInstanceCapacity".into()), None]
    );
    assert!(gpu.instances.iter().all(|i| i.capacity.as_ref().is_some_and(|c| c.market == Market::OnDemand)));
    let id = ids("cap-2");
    let second = launch(&aws, &id, 1).await.expect("launch");
    assert_eq!(second.placements[0].instance_type, "g6.xlarge");
    assert_eq!(second.skipped.len(), 2, "passed over while cooling off");
    assert_eq!(launches(&proxy).len(), 4, "only the third option asked");

    // The same action again launches nothing.
    let again = launch(&aws, &id, 1).await.expect("again");
    assert_eq!(again.launched, second.launched);
    assert_eq!(launches(&proxy).len(), 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_option_with_less_room_places_what_it_can_and_the_next_takes_the_rest() {
    let proxy = FaultProxy::start(&emulator()).await;
    let region = "sa-east-1";
    let aws = provider(
        &proxy,
        region,
        vec![option("g5.xlarge", "sa-east-1a", Market::OnDemand), option("g6.xlarge", "sa-east-1a", Market::OnDemand)],
    )
    .await;
    proxy.room("g5.xlarge", 2);
    let receipt = launch(&aws, &ids("room-1"), 5).await.expect("launch");
    let placed: Vec<_> = receipt.placements.iter().map(|p| (p.instance_type.as_str(), p.count)).collect();
    assert_eq!(placed, [("g5.xlarge", 2), ("g6.xlarge", 3)]);
    assert_eq!(receipt.launched.len(), 5);
    assert_eq!(gpu(&aws.observe().await.expect("observe")).instances.len(), 5);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spot_workers_run_as_spot_and_a_notice_is_seen_and_cools_the_option_off() {
    let proxy = FaultProxy::start(&emulator()).await;
    let region = "ap-south-1";
    let aws = provider(
        &proxy,
        region,
        vec![option("g5.xlarge", "ap-south-1a", Market::Spot), option("g5.xlarge", "ap-south-1b", Market::OnDemand)],
    )
    .await;
    let receipt = launch(&aws, &ids("spot-1"), 2).await.expect("spot launches");
    assert_eq!(receipt.placements[0].market, Market::Spot);
    let o = aws.observe().await.expect("observe");
    let gpu = gpu(&o);
    let spot_price = steward_tools::prices::shipped("us-east-1", "g5.xlarge").and_then(|p| p.spot);
    for worker in &gpu.instances {
        let capacity = worker.capacity.as_ref().expect("placed");
        assert_eq!((capacity.market, capacity.zone.as_deref()), (Market::Spot, Some("ap-south-1a")));
        assert!(capacity.interruption_at_ms.is_none());
        assert!(spot_price.is_none_or(|p| capacity.price <= 1.006 && p > 0.0));
    }
    let policy_price = validate(
        ToolCall::ProvisionGpuWorkers(ProvisionGpuWorkers {
            pool: gpu.name.clone(),
            count: 1,
            instance_type: None,
            market: None,
        }),
        &o,
    )
    .expect("valid");
    assert!(policy_price.facts().hourly_price >= gpu.instances[0].capacity.as_ref().map_or(0.0, |c| c.price));

    let victim = receipt.launched[0].clone();
    proxy.notice(&victim);
    let o = aws.observe().await.expect("observe");
    let pool = self::gpu(&o);
    let noticed: Vec<_> = pool
        .instances
        .iter()
        .filter(|i| i.capacity.as_ref().is_some_and(|c| c.interruption_at_ms.is_some()))
        .map(|i| i.id.clone())
        .collect();
    assert_eq!(noticed, [victim]);
    assert_eq!(pool.staying(), 1);
    let spot = &pool.pool.as_ref().expect("pool").options[0];
    assert_eq!(spot.unavailable.as_ref().map(|u| u.code.as_str()), Some(INTERRUPTED));
    assert!(proxy.seen().iter().any(|a| a == "DescribeSpotInstanceRequests"));

    // The replacement goes to the next option: spot there is being reclaimed.
    let replacement = launch(&aws, &ids("spot-2"), 1).await.expect("replacement");
    assert_eq!(replacement.placements[0].market, Market::OnDemand);
    assert_eq!(replacement.skipped[0].code, INTERRUPTED);
}
