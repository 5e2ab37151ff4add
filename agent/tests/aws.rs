//! `steward run --provider aws` against moto server (started by `./deploy/test.sh` at
//! `STEWARD_TEST_AWS_ENDPOINT`): the same loop, policies and audit as on the simulated
//! cloud, on a managed Auto Scaling group running hot.

mod common;

use std::time::Duration;

use aws_sdk_autoscaling::types::Tag;
use aws_sdk_cloudwatch::types::{Dimension, MetricDatum, StandardUnit};
use common::{stderr, stdout, Workdir};

const REGION: &str = "us-west-2";

fn endpoint() -> Option<String> {
    match std::env::var("STEWARD_TEST_AWS_ENDPOINT") {
        Ok(url) if !url.is_empty() => Some(url),
        _ if std::env::var("CI").as_deref() == Ok("true") => {
            panic!(
                "STEWARD_TEST_AWS_ENDPOINT is not set: run the tests with ./deploy/test.sh, which starts moto server"
            )
        }
        _ => {
            eprintln!("skipped: no AWS emulator (run ./deploy/test.sh, which starts moto server)");
            None
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn steward_run_provider_aws_scales_a_hot_managed_group() {
    let Some(url) = endpoint() else { return };
    std::env::set_var("AWS_ACCESS_KEY_ID", "testing");
    std::env::set_var("AWS_SECRET_ACCESS_KEY", "testing");
    let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new(REGION))
        .endpoint_url(&url)
        .load()
        .await;
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
    let w = work.clone();
    let out = tokio::task::spawn_blocking(move || {
        w.command(&[
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
        ])
        .env("AWS_REGION", REGION)
        .env("AWS_ENDPOINT_URL", &url)
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .output()
        .expect("run")
    })
    .await
    .expect("join");
    let text = stdout(&out);
    assert!(out.status.success(), "{text}\n{}", stderr(&out));
    assert!(text.contains(&format!("AWS {REGION}")), "{text}");
    assert!(text.contains("web 2/2 cpu 95%"), "the group is observed with its CPU: {text}");
    assert!(text.contains("scale_group web 2→4"), "{text}");
    assert!(text.contains("done: web desired capacity 2 → 4 (verified)"), "{text}");
    let described =
        asg.describe_auto_scaling_groups().auto_scaling_group_names("shop-web").send().await.expect("describe");
    assert_eq!(described.auto_scaling_groups()[0].desired_capacity(), Some(4), "moto's group was scaled");
    tokio::time::sleep(Duration::from_millis(10)).await;
    let audit = work.run(&["audit", "verify"]);
    assert!(audit.status.success(), "{}", stdout(&audit));
}
