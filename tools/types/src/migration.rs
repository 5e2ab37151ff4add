//! Moving an app off Heroku, one typed step at a time. The typed migration planner
//! (`steward-migrate`) makes every step from what the Heroku Platform API says about the app;
//! each is an ordinary tool call that takes the one propose path (policy, approval, audit)
//! and that the executor runs. Every forward step has an inverse, also a step, so a rollback
//! is a series of ordinary, policy-checked calls.
//!
//! Secrets never appear here: a step names config vars, never their values.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::fmt;

use crate::environment::Environment;
use crate::field::FieldError;

/// One step of a migration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MigrationStep {
    /// The app's name on Heroku.
    pub app: String,
    /// The migration the step belongs to (its id in the store).
    pub migration: i64,
    /// Where the app will run on AWS.
    pub environment: Environment,
    pub action: StepAction,
    /// How the step changes the hourly cost once done, US cents (negative: it saves).
    pub cost_cents_per_hour: i64,
    /// Whether data can be lost if the step goes wrong.
    pub data_at_risk: bool,
    /// Minutes the app is expected to be unavailable while the step runs.
    pub downtime_minutes: u32,
}

/// What a step does.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum StepAction {
    /// Each config var in `copy` to SSM Parameter Store as a SecureString under `prefix`;
    /// the vars an add-on manages (`repoint`) are pointed at the new target instead.
    StoreSecrets { prefix: String, copy: Vec<String>, repoint: Vec<String> },
    /// A PostgreSQL target: an RDS instance sized from the Heroku plan; its URL goes to
    /// `url_parameter`.
    CreateDatabase {
        identifier: String,
        instance_class: String,
        storage_gb: u32,
        engine_version: String,
        multi_az: bool,
        url_parameter: String,
    },
    /// One process type as an ECS Fargate service; `web` behind a load balancer.
    DeployService(ServiceSpec),
    /// Maintenance mode on at Heroku, `pg_dump` of the database `source_var` names to the one
    /// `target_parameter` holds with `pg_restore`, then every table's row count and primary
    /// keys checked.
    CopyData { source_var: String, target_parameter: String, jobs: u32 },
    /// The custom domain's DNS to the new load balancer (an UPSERT in the hosted zone that
    /// holds it; the old record kept for the inverse). No zone: a manual step, named.
    CutOverDns { domain: String },
    /// Heroku's formation to zero, once the new service answers `health_url` (default: the
    /// load balancer) with a 2xx.
    ScaleDownHeroku { processes: Vec<FormationEntry>, health_url: Option<String> },
    /// Inverse of `store_secrets`.
    DeleteSecrets { prefix: String, names: Vec<String> },
    /// Inverse of `create_database`.
    DeleteDatabase { identifier: String, url_parameter: String },
    /// Inverse of `deploy_service` (with the load balancer it made, for `web`).
    RemoveService { cluster: String, process_type: String, web: bool },
    /// Inverse of `copy_data`: Heroku's maintenance mode off.
    EndMaintenance {},
    /// Inverse of `cut_over_dns`: the records as they were (none: delete Steward's).
    RestoreDns { domain: String, records: Vec<DnsRecord> },
    /// Inverse of `scale_down_heroku`.
    RestoreFormation { processes: Vec<FormationEntry> },
}

/// An ECS Fargate service for one process type.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ServiceSpec {
    pub cluster: String,
    pub process_type: String,
    pub image: String,
    /// The process's command, as Heroku runs it.
    pub command: String,
    /// Fargate CPU units (256 = a quarter vCPU) and memory, mapped from the dyno size.
    pub cpu: u32,
    pub memory_mb: u32,
    pub desired_count: u32,
    /// The web process: behind a load balancer target group.
    pub web: bool,
    pub port: u16,
    /// SSM parameters the task reads into its environment, by variable name.
    pub secrets: Vec<String>,
    pub secrets_prefix: String,
}

/// One process type's size and count at Heroku.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FormationEntry {
    pub process_type: String,
    pub quantity: u32,
    pub size: String,
}

/// A DNS record as it stood.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DnsRecord {
    pub name: String,
    pub record_type: String,
    pub ttl: u32,
    pub values: Vec<String>,
}

impl StepAction {
    /// The step's kind: the policy action and the word people see.
    pub fn kind(&self) -> &'static str {
        match self {
            StepAction::StoreSecrets { .. } => "store_secrets",
            StepAction::CreateDatabase { .. } => "create_database",
            StepAction::DeployService(_) => "deploy_service",
            StepAction::CopyData { .. } => "copy_data",
            StepAction::CutOverDns { .. } => "cut_over_dns",
            StepAction::ScaleDownHeroku { .. } => "scale_down_heroku",
            StepAction::DeleteSecrets { .. } => "delete_secrets",
            StepAction::DeleteDatabase { .. } => "delete_database",
            StepAction::RemoveService { .. } => "remove_service",
            StepAction::EndMaintenance {} => "end_maintenance",
            StepAction::RestoreDns { .. } => "restore_dns",
            StepAction::RestoreFormation { .. } => "restore_formation",
        }
    }

    /// Whether this undoes a forward step.
    pub fn is_inverse(&self) -> bool {
        matches!(
            self,
            StepAction::DeleteSecrets { .. }
                | StepAction::DeleteDatabase { .. }
                | StepAction::RemoveService { .. }
                | StepAction::EndMaintenance {}
                | StepAction::RestoreDns { .. }
                | StepAction::RestoreFormation { .. }
        )
    }
}

