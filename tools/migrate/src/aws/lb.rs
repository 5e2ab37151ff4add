//! The web load balancer: an Application Load Balancer, its target group and its HTTP
//! listener, each looked up by name before it is made, and removed with the service.

use aws_sdk_elasticloadbalancingv2::error::ProvideErrorMetadata;
use aws_sdk_elasticloadbalancingv2::types::{
    Action, ActionTypeEnum, LoadBalancerTypeEnum, ProtocolEnum, TargetTypeEnum,
};
use aws_sdk_elasticloadbalancingv2::Client;
use steward_aws::classify;
use steward_tools::ProviderError;

use super::names::{lb_name, not_found, target_group_name, MANAGED};
use crate::target::LoadBalancer;

pub(crate) async fn find_load_balancer(
    elb: &Client,
    app: &str,
) -> Result<Option<(String, LoadBalancer)>, ProviderError> {
    match elb.describe_load_balancers().names(lb_name(app)).send().await {
        Ok(out) => Ok(out.load_balancers().first().map(|lb| {
            (
                lb.load_balancer_arn().unwrap_or_default().to_string(),
                LoadBalancer {
                    dns_name: lb.dns_name().unwrap_or_default().to_string(),
                    zone_id: lb.canonical_hosted_zone_id().unwrap_or_default().to_string(),
                },
            )
        })),
        Err(e) if not_found(e.code()) => Ok(None),
        Err(e) => Err(classify("DescribeLoadBalancers", e)),
    }
}

pub(crate) async fn find_target_group(elb: &Client, app: &str) -> Result<Option<String>, ProviderError> {
    match elb.describe_target_groups().names(target_group_name(app)).send().await {
        Ok(out) => Ok(out.target_groups().first().and_then(|t| t.target_group_arn()).map(str::to_string)),
        Err(e) if not_found(e.code()) => Ok(None),
        Err(e) => Err(classify("DescribeTargetGroups", e)),
    }
}

/// The web load balancer, target group and listener, each made unless it is there.
pub(crate) async fn ensure_load_balancer(
    elb: &Client,
    app: &str,
    vpc: &str,
    subnets: &[String],
    groups: &[String],
) -> Result<(LoadBalancer, String), ProviderError> {
    let (lb_arn, lb) = match find_load_balancer(elb, app).await? {
        Some(found) => found,
        None => {
            let out = elb
                .create_load_balancer()
                .name(lb_name(app))
                .r#type(LoadBalancerTypeEnum::Application)
                .set_subnets(Some(subnets.to_vec()))
                .set_security_groups((!groups.is_empty()).then(|| groups.to_vec()))
                .tags(aws_sdk_elasticloadbalancingv2::types::Tag::builder().key(MANAGED.0).value(MANAGED.1).build())
                .tags(aws_sdk_elasticloadbalancingv2::types::Tag::builder().key("steward:app").value(app).build())
                .send()
                .await
                .map_err(|e| classify("CreateLoadBalancer", e))?;
            let lb = out
                .load_balancers()
                .first()
                .ok_or_else(|| ProviderError::Refused("CreateLoadBalancer returned nothing".into()))?;
            (
                lb.load_balancer_arn().unwrap_or_default().to_string(),
                LoadBalancer {
                    dns_name: lb.dns_name().unwrap_or_default().to_string(),
                    zone_id: lb.canonical_hosted_zone_id().unwrap_or_default().to_string(),
                },
            )
        }
    };
    let tg = match find_target_group(elb, app).await? {
        Some(arn) => arn,
        None => elb
            .create_target_group()
            .name(target_group_name(app))
            .protocol(ProtocolEnum::Http)
            .port(i32::from(crate::plan::WEB_PORT))
            .vpc_id(vpc)
            .target_type(TargetTypeEnum::Ip)
            .health_check_path("/")
            .send()
            .await
            .map_err(|e| classify("CreateTargetGroup", e))?
            .target_groups()
            .first()
            .and_then(|t| t.target_group_arn())
            .map(str::to_string)
            .ok_or_else(|| ProviderError::Refused("CreateTargetGroup returned nothing".into()))?,
    };
    let listeners = elb
        .describe_listeners()
        .load_balancer_arn(&lb_arn)
        .send()
        .await
        .map_err(|e| classify("DescribeListeners", e))?;
    if !listeners.listeners().iter().any(|l| l.port() == Some(80)) {
        elb.create_listener()
            .load_balancer_arn(&lb_arn)
            .protocol(ProtocolEnum::Http)
            .port(80)
            .default_actions(Action::builder().r#type(ActionTypeEnum::Forward).target_group_arn(&tg).build())
            .send()
            .await
            .map_err(|e| classify("CreateListener", e))?;
    }
    Ok((lb, tg))
}

/// Remove the load balancer (its listeners first) and the target group, where they are.
pub(crate) async fn remove_load_balancer(elb: &Client, app: &str) -> Result<(), ProviderError> {
    if let Some((arn, _)) = find_load_balancer(elb, app).await? {
        let listeners = elb
            .describe_listeners()
            .load_balancer_arn(&arn)
            .send()
            .await
            .map_err(|e| classify("DescribeListeners", e))?;
        for l in listeners.listeners() {
            if let Some(listener) = l.listener_arn() {
                elb.delete_listener().listener_arn(listener).send().await.map_err(|e| classify("DeleteListener", e))?;
            }
        }
        elb.delete_load_balancer()
            .load_balancer_arn(&arn)
            .send()
            .await
            .map_err(|e| classify("DeleteLoadBalancer", e))?;
    }
    if let Some(tg) = find_target_group(elb, app).await? {
        elb.delete_target_group().target_group_arn(&tg).send().await.map_err(|e| classify("DeleteTargetGroup", e))?;
    }
    Ok(())
}
