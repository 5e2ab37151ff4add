//! `steward run --provider aws` against moto server (started by `./deploy/test.sh` at
//! `STEWARD_TEST_AWS_ENDPOINT`): the same loop, policies and audit as on the simulated
//! cloud, on a managed Auto Scaling group running hot.

mod common;

use aws_sdk_autoscaling::types::Tag;
use aws_sdk_cloudwatch::types::{Dimension, MetricDatum, StandardUnit};
use common::{stderr, stdout, Workdir};

const REGION: &str = "us-west-2";

use steward_aws::testing::{emulator as endpoint, emulator_config};

/// Run `steward args` off the async runtime, with the emulator's credentials and `env`.
async fn steward(work: &std::sync::Arc<Workdir>, args: &[&str], env: &[(&str, &str)]) -> std::process::Output {
    let work = work.clone();
    let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    let env: Vec<(String, String)> = env.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let mut command = work.command(&args);
        command.env("AWS_ACCESS_KEY_ID", "testing").env("AWS_SECRET_ACCESS_KEY", "testing");
        command.env("AWS_EC2_METADATA_DISABLED", "true").envs(env);
        command.output().expect("run steward")
    })
    .await
    .expect("join")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn steward_run_provider_aws_scales_a_hot_managed_group() {
    let url = endpoint();
    let config = emulator_config(&url, REGION).await;
    let asg = aws_sdk_autoscaling::Client::new(&config);
    asg.create_launch_configuration()
        .launch_configuration_name("shop-lc")
        .image_id("ami-12c6146b")
        .instance_type("m6i.large")
        .send()
        .await
        .expect("launch configuration");
    let tag = |k: &str, v: &str| {
        Tag::builder()
            .resource_id("shop-web")
            .resource_type("auto-scaling-group")
            .key(k)
            .value(v)
            .propagate_at_launch(true)
            .build()
    };
    asg.create_auto_scaling_group()
        .auto_scaling_group_name("shop-web")
        .launch_configuration_name("shop-lc")
        .min_size(1)
        .max_size(10)
        .desired_capacity(2)
        .availability_zones(format!("{REGION}a"))
        .tags(tag("steward:managed", "true"))
        .tags(tag("steward:group", "web"))
        .tags(tag("steward:environment", "staging"))
        .send()
        .await
        .expect("auto scaling group");
    let cpu = MetricDatum::builder()
        .metric_name("CPUUtilization")
        .dimensions(Dimension::builder().name("AutoScalingGroupName").value("shop-web").build())
        .value(95.0)
        .unit(StandardUnit::Percent)
        .timestamp(aws_sdk_cloudwatch::primitives::DateTime::from(std::time::SystemTime::now()))
        .build();
    let cloudwatch = aws_sdk_cloudwatch::Client::new(&config);
    cloudwatch.put_metric_data().namespace("AWS/EC2").metric_data(cpu).send().await.expect("put metric");

    let work = std::sync::Arc::new(Workdir::new());
    let args = [
        "run",
        "--provider",
        "aws",
        "--mode",
        "autonomous",
        "--ticks",
        "1",
        "--tick-interval",
        "1s",
        "--listen",
        "127.0.0.1:0",
    ];
    let out = steward(&work, &args, &[("AWS_REGION", REGION), ("AWS_ENDPOINT_URL", &url)]).await;
    let text = stdout(&out);
    assert!(out.status.success(), "{text}\n{}", stderr(&out));
    assert!(text.contains(&format!("AWS {REGION}")), "{text}");
    assert!(text.contains("web 2/2 cpu 95%"), "the group is observed with its CPU: {text}");
    assert!(text.contains("scale_group web 2→4"), "{text}");
    assert!(text.contains("done: web desired capacity 2 → 4 (verified)"), "{text}");
    let described =
        asg.describe_auto_scaling_groups().auto_scaling_group_names("shop-web").send().await.expect("describe");
    assert_eq!(described.auto_scaling_groups()[0].desired_capacity(), Some(4), "moto's group was scaled");
    let tags = described.auto_scaling_groups()[0].tags();
    let tag = |k: &str| tags.iter().find(|t| t.key() == Some(k)).and_then(|t| t.value()).map(str::to_string);
    assert!(tag("steward:action-id").is_some_and(|id| !id.is_empty()), "the intent is recorded on the group");
    assert_eq!(tag("steward:action-scale").as_deref(), Some("2:4"));
    let audit = work.run(&["audit", "verify"]);
    assert!(audit.status.success(), "{}", stdout(&audit));
}

