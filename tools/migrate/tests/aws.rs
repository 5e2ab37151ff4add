//! The AWS target through the real SDK crates against the AWS API emulator (moto server,
//! started by `./deploy/test.sh`): SSM, RDS, ECS, ELBv2 and Route 53, each found again by
//! name so that nothing is made twice, and each removed by its inverse.

use std::time::Duration;

use steward_aws::testing::{emulator, emulator_config};
use steward_migrate::aws::{AwsTarget, AwsTargetSettings};
use steward_migrate::target::{record_for, DatabaseSpec, Target};
use steward_tools::{DnsRecord, Secret, ServiceSpec};

/// Names of this run's own (the emulator may be one a person keeps running between runs).
fn unique(name: &str) -> String {
    format!("{name}{}", std::process::id())
}

async fn target(region: &str) -> (AwsTarget, aws_config::SdkConfig) {
    let url = emulator();
    let settings = AwsTargetSettings {
        region: region.into(),
        endpoint_url: Some(url.clone()),
        database_wait: Duration::from_secs(30),
        ..AwsTargetSettings::default()
    };
    (AwsTarget::connect(settings).await, emulator_config(&url, region).await)
}

fn service(process_type: &str, web: bool, count: u32) -> ServiceSpec {
    ServiceSpec {
        cluster: "steward-test".into(),
        process_type: process_type.into(),
        image: "public.ecr.aws/docker/library/nginx:stable".into(),
        command: "nginx -g 'daemon off;'".into(),
        cpu: 256,
        memory_mb: 512,
        desired_count: count,
        web,
        port: 5000,
        secrets: vec!["SECRET_KEY_BASE".into()],
        secrets_prefix: "/steward/awsshop/".into(),
    }
}

