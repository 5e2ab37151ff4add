//! The migration target on AWS, through the official SDK: SSM Parameter Store, RDS, ECS
//! (Fargate), Elastic Load Balancing v2 and Route 53. Names are derived from the app, so
//! every resource is found again by name before anything is created: nothing is made twice.
//! Resources carry the management tag (`steward:managed=true`) and `steward:app`.
//!
//! Networking: the configured subnets and security groups, else the default VPC's subnets
//! and its default security group. Tasks read their SSM parameters through the configured
//! execution role.

use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_ecs::types::{
    AssignPublicIp, AwsVpcConfiguration, Compatibility, ContainerDefinition, KeyValuePair, LaunchType,
    LoadBalancer as EcsLoadBalancer, NetworkConfiguration, NetworkMode, PortMapping, Secret as EcsSecret,
};
use aws_sdk_ssm::error::ProvideErrorMetadata;
use aws_sdk_ssm::types::ParameterType;
use steward_aws::classify;
use steward_tools::{DnsRecord, ProviderError, Secret, ServiceSpec};

use crate::target::{Database, DatabaseSpec, LoadBalancer, Target, Zone};

mod dns;
mod lb;
mod names;

use names::{final_snapshot_now, not_found, MANAGED};
pub use names::{lb_name, service_name, target_group_name};

/// Where and with what the target is built.
#[derive(Debug, Clone, Default)]
pub struct AwsTargetSettings {
    pub region: String,
    pub endpoint_url: Option<String>,
    /// Empty: the default VPC's subnets.
    pub subnets: Vec<String>,
    /// Empty: the VPC's default security group.
    pub security_groups: Vec<String>,
    /// The role ECS tasks pull images and read their SSM parameters with.
    pub execution_role_arn: Option<String>,
    /// The RDS subnet group (default: the account's default).
    pub db_subnet_group: Option<String>,
    /// How long to wait for a new database to become available.
    pub database_wait: Duration,
}

pub struct AwsTarget {
    settings: AwsTargetSettings,
    ssm: aws_sdk_ssm::Client,
    rds: aws_sdk_rds::Client,
    ecs: aws_sdk_ecs::Client,
    elb: aws_sdk_elasticloadbalancingv2::Client,
    route53: aws_sdk_route53::Client,
    ec2: aws_sdk_ec2::Client,
    http: reqwest::Client,
}

impl std::fmt::Debug for AwsTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AwsTarget").field("region", &self.settings.region).finish_non_exhaustive()
    }
}

impl AwsTarget {
    pub async fn connect(settings: AwsTargetSettings) -> AwsTarget {
        let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest())
            .region(aws_config::Region::new(settings.region.clone()));
        if let Some(url) = &settings.endpoint_url {
            loader = loader.endpoint_url(url);
        }
        let config = loader.load().await;
        let http = crate::target::health_client();
        AwsTarget {
            ssm: aws_sdk_ssm::Client::new(&config),
            rds: aws_sdk_rds::Client::new(&config),
            ecs: aws_sdk_ecs::Client::new(&config),
            elb: aws_sdk_elasticloadbalancingv2::Client::new(&config),
            route53: aws_sdk_route53::Client::new(&config),
            ec2: aws_sdk_ec2::Client::new(&config),
            settings,
            http,
        }
    }

    /// The subnets and security groups tasks and the load balancer use, and the VPC.
    async fn network(&self) -> Result<(String, Vec<String>, Vec<String>), ProviderError> {
        let vpcs = self
            .ec2
            .describe_vpcs()
            .filters(aws_sdk_ec2::types::Filter::builder().name("isDefault").values("true").build())
            .send()
            .await
            .map_err(|e| classify("DescribeVpcs", e))?;
        let default_vpc = vpcs.vpcs().first().and_then(|v| v.vpc_id()).map(str::to_string);
        let subnets = if self.settings.subnets.is_empty() {
            let Some(vpc) = &default_vpc else {
                return Err(ProviderError::Refused("no default VPC: set migration.subnets".into()));
            };
            let found = self
                .ec2
                .describe_subnets()
                .filters(aws_sdk_ec2::types::Filter::builder().name("vpc-id").values(vpc).build())
                .send()
                .await
                .map_err(|e| classify("DescribeSubnets", e))?;
            found.subnets().iter().filter_map(|s| s.subnet_id().map(str::to_string)).collect()
        } else {
            self.settings.subnets.clone()
        };
        let first = subnets.first().cloned().ok_or_else(|| ProviderError::Refused("no subnets to run in".into()))?;
        let described =
            self.ec2.describe_subnets().subnet_ids(&first).send().await.map_err(|e| classify("DescribeSubnets", e))?;
        let vpc = described
            .subnets()
            .first()
            .and_then(|s| s.vpc_id())
            .map(str::to_string)
            .or(default_vpc)
            .unwrap_or_default();
        let groups = if self.settings.security_groups.is_empty() {
            let found = self
                .ec2
                .describe_security_groups()
                .filters(aws_sdk_ec2::types::Filter::builder().name("vpc-id").values(&vpc).build())
                .filters(aws_sdk_ec2::types::Filter::builder().name("group-name").values("default").build())
                .send()
                .await
                .map_err(|e| classify("DescribeSecurityGroups", e))?;
            found.security_groups().iter().filter_map(|g| g.group_id().map(str::to_string)).collect()
        } else {
            self.settings.security_groups.clone()
        };
        Ok((vpc, subnets, groups))
    }
}