/// A crash between the intent and the outcome: on restart the launch is found by its tag and
/// recorded; an intent whose call never reached AWS is marked failed; nothing launches twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_launch_interrupted_by_a_crash_is_found_on_restart_never_repeated() {
    // Through the proxy: it launches as many as asked, as AWS does (the emulator launches
    // only `MinCount`, and a launch asks for at least one).
    let proxy = steward_aws::testing::FaultProxy::start(&endpoint()).await;
    let url = proxy.url.clone();
    let region = "eu-central-1";
    let pool = steward_aws::PoolSettings {
        environment: steward_tools::Environment::Staging,
        queue_namespace: "Jobs".into(),
        queue_dimensions: vec![],
        ..steward_aws::testing::gpu_pool(region, "gpu")
    };
    let mut settings = steward_aws::AwsSettings::new(region);
    settings.endpoint_url = Some(url.clone());
    settings.pools.push(pool);
    let aws = steward_aws::AwsProvider::connect(settings).await;
    let observed = steward_tools::CloudProvider::observe(&aws).await.expect("observe");
    let call = steward_tools::ToolCall::ProvisionGpuWorkers(steward_tools::ProvisionGpuWorkers {
        pool: "gpu".into(),
        count: 2,
        instance_type: Some("g5.xlarge".into()),
        market: None,
    });
    let approved = steward_tools::ApprovedCall::grant(
        steward_tools::validate(call.clone(), &observed).expect("valid"),
        steward_tools::Grant::Policy { policies: vec![] },
    );
    // The call reached AWS, then the daemon died before recording the outcome.
    steward_tools::CloudProvider::execute(&aws, "act-crash-ran", &approved).await.expect("launch");

    let work = std::sync::Arc::new(Workdir::new());
    let store = steward_memory::Store::connect(&format!("sqlite://{}", work.path().join("steward.db").display()))
        .await
        .expect("store");
    let mut ids = Vec::new();
    for action in ["act-crash-ran", "act-crash-lost"] {
        ids.push(steward_memory::testing::executing_intent(&store, call.clone(), action, 1).await);
    }
    store.close().await;
    work.file(
        "steward.toml",
        &format!(
            "provider = \"aws\"\n[aws]\nregion = \"{region}\"\nendpoint_url = \"{url}\"\n[[aws.pools]]\nname = \"gpu\"\n\
             instance_type = \"g5.xlarge\"\nimage_id = \"ami-12c6146b\"\nmax = 8\nenvironment = \"staging\"\n\
             queue_namespace = \"Jobs\"\nqueue_metric = \"QueueDepth\"\n"
        ),
    );
    let out = steward(&work, &["run", "--ticks", "1", "--tick-interval", "1s", "--listen", "127.0.0.1:0"], &[]).await;
    assert!(out.status.success(), "{}\n{}", stdout(&out), stderr(&out));
    let store = steward_memory::Store::connect(&format!("sqlite://{}", work.path().join("steward.db").display()))
        .await
        .expect("store");
    let ran = store.proposal(ids[0]).await.expect("read").expect("exists");
    let lost = store.proposal(ids[1]).await.expect("read").expect("exists");
    assert_eq!(ran.state, steward_memory::ProposalState::Succeeded, "{:?}", ran.outcome);
    assert!(matches!(ran.inverse, Some(steward_tools::ToolCall::TerminateWorkers(_))), "{:?}", ran.inverse);
    assert_eq!(lost.state, steward_memory::ProposalState::Failed, "{:?}", lost.outcome);
    let after = steward_tools::CloudProvider::observe(&aws).await.expect("observe");
    assert_eq!(after.group("gpu").map(|g| g.instances.len()), Some(2), "two workers: nothing launched twice");
}

/// `steward cost` with Cost Explorer on: month-to-date by the group tag from
/// `GetCostAndUsage` (a local server replaying its documented response; moto answers it
/// with nothing), and the observed roll-up, said so, when Cost Explorer fails.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn steward_cost_takes_month_to_date_from_cost_explorer() {
    use steward_aws::testing::{Answer, Replay};
    let page = serde_json::json!({
        "GroupDefinitions": [{ "Type": "TAG", "Key": "steward:group" }],
        "ResultsByTime": [{ "TimePeriod": { "Start": "2026-11-01", "End": "2026-11-28" }, "Total": {}, "Estimated": true,
            "Groups": [
                { "Keys": ["steward:group$web"], "Metrics": { "UnblendedCost": { "Amount": "412.5", "Unit": "USD" } } },
                { "Keys": ["steward:group$gpu"], "Metrics": { "UnblendedCost": { "Amount": "1290.77", "Unit": "USD" } } }
            ] }],
        "DimensionValueAttributes": []
    });
    let target = "AWSInsightsIndexService.GetCostAndUsage";
    let ce = Replay::start(vec![(target, vec![Answer::Ok(page)])]).await;
    let work = std::sync::Arc::new(Workdir::new());
    let config = |url: &str| {
        format!("provider = \"aws\"\n[aws]\nregion = \"{REGION}\"\n[aws.cost_explorer]\nenabled = true\nendpoint_url = \"{url}\"\n")
    };
    work.file("steward.toml", &config(&ce.url));
    let out = steward(&work, &["cost"], &[]).await;
    let text = stdout(&out);
    assert!(out.status.success(), "{text}\n{}", stderr(&out));
    assert!(text.contains("month-to-date from Cost Explorer"), "{text}");
    assert!(text.contains("estimated by AWS"), "{text}");
    let row = |name: &str| text.lines().find(|l| l.starts_with(name)).unwrap_or_default().to_string();
    assert!(row("gpu").contains("1290.77"), "{text}");
    assert!(row("web").contains("412.50"), "{text}");
    assert!(row("total").contains("1703.27"), "{text}");
    assert_eq!(ce.requests(target).len(), 1);
    let out = steward(&work, &["cost", "--json"], &[]).await;
    let figures: serde_json::Value = serde_json::from_str(&stdout(&out)).expect("JSON");
    assert_eq!(figures["source"]["month_to_date_from"], "cost_explorer", "{figures}");
    assert_eq!(figures["source"]["estimated"], true);
    let total = figures["total"]["month_to_date_usd"].as_f64().unwrap_or_default();
    assert!((total - 1703.27).abs() < 1e-6, "{figures}");

    let down = Replay::start(vec![(
        target,
        vec![Answer::Error(400, "AccessDeniedException".into(), "no ce:GetCostAndUsage".into())],
    )])
    .await;
    work.file("steward.toml", &config(&down.url));
    let out = steward(&work, &["cost"], &[]).await;
    let text = stdout(&out);
    assert!(out.status.success(), "a Cost Explorer failure is not a failed command: {text}");
    assert!(
        text.contains(
            "Cost Explorer did not answer (refused: GetCostAndUsage: AccessDeniedException: no ce:GetCostAndUsage)"
        ),
        "{text}"
    );
    assert!(text.contains("month-to-date from what the daemon observed"), "{text}");
}