#[tokio::test]
async fn parameters_are_secure_strings_overwritten_and_deleted() {
    let (t, sdk) = target("eu-west-1").await;
    let values = [
        ("/steward/ssmshop/SECRET_KEY_BASE".to_string(), Secret::new("v1".to_string())),
        ("/steward/ssmshop/RAILS_ENV".to_string(), Secret::new("production".to_string())),
    ];
    t.put_secrets(&values).await.expect("put");
    t.put_secrets(&[(values[0].0.clone(), Secret::new("v2".into()))]).await.expect("overwrite");
    assert_eq!(t.get_secret(&values[0].0).await.expect("get").map(|s| s.expose().clone()), Some("v2".into()));
    let ssm = aws_sdk_ssm::Client::new(&sdk);
    let described = ssm.get_parameter().name(&values[1].0).send().await.expect("describe");
    assert_eq!(described.parameter().and_then(|p| p.r#type()), Some(&aws_sdk_ssm::types::ParameterType::SecureString));
    let names: Vec<String> = values.iter().map(|(n, _)| n.clone()).collect();
    assert_eq!(t.delete_secrets(&names).await.expect("delete"), 2);
    assert_eq!(t.delete_secrets(&names).await.expect("delete again"), 0, "already gone is fine");
    assert!(t.get_secret(&names[0]).await.expect("get").is_none());
}

#[tokio::test]
async fn the_database_is_made_once_and_deleted_with_a_final_snapshot() {
    let (t, sdk) = target("us-east-2").await;
    let id = unique("steward-rdsshop-");
    let spec = DatabaseSpec {
        identifier: id.clone(),
        instance_class: "db.t4g.micro".into(),
        storage_gb: 20,
        engine_version: "16".into(),
        multi_az: false,
    };
    let password = Secret::new("first-password-123456".to_string());
    let first = t.ensure_database(&spec, &password).await.expect("create");
    assert!(first.created && first.port == 5432 && !first.host.is_empty(), "{first:?}");
    let second = t.ensure_database(&spec, &password).await.expect("again");
    assert!(!second.created, "found by name, not made twice");
    let rds = aws_sdk_rds::Client::new(&sdk);
    let all = rds.describe_db_instances().send().await.expect("list");
    assert_eq!(all.db_instances().iter().filter(|d| d.db_instance_identifier() == Some(id.as_str())).count(), 1);
    assert!(t.database_exists(&id).await.expect("exists"));
    t.set_database_password(&id, &Secret::new("second-password-12345".into())).await.expect("reset");

    assert!(t.delete_database(&id).await.expect("delete"));
    assert!(!t.database_exists(&id).await.expect("gone"));
    assert!(!t.delete_database(&id).await.expect("delete again"), "already gone is fine");
    let snapshots = rds.describe_db_snapshots().db_instance_identifier(&id).send().await.expect("snapshots");
    let finals: Vec<&str> = snapshots.db_snapshots().iter().filter_map(|s| s.db_snapshot_identifier()).collect();
    assert!(
        finals.len() == 1 && finals[0].starts_with(&format!("{id}-final-")),
        "a final snapshot is kept: {finals:?}"
    );
}

#[tokio::test]
async fn services_and_the_load_balancer_are_made_once_and_removed() {
    let (t, sdk) = target("us-west-2").await;
    let app = unique("awsshop");
    let lb = t.ensure_service(&app, &service("web", true, 2), "token-web-1").await.expect("web");
    let lb = lb.expect("web has a load balancer");
    assert!(!lb.dns_name.is_empty() && !lb.zone_id.is_empty(), "{lb:?}");
    // Again (a retry after a crash): the same load balancer, one service, its count updated.
    let again = t.ensure_service(&app, &service("web", true, 3), "token-web-1").await.expect("web again");
    assert_eq!(again.as_ref(), Some(&lb));
    assert!(t.ensure_service(&app, &service("worker", false, 1), "token-worker-1").await.expect("worker").is_none());
    assert_eq!(t.service(&app, "steward-test", "web").await.expect("web"), Some(3));
    assert_eq!(t.service(&app, "steward-test", "worker").await.expect("worker"), Some(1));
    assert_eq!(t.load_balancer(&app).await.expect("lb"), Some(lb.clone()));

    let elb = aws_sdk_elasticloadbalancingv2::Client::new(&sdk);
    let lbs = elb.describe_load_balancers().send().await.expect("list");
    assert_eq!(
        lbs.load_balancers().iter().filter(|l| l.load_balancer_name() == Some(format!("st-{app}").as_str())).count(),
        1
    );
    let ecs = aws_sdk_ecs::Client::new(&sdk);
    let listed = ecs.list_services().cluster("steward-test").send().await.expect("services");
    let ours = listed.service_arns().iter().filter(|a| a.contains(&format!("/{app}-"))).count();
    assert_eq!(ours, 2, "one service per process type: {:?}", listed.service_arns());
    let task = ecs
        .describe_task_definition()
        .task_definition(format!("{app}-web"))
        .send()
        .await
        .expect("task definition")
        .task_definition()
        .cloned()
        .expect("task");
    let container = &task.container_definitions()[0];
    let secret = &container.secrets()[0];
    assert_eq!((secret.name(), secret.value_from()), ("SECRET_KEY_BASE", "/steward/awsshop/SECRET_KEY_BASE"));
    assert!(container.environment().iter().any(|e| e.name() == Some("PORT") && e.value() == Some("5000")));

    assert!(t.remove_service(&app, "steward-test", "worker", false).await.expect("remove worker"));
    assert!(t.remove_service(&app, "steward-test", "web", true).await.expect("remove web"));
    assert!(!t.remove_service(&app, "steward-test", "web", true).await.expect("again"), "already gone is fine");
    assert_eq!(t.service(&app, "steward-test", "web").await.expect("web"), None);
    assert_eq!(t.load_balancer(&app).await.expect("lb"), None);
}

#[tokio::test]
async fn dns_upserts_in_the_zone_that_holds_the_domain_and_never_makes_a_zone() {
    let (t, sdk) = target("us-east-1").await;
    let route53 = aws_sdk_route53::Client::new(&sdk);
    let zone_name = format!("{}.example", unique("dnsshop"));
    let www = format!("www.{zone_name}");
    let zone = route53
        .create_hosted_zone()
        .name(&zone_name)
        .caller_reference(format!("steward-test-{}", std::process::id()))
        .send()
        .await
        .expect("zone");
    let zone_id = zone.hosted_zone().map(|z| z.id().to_string()).expect("id");
    let found = t.zone_for(&www).await.expect("lookup").expect("the zone holds it");
    assert_eq!((found.id.as_str(), found.name.as_str()), (zone_id.as_str(), format!("{zone_name}.").as_str()));
    assert!(t.zone_for("www.elsewhere.example").await.expect("lookup").is_none(), "no zone: a manual step");

    let heroku = DnsRecord {
        name: www.clone(),
        record_type: "CNAME".into(),
        ttl: 300,
        values: vec!["quiet-river-1.herokudns.com".into()],
    };
    t.change_records(&found, std::slice::from_ref(&heroku), &[]).await.expect("the record as Heroku left it");
    assert_eq!(t.records(&found, &www).await.expect("records"), std::slice::from_ref(&heroku));

    let lb = steward_migrate::target::LoadBalancer {
        dns_name: "st-dnsshop-1.us-east-1.elb.amazonaws.com".into(),
        zone_id: "Z35SXDOTRQ7X7K".into(),
    };
    let wanted = record_for(&www, &found, &lb);
    t.change_records(&found, std::slice::from_ref(&wanted), &[]).await.expect("upsert");
    t.change_records(&found, std::slice::from_ref(&wanted), &[]).await.expect("upsert again");
    assert_eq!(t.records(&found, &www).await.expect("records"), std::slice::from_ref(&wanted));

    // At the apex: an alias A record.
    let apex = record_for(&zone_name, &found, &lb);
    assert_eq!(apex.values, ["ALIAS", "Z35SXDOTRQ7X7K", "st-dnsshop-1.us-east-1.elb.amazonaws.com"]);
    t.change_records(&found, std::slice::from_ref(&apex), &[]).await.expect("alias");
    let at_apex = t.records(&found, &zone_name).await.expect("records");
    assert!(at_apex.iter().any(|r| r.record_type == "A" && r.values[0] == "ALIAS"), "{at_apex:?}");

    // Back as it was.
    t.change_records(&found, std::slice::from_ref(&heroku), &[]).await.expect("restore");
    assert_eq!(t.records(&found, &www).await.expect("records"), [heroku]);
    let zones = route53.list_hosted_zones().send().await.expect("zones");
    assert_eq!(zones.hosted_zones().iter().filter(|z| z.name() == format!("{zone_name}.")).count(), 1);
}