#[async_trait]
impl Target for AwsTarget {
    fn describe(&self) -> String {
        format!("AWS {}", self.settings.region)
    }

    async fn put_secrets(&self, values: &[(String, Secret<String>)]) -> Result<(), ProviderError> {
        for (name, value) in values {
            self.ssm
                .put_parameter()
                .name(name)
                .value(value.expose())
                .r#type(ParameterType::SecureString)
                .overwrite(true)
                .send()
                .await
                .map_err(|e| classify("PutParameter", e))?;
        }
        Ok(())
    }

    async fn get_secret(&self, name: &str) -> Result<Option<Secret<String>>, ProviderError> {
        match self.ssm.get_parameter().name(name).with_decryption(true).send().await {
            Ok(out) => Ok(out.parameter().and_then(|p| p.value()).map(|v| Secret::new(v.to_string()))),
            Err(e) if not_found(e.code()) => Ok(None),
            Err(e) => Err(classify("GetParameter", e)),
        }
    }

    async fn delete_secrets(&self, names: &[String]) -> Result<usize, ProviderError> {
        let mut deleted = 0;
        for chunk in names.chunks(10) {
            let out = self
                .ssm
                .delete_parameters()
                .set_names(Some(chunk.to_vec()))
                .send()
                .await
                .map_err(|e| classify("DeleteParameters", e))?;
            deleted += out.deleted_parameters().len();
        }
        Ok(deleted)
    }

    async fn ensure_database(&self, spec: &DatabaseSpec, password: &Secret<String>) -> Result<Database, ProviderError> {
        let described = self.rds.describe_db_instances().db_instance_identifier(&spec.identifier).send().await;
        let created = match described {
            Ok(out) if !out.db_instances().is_empty() => false,
            Ok(_) => true,
            Err(e) if not_found(e.code()) => true,
            Err(e) => return Err(classify("DescribeDBInstances", e)),
        };
        if created {
            let (_, _, groups) = self.network().await?;
            self.rds
                .create_db_instance()
                .db_instance_identifier(&spec.identifier)
                .engine("postgres")
                .engine_version(&spec.engine_version)
                .db_instance_class(&spec.instance_class)
                .allocated_storage(i32::try_from(spec.storage_gb).unwrap_or(i32::MAX))
                .storage_type("gp3")
                .multi_az(spec.multi_az)
                .master_username("steward")
                .master_user_password(password.expose())
                .publicly_accessible(false)
                .storage_encrypted(true)
                .set_vpc_security_group_ids((!groups.is_empty()).then_some(groups))
                .set_db_subnet_group_name(self.settings.db_subnet_group.clone())
                .tags(aws_sdk_rds::types::Tag::builder().key(MANAGED.0).value(MANAGED.1).build())
                .send()
                .await
                .map_err(|e| classify("CreateDBInstance", e))?;
        }
        // Wait for it to take connections.
        let deadline = tokio::time::Instant::now() + self.settings.database_wait;
        loop {
            let out = self
                .rds
                .describe_db_instances()
                .db_instance_identifier(&spec.identifier)
                .send()
                .await
                .map_err(|e| classify("DescribeDBInstances", e))?;
            let db = out.db_instances().first();
            let status = db.and_then(|d| d.db_instance_status()).unwrap_or_default();
            if let (Some(endpoint), "available") = (db.and_then(|d| d.endpoint()), status) {
                return Ok(Database {
                    host: endpoint.address().unwrap_or_default().to_string(),
                    port: endpoint.port().and_then(|p| u16::try_from(p).ok()).unwrap_or(5432),
                    username: db.and_then(|d| d.master_username()).unwrap_or("steward").to_string(),
                    created,
                });
            }
            if tokio::time::Instant::now() > deadline {
                return Err(ProviderError::Unavailable(format!(
                    "RDS {} is {status}, not yet available",
                    spec.identifier
                )));
            }
            tokio::time::sleep(Duration::from_secs(15)).await;
        }
    }

