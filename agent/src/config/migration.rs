//! `[migration]`: how apps are moved off Heroku: the ECS cluster, the data copy's tools and
//! parallelism, and on AWS the network and the role the new services run with. The Heroku
//! account comes from `HEROKU_API_KEY` (and `HEROKU_API_URL`), never from here; on the
//! simulated cloud the built-in demo account answers.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::bail;
use serde::Deserialize;

use super::values::parse_duration;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MigrationFileConfig {
    /// The ECS cluster the services run in (created if missing).
    pub cluster: String,
    /// `pg_dump`/`pg_restore` parallel jobs.
    pub copy_jobs: u32,
    pub pg_dump: PathBuf,
    pub pg_restore: PathBuf,
    /// Where dumps are written while the data moves (default: the system's temporary
    /// directory); it needs room for the database.
    pub scratch_dir: Option<PathBuf>,
    /// Subnets for the services and the load balancer (default: the default VPC's).
    pub subnets: Vec<String>,
    /// Security groups (default: the VPC's default one).
    pub security_groups: Vec<String>,
    /// The role ECS tasks pull images and read their SSM parameters with.
    pub execution_role_arn: Option<String>,
    /// The RDS subnet group (default: the account's default).
    pub db_subnet_group: Option<String>,
    /// How long a new database may take to become available.
    pub database_wait: String,
}

impl Default for MigrationFileConfig {
    fn default() -> Self {
        MigrationFileConfig {
            cluster: "steward".into(),
            copy_jobs: 2,
            pg_dump: "pg_dump".into(),
            pg_restore: "pg_restore".into(),
            scratch_dir: None,
            subnets: Vec::new(),
            security_groups: Vec::new(),
            execution_role_arn: None,
            db_subnet_group: None,
            database_wait: "30m".into(),
        }
    }
}

/// The resolved section.
#[derive(Debug, Clone, PartialEq)]
pub struct MigrationConfig {
    pub cluster: String,
    pub copy_jobs: u32,
    pub pg_dump: PathBuf,
    pub pg_restore: PathBuf,
    pub scratch_dir: Option<PathBuf>,
    pub subnets: Vec<String>,
    pub security_groups: Vec<String>,
    pub execution_role_arn: Option<String>,
    pub db_subnet_group: Option<String>,
    pub database_wait: Duration,
}

impl MigrationConfig {
    pub fn resolve(file: &MigrationFileConfig) -> anyhow::Result<MigrationConfig> {
        let ok = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '_';
        if file.cluster.is_empty() || file.cluster.len() > 255 || !file.cluster.chars().all(ok) {
            bail!("migration.cluster: `{}` is not an ECS cluster name", file.cluster);
        }
        if !(1..=16).contains(&file.copy_jobs) {
            bail!("migration.copy_jobs: must be between 1 and 16, got {}", file.copy_jobs);
        }
        Ok(MigrationConfig {
            cluster: file.cluster.clone(),
            copy_jobs: file.copy_jobs,
            pg_dump: file.pg_dump.clone(),
            pg_restore: file.pg_restore.clone(),
            scratch_dir: file.scratch_dir.clone(),
            subnets: file.subnets.clone(),
            security_groups: file.security_groups.clone(),
            execution_role_arn: file.execution_role_arn.clone().filter(|r| !r.trim().is_empty()),
            db_subnet_group: file.db_subnet_group.clone().filter(|g| !g.trim().is_empty()),
            database_wait: parse_duration("migration.database_wait", &file.database_wait)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_resolve_and_bad_values_are_named() {
        let m = MigrationConfig::resolve(&MigrationFileConfig::default()).expect("defaults");
        assert_eq!((m.cluster.as_str(), m.copy_jobs), ("steward", 2));
        for (text, expect) in [
            ("copy_jobs = 0", "migration.copy_jobs"),
            ("cluster = \"no spaces\"", "migration.cluster"),
            ("database_wait = \"soon\"", "migration.database_wait"),
        ] {
            let file: MigrationFileConfig = toml::from_str(text).expect("toml");
            let err = MigrationConfig::resolve(&file).expect_err(text);
            assert!(format!("{err:#}").contains(expect), "{text}: {err:#}");
        }
    }
}
