//! Where a migration's parts come from, as the config says: the Heroku account (the demo
//! account on the simulated cloud, the Platform API otherwise), the target (the simulated
//! cloud, or AWS through the SDK), the data copy (counted on the simulated cloud, `pg_dump`
//! and `pg_restore` otherwise), and what a person gave at the start that must not travel in
//! a call (kept in the store until the secrets step has put it in SSM). Shared by the
//! service core (planning) and the process that runs the daemon (executing).

use std::sync::Arc;

use async_trait::async_trait;
use steward_heroku::{DemoHeroku, FormationUpdate, HerokuApi, HerokuApp, HerokuError, HerokuSource, Process};
use steward_memory::Store;
use steward_migrate::aws::{AwsTarget, AwsTargetSettings};
use steward_migrate::{Copier, Inputs, Migrator, PgCopier, SimCopier, SimTarget, Target};
use steward_tools::{ProviderError, Secret};

use crate::config::{Config, Provider};

/// The name a migration's target database URL is kept under until it is in SSM.
pub const TARGET_DATABASE_URL: &str = "target_database_url";

/// A Heroku account Steward cannot reach: every call says why.
struct Unreachable(HerokuError);

#[async_trait]
impl HerokuSource for Unreachable {
    fn describe(&self) -> String {
        "no Heroku account".into()
    }

    async fn app(&self, _name: &str) -> Result<HerokuApp, HerokuError> {
        Err(self.0.clone())
    }

    async fn set_maintenance(&self, _name: &str, _on: bool) -> Result<(), HerokuError> {
        Err(self.0.clone())
    }

    async fn scale(&self, _name: &str, _updates: &[FormationUpdate]) -> Result<Vec<Process>, HerokuError> {
        Err(self.0.clone())
    }
}

/// The Heroku account apps are migrated from.
pub fn heroku(config: &Config) -> Arc<dyn HerokuSource> {
    match config.provider {
        Provider::Simulated => Arc::new(DemoHeroku::persistent(config.sim_state_dir.join("heroku.json"))),
        Provider::Aws => match &config.heroku.api_key {
            None => Arc::new(Unreachable(HerokuError::NoKey)),
            Some(key) => match HerokuApi::new(&config.heroku.api_url, key.clone()) {
                Ok(api) => Arc::new(api),
                Err(e) => Arc::new(Unreachable(e)),
            },
        },
    }
}

/// Migration inputs kept in the store.
pub struct StoreInputs(pub Store);

#[async_trait]
impl Inputs for StoreInputs {
    async fn target_database_url(&self, migration: i64) -> Result<Option<Secret<String>>, ProviderError> {
        self.0
            .migration_input(migration, TARGET_DATABASE_URL)
            .await
            .map(|v| v.map(Secret::new))
            .map_err(|e| ProviderError::Unavailable(format!("the store did not answer: {e}")))
    }

    async fn forget(&self, migration: i64) -> Result<(), ProviderError> {
        self.0
            .forget_migration_inputs(migration)
            .await
            .map_err(|e| ProviderError::Unavailable(format!("the store did not answer: {e}")))
    }
}

/// The executor of migration steps for `config`, with its inputs in `store`.
pub async fn migrator(config: &Config, store: Store) -> Migrator {
    let (target, copier): (Arc<dyn Target>, Arc<dyn Copier>) = match (config.provider, &config.aws) {
        (Provider::Aws, Some(aws)) => {
            let first = aws.first();
            let settings = AwsTargetSettings {
                region: first.map(|a| a.region.clone()).unwrap_or_else(|| "us-east-1".into()),
                endpoint_url: first.and_then(|a| a.endpoint_url.clone()),
                subnets: config.migration.subnets.clone(),
                security_groups: config.migration.security_groups.clone(),
                execution_role_arn: config.migration.execution_role_arn.clone(),
                db_subnet_group: config.migration.db_subnet_group.clone(),
                database_wait: config.migration.database_wait,
            };
            let copier = PgCopier {
                pg_dump: config.migration.pg_dump.clone(),
                pg_restore: config.migration.pg_restore.clone(),
                scratch: config.migration.scratch_dir.clone(),
            };
            (Arc::new(AwsTarget::connect(settings).await), Arc::new(copier))
        }
        _ => (Arc::new(SimTarget::persistent(config.sim_state_dir.join("cloud.json"))), Arc::new(SimCopier)),
    };
    Migrator { heroku: heroku(config), target, copier, inputs: Arc::new(StoreInputs(store)) }
}

/// What the LLM planner's `plan_migration` tool plans with.
pub fn planning(config: &Config) -> crate::fleet_tools::MigrationPlanning {
    let options = steward_migrate::PlanOptions {
        cluster: config.migration.cluster.clone(),
        copy_jobs: config.migration.copy_jobs,
        ..steward_migrate::PlanOptions::default()
    };
    crate::fleet_tools::MigrationPlanning { heroku: heroku(config), options }
}