    async fn set_database_password(&self, identifier: &str, password: &Secret<String>) -> Result<(), ProviderError> {
        self.rds
            .modify_db_instance()
            .db_instance_identifier(identifier)
            .master_user_password(password.expose())
            .apply_immediately(true)
            .send()
            .await
            .map_err(|e| classify("ModifyDBInstance", e))?;
        Ok(())
    }

    async fn delete_database(&self, identifier: &str) -> Result<bool, ProviderError> {
        match self
            .rds
            .delete_db_instance()
            .db_instance_identifier(identifier)
            .skip_final_snapshot(false)
            .final_db_snapshot_identifier(final_snapshot_now(identifier))
            .send()
            .await
        {
            Ok(_) => Ok(true),
            Err(e) if not_found(e.code()) => Ok(false),
            // A first attempt's deletion under way.
            Err(e) if e.code() == Some("InvalidDBInstanceState") => Ok(true),
            Err(e) => Err(classify("DeleteDBInstance", e)),
        }
    }

    async fn database_exists(&self, identifier: &str) -> Result<bool, ProviderError> {
        match self.rds.describe_db_instances().db_instance_identifier(identifier).send().await {
            Ok(out) => Ok(out.db_instances().iter().any(|d| d.db_instance_status() != Some("deleting"))),
            Err(e) if not_found(e.code()) => Ok(false),
            Err(e) => Err(classify("DescribeDBInstances", e)),
        }
    }

    async fn ensure_service(
        &self,
        app: &str,
        spec: &ServiceSpec,
        token: &str,
    ) -> Result<Option<LoadBalancer>, ProviderError> {
        let (vpc, subnets, groups) = self.network().await?;
        self.ecs.create_cluster().cluster_name(&spec.cluster).send().await.map_err(|e| classify("CreateCluster", e))?;
        let lb = if spec.web {
            Some(lb::ensure_load_balancer(&self.elb, app, &vpc, &subnets, &groups).await?)
        } else {
            None
        };
        let mut container = ContainerDefinition::builder()
            .name(&spec.process_type)
            .image(&spec.image)
            .essential(true)
            .command("sh")
            .command("-c")
            .command(&spec.command)
            .environment(KeyValuePair::builder().name("PORT").value(crate::plan::WEB_PORT.to_string()).build());
        for name in &spec.secrets {
            container = container.secrets(
                EcsSecret::builder()
                    .name(name)
                    .value_from(format!("{}{name}", spec.secrets_prefix))
                    .build()
                    .map_err(|e| ProviderError::Refused(format!("task secret {name}: {e}")))?,
            );
        }
        if spec.web {
            container = container
                .port_mappings(PortMapping::builder().container_port(i32::from(crate::plan::WEB_PORT)).build());
        }
        let family = service_name(app, &spec.process_type);
        let registered = self
            .ecs
            .register_task_definition()
            .family(&family)
            .requires_compatibilities(Compatibility::Fargate)
            .network_mode(NetworkMode::Awsvpc)
            .cpu(spec.cpu.to_string())
            .memory(spec.memory_mb.to_string())
            .set_execution_role_arn(self.settings.execution_role_arn.clone())
            .container_definitions(container.build())
            .send()
            .await
            .map_err(|e| classify("RegisterTaskDefinition", e))?;
        let task = registered
            .task_definition()
            .and_then(|t| t.task_definition_arn())
            .ok_or_else(|| ProviderError::Refused("RegisterTaskDefinition returned no ARN".into()))?
            .to_string();
        let name = service_name(app, &spec.process_type);
        let existing = self
            .ecs
            .describe_services()
            .cluster(&spec.cluster)
            .services(&name)
            .send()
            .await
            .map_err(|e| classify("DescribeServices", e))?;
        let active = existing.services().iter().any(|s| s.status() == Some("ACTIVE"));
        if active {
            self.ecs
                .update_service()
                .cluster(&spec.cluster)
                .service(&name)
                .task_definition(&task)
                .desired_count(i32::try_from(spec.desired_count).unwrap_or(0))
                .send()
                .await
                .map_err(|e| classify("UpdateService", e))?;
        } else {
            let network = NetworkConfiguration::builder()
                .awsvpc_configuration(
                    AwsVpcConfiguration::builder()
                        .set_subnets(Some(subnets.clone()))
                        .set_security_groups((!groups.is_empty()).then(|| groups.clone()))
                        .assign_public_ip(AssignPublicIp::Enabled)
                        .build()
                        .map_err(|e| ProviderError::Refused(format!("network configuration: {e}")))?,
                )
                .build();
            let mut create = self
                .ecs
                .create_service()
                .cluster(&spec.cluster)
                .service_name(&name)
                .task_definition(&task)
                .desired_count(i32::try_from(spec.desired_count).unwrap_or(0))
                .launch_type(LaunchType::Fargate)
                .network_configuration(network)
                .client_token(token.chars().take(36).collect::<String>())
                .tags(aws_sdk_ecs::types::Tag::builder().key(MANAGED.0).value(MANAGED.1).build());
            if let Some((_, tg)) = &lb {
                create = create.load_balancers(
                    EcsLoadBalancer::builder()
                        .target_group_arn(tg)
                        .container_name(&spec.process_type)
                        .container_port(i32::from(crate::plan::WEB_PORT))
                        .build(),
                );
            }
            create.send().await.map_err(|e| classify("CreateService", e))?;
        }
        Ok(lb.map(|(lb, _)| lb))
    }