/// Every step kind, forward then inverse: the policy actions a migration uses.
pub const STEP_KINDS: [&str; 12] = [
    "store_secrets",
    "create_database",
    "deploy_service",
    "copy_data",
    "cut_over_dns",
    "scale_down_heroku",
    "delete_secrets",
    "delete_database",
    "remove_service",
    "end_maintenance",
    "restore_dns",
    "restore_formation",
];

fn check_name(field: &str, value: &str) -> Result<(), FieldError> {
    let ok_char = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ':' | '/');
    if value.is_empty() || value.len() > 255 || !value.chars().all(ok_char) {
        return Err(FieldError::new(
            field,
            "must be 1 to 255 characters of letters, digits, '-', '_', '.', ':' or '/'",
        ));
    }
    Ok(())
}

impl MigrationStep {
    /// The bounds and shapes the executor relies on.
    pub fn check(&self) -> Result<(), FieldError> {
        check_name("arguments.app", &self.app)?;
        if self.migration < 1 {
            return Err(FieldError::new("arguments.migration", "must be a migration's id"));
        }
        let a = "arguments.action";
        match &self.action {
            StepAction::StoreSecrets { prefix, copy, repoint } => {
                check_name(&format!("{a}.prefix"), prefix)?;
                for name in copy.iter().chain(repoint) {
                    check_name(&format!("{a}.copy"), name)?;
                }
            }
            StepAction::CreateDatabase { identifier, storage_gb, .. } => {
                check_name(&format!("{a}.identifier"), identifier)?;
                if !(20..=65_536).contains(storage_gb) {
                    return Err(FieldError::new(format!("{a}.storage_gb"), "must be between 20 and 65536"));
                }
            }
            StepAction::DeployService(s) => {
                check_name(&format!("{a}.process_type"), &s.process_type)?;
                if s.desired_count > 100 {
                    return Err(FieldError::new(format!("{a}.desired_count"), "must be at most 100"));
                }
            }
            StepAction::CopyData { jobs, .. } if !(1..=16).contains(jobs) => {
                return Err(FieldError::new(format!("{a}.jobs"), "must be between 1 and 16"));
            }
            StepAction::CutOverDns { domain } | StepAction::RestoreDns { domain, .. } => {
                check_name(&format!("{a}.domain"), domain)?;
            }
            _ => {}
        }
        Ok(())
    }
}

impl StepAction {
    /// What the step does, in a few words.
    pub fn describe(&self) -> String {
        match self {
            StepAction::StoreSecrets { copy, repoint, .. } => {
                format!("{} config vars to SSM, {} re-pointed", copy.len(), repoint.len())
            }
            StepAction::CreateDatabase { instance_class, storage_gb, .. } => {
                format!("RDS PostgreSQL {instance_class}, {storage_gb} GB")
            }
            StepAction::DeployService(s) => {
                format!("{} on Fargate ×{} ({} CPU, {} MB)", s.process_type, s.desired_count, s.cpu, s.memory_mb)
            }
            StepAction::CopyData { jobs, .. } => format!("copy the data ({jobs} jobs), maintenance on"),
            StepAction::CutOverDns { domain } => format!("{domain} → the new load balancer"),
            StepAction::ScaleDownHeroku { processes, .. } => {
                let list: Vec<String> = processes.iter().map(|p| p.process_type.clone()).collect();
                format!("Heroku {} to 0", list.join(", "))
            }
            StepAction::DeleteSecrets { names, .. } => format!("delete {} SSM parameters", names.len()),
            StepAction::DeleteDatabase { identifier, .. } => format!("delete RDS {identifier} (a final snapshot kept)"),
            StepAction::RemoveService { process_type, .. } => format!("remove the {process_type} service"),
            StepAction::EndMaintenance {} => "Heroku maintenance off".to_string(),
            StepAction::RestoreDns { domain, .. } => format!("{domain} back as it was"),
            StepAction::RestoreFormation { processes } => {
                let list: Vec<String> =
                    processes.iter().map(|p| format!("{}×{}", p.process_type, p.quantity)).collect();
                format!("Heroku back to {}", list.join(", "))
            }
        }
    }
}

impl fmt::Display for MigrationStep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} ({})", self.action.kind(), self.app, self.action.describe())
    }
}
