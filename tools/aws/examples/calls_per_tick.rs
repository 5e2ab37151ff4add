//! How many API calls one observation makes for N managed Auto Scaling groups, measured
//! against an AWS API emulator:
//!
//!   moto_server -p 5000 &
//!   cargo run -p steward-aws --example calls_per_tick -- http://127.0.0.1:5000 1000
//!
//! It creates N tagged groups (desired capacity 0, so no instances) in a region of its own,
//! publishes a CPU datapoint for each, observes once, and prints the calls and the time.

use aws_sdk_autoscaling::types::Tag;
use aws_sdk_cloudwatch::types::{Dimension, MetricDatum};
use steward_aws::{AwsProvider, AwsSettings};
use steward_tools::provider::CloudProvider;

#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip(1);
    let url = args.next().unwrap_or_else(|| "http://127.0.0.1:5000".into());
    let n: usize = args.next().and_then(|n| n.parse().ok()).unwrap_or(1000);
    let region = "eu-north-1";
    std::env::set_var("AWS_ACCESS_KEY_ID", "testing");
    std::env::set_var("AWS_SECRET_ACCESS_KEY", "testing");
    let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new(region))
        .endpoint_url(&url)
        .load()
        .await;
    let asg = aws_sdk_autoscaling::Client::new(&config);
    let cloudwatch = aws_sdk_cloudwatch::Client::new(&config);
    let created = std::time::Instant::now();
    if let Err(e) = asg
        .create_launch_configuration()
        .launch_configuration_name("bench-lc")
        .image_id("ami-12c6146b")
        .instance_type("m6i.large")
        .send()
        .await
    {
        eprintln!("launch configuration: {e} (already there?)");
    }
    for i in 0..n {
        let name = format!("bench-{i:04}");
        let tag = |k: &str, v: &str| {
            Tag::builder().resource_id(&name).resource_type("auto-scaling-group").key(k).value(v).build()
        };
        let made = asg
            .create_auto_scaling_group()
            .auto_scaling_group_name(&name)
            .launch_configuration_name("bench-lc")
            .min_size(0)
            .max_size(10)
            .desired_capacity(0)
            .availability_zones(format!("{region}a"))
            .tags(tag("steward:managed", "true"))
            .send()
            .await;
        if let Err(e) = made {
            eprintln!("{name}: {e}");
        }
        let datum = MetricDatum::builder()
            .metric_name("CPUUtilization")
            .dimensions(Dimension::builder().name("AutoScalingGroupName").value(&name).build())
            .value(50.0)
            .timestamp(aws_sdk_cloudwatch::primitives::DateTime::from(std::time::SystemTime::now()))
            .build();
        let _ = cloudwatch.put_metric_data().namespace("AWS/EC2").metric_data(datum).send().await;
    }
    println!("created {n} groups in {:.1?}", created.elapsed());
    let mut settings = AwsSettings::new(region);
    settings.endpoint_url = Some(url);
    let aws = AwsProvider::connect(settings).await;
    let started = std::time::Instant::now();
    let o = aws.observe().await.expect("observe");
    let with_cpu = o.groups.iter().filter(|g| g.cpu_percent.is_some()).count();
    println!(
        "one observation: {} groups ({} with CPU), {} API calls, {:.1?}",
        o.groups.len(),
        with_cpu,
        aws.last_observation_calls(),
        started.elapsed()
    );
}