    async fn remove_service(
        &self,
        app: &str,
        cluster: &str,
        process_type: &str,
        web: bool,
    ) -> Result<bool, ProviderError> {
        let name = service_name(app, process_type);
        let existing = match self.ecs.describe_services().cluster(cluster).services(&name).send().await {
            Ok(out) => out.services().iter().any(|s| s.status() == Some("ACTIVE")),
            Err(e) if not_found(e.code()) => false,
            Err(e) => return Err(classify("DescribeServices", e)),
        };
        if existing {
            self.ecs
                .delete_service()
                .cluster(cluster)
                .service(&name)
                .force(true)
                .send()
                .await
                .map_err(|e| classify("DeleteService", e))?;
        }
        // Every revision of its task definition goes too.
        let revisions = self
            .ecs
            .list_task_definitions()
            .family_prefix(&name)
            .send()
            .await
            .map_err(|e| classify("ListTaskDefinitions", e))?;
        for arn in revisions.task_definition_arns() {
            self.ecs
                .deregister_task_definition()
                .task_definition(arn)
                .send()
                .await
                .map_err(|e| classify("DeregisterTaskDefinition", e))?;
        }
        if web {
            lb::remove_load_balancer(&self.elb, app).await?;
        }
        Ok(existing)
    }

    async fn service(&self, app: &str, cluster: &str, process_type: &str) -> Result<Option<u32>, ProviderError> {
        let name = service_name(app, process_type);
        match self.ecs.describe_services().cluster(cluster).services(&name).send().await {
            Ok(out) => Ok(out
                .services()
                .iter()
                .find(|s| s.status() == Some("ACTIVE"))
                .map(|s| u32::try_from(s.desired_count()).unwrap_or(0))),
            Err(e) if not_found(e.code()) => Ok(None),
            Err(e) => Err(classify("DescribeServices", e)),
        }
    }

    async fn load_balancer(&self, app: &str) -> Result<Option<LoadBalancer>, ProviderError> {
        Ok(lb::find_load_balancer(&self.elb, app).await?.map(|(_, lb)| lb))
    }

    async fn zone_for(&self, domain: &str) -> Result<Option<Zone>, ProviderError> {
        dns::zone_for(&self.route53, domain).await
    }

    async fn records(&self, zone: &Zone, name: &str) -> Result<Vec<DnsRecord>, ProviderError> {
        dns::records(&self.route53, zone, name).await
    }

    async fn change_records(
        &self,
        zone: &Zone,
        upserts: &[DnsRecord],
        deletes: &[DnsRecord],
    ) -> Result<(), ProviderError> {
        dns::change_records(&self.route53, zone, upserts, deletes).await
    }

    async fn health(&self, url: &str) -> Result<u16, ProviderError> {
        crate::target::http_status(&self.http, url).await
    }
}
