//! Migrating an app off Heroku: plan it (read from Heroku, typed steps, what policy says of
//! each), start it (the plan stored; the daemon files one step at a time through the one
//! propose path), follow it, roll it back (the completed steps' inverses, newest first,
//! through policy like any change), and export its target as OpenTofu files.

use std::path::{Path, PathBuf};

use serde::Serialize;
use steward_heroku::HerokuError;
use steward_memory::migrations::{states, StateChange};
use steward_memory::{MigrationRecord, NewMigration, StoreError};
use steward_migrate::{Plan, PlanOptions};
use steward_policies::{Decision, DecisionInput, Proposer};
use steward_tools::{validate, Environment, Observation, Secret};

use super::caller::Caller;
use super::core::Service;
use super::error::ServiceError;
use crate::identity::Operation;
use crate::migration::TARGET_DATABASE_URL;

/// What a person chose.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MigrateOptions {
    pub environment: Environment,
    pub image: Option<String>,
    /// An existing PostgreSQL target instead of a new RDS instance.
    pub target_database_url: Option<Secret<String>>,
    pub health_url: Option<String>,
}

impl Default for MigrateOptions {
    fn default() -> Self {
        MigrateOptions { environment: Environment::Prod, image: None, target_database_url: None, health_url: None }
    }
}

/// A plan with what policy says of each step today.
#[derive(Debug, Clone)]
pub struct PlanView {
    pub plan: Plan,
    /// Where the app was read from.
    pub source: String,
    pub decisions: Vec<Decision>,
}

/// One step as it stands.
#[derive(Debug, Clone, Serialize)]
pub struct StepStatus {
    pub step: i64,
    pub kind: String,
    pub what: String,
    /// `waiting` (not filed yet), or its proposal's state.
    pub state: String,
    pub proposal: Option<i64>,
    /// `(who, approve|reject, when)`.
    pub decisions: Vec<(String, String, i64)>,
    pub filed_ms: Option<i64>,
    pub started_ms: Option<i64>,
    pub finished_ms: Option<i64>,
    /// What the step did (its receipt's summary).
    pub summary: Option<String>,
    /// How it was checked afterwards, or why it failed.
    pub outcome: Option<String>,
    /// What a person must still do by hand.
    pub manual: Vec<String>,
    /// The inverse, during or after a rollback: its proposal and state.
    pub undo: Option<(i64, String)>,
}

#[derive(Debug, Clone, Serialize)]
pub struct MigrationStatus {
    pub migration: i64,
    pub app: String,
    pub environment: String,
    pub state: String,
    pub started_by: String,
    pub created_ms: i64,
    pub updated_ms: i64,
    pub outcome: Option<String>,
    pub steps: Vec<StepStatus>,
}

fn heroku_error(e: HerokuError) -> ServiceError {
    match e {
        HerokuError::NoSuchApp(_) => ServiceError::NotFound(e.to_string()),
        other => ServiceError::Unavailable(other.to_string()),
    }
}

fn check_app(app: &str) -> Result<(), ServiceError> {
    let ok = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-';
    if app.is_empty() || app.len() > 100 || !app.chars().all(ok) {
        return Err(ServiceError::BadInput(format!(
            "`{app}` is not a Heroku app name (lowercase letters, digits, '-')"
        )));
    }
    Ok(())
}

impl Service {
    fn plan_options(&self, options: &MigrateOptions) -> PlanOptions {
        let m = &self.config().migration;
        PlanOptions {
            environment: options.environment,
            image: options.image.clone(),
            existing_database: options.target_database_url.is_some(),
            health_url: options.health_url.clone(),
            cluster: m.cluster.clone(),
            copy_jobs: m.copy_jobs,
        }
    }

    /// Read `app` from Heroku and plan its move.
    pub async fn plan_migration(&self, app: &str, options: &MigrateOptions) -> Result<PlanView, ServiceError> {
        check_app(app)?;
        let heroku = crate::migration::heroku(self.config());
        let described = heroku.app(app).await.map_err(heroku_error)?;
        let plan = steward_migrate::plan(&described, &self.plan_options(options));
        let guardrails = self.guardrails()?;
        let now = self.now_ms().await?;
        let burn = self.latest_observation().await?.map_or(0.0, |o| o.hourly_burn());
        let empty = Observation { at_ms: now, groups: Vec::new(), complete: true };
        let decisions = plan
            .calls(1)
            .into_iter()
            .filter_map(|call| validate(call, &empty).ok())
            .map(|validated| {
                let input = DecisionInput {
                    proposer: Proposer::planner("migration"),
                    now_ms: now,
                    hourly_burn_usd: burn,
                    month_to_date_usd: 0.0,
                    group_month_to_date_usd: 0.0,
                    last_change_ms: None,
                    changes_last_hour: 0,
                    tainted: false,
                    idle_only: false,
                };
                guardrails.decide(&validated, &input)
            })
            .collect();
        Ok(PlanView { plan, source: heroku.describe(), decisions })
    }

    /// Start moving `app` as the caller proves to be: the plan is stored, and the daemon
    /// files its steps one at a time.
    pub async fn start_migration(
        &self,
        caller: &Caller,
        app: &str,
        options: &MigrateOptions,
    ) -> Result<MigrationRecord, ServiceError> {
        check_app(app)?;
        let operation =
            Operation::StartMigration { app: app.to_string(), environment: options.environment.to_string() };
        let identity = self.identify(caller, &operation)?;
        if let Some(url) = &options.target_database_url {
            let ok = url.expose().starts_with("postgres://") || url.expose().starts_with("postgresql://");
            if !ok {
                return Err(ServiceError::BadInput("--target-database-url: not a postgres:// URL".into()));
            }
        }
        let view = self.plan_migration(app, options).await?;
        if !view.plan.blockers.is_empty() {
            return Err(ServiceError::BadInput(view.plan.blockers.join("; ")));
        }
        let plan_json = serde_json::to_value(&view.plan).map_err(|e| ServiceError::Config(e.into()))?;
        let inputs: Vec<(String, String)> =
            options.target_database_url.iter().map(|u| (TARGET_DATABASE_URL.to_string(), u.expose().clone())).collect();
        let new = NewMigration {
            app,
            environment: options.environment.as_str(),
            started_by: &identity.name,
            plan: &plan_json,
            inputs: &inputs,
            at_ms: self.now_ms().await?,
            via: identity.via.clone(),
        };
        let plan = view.plan;
        self.store().start_migration(&new, |id| plan.calls(id)).await.map_err(|e| match e {
            StoreError::MigrationActive { .. } => ServiceError::Conflict(e.to_string()),
            other => ServiceError::Store(other),
        })
    }

    /// The newest migration of `app`.
    pub async fn migration(&self, app: &str) -> Result<MigrationRecord, ServiceError> {
        check_app(app)?;
        self.store().latest_migration(app).await?.ok_or_else(|| {
            ServiceError::NotFound(format!("no migration of {app}: `steward migrate start {app}` begins one"))
        })
    }

    /// Every step of the newest migration of `app`: state, who decided, timings.
    pub async fn migration_status(&self, app: &str) -> Result<MigrationStatus, ServiceError> {
        let m = self.migration(app).await?;
        let mut steps = Vec::new();
        for s in &m.steps {
            let mut status = StepStatus {
                step: s.idx + 1,
                kind: s.call.policy_action().to_string(),
                what: s.call.to_string(),
                state: "waiting".into(),
                proposal: s.proposal_id,
                decisions: Vec::new(),
                filed_ms: None,
                started_ms: None,
                finished_ms: None,
                summary: None,
                outcome: None,
                manual: Vec::new(),
                undo: None,
            };
            if let Some(id) = s.proposal_id {
                if let Some(p) = self.store().proposal(id).await? {
                    status.state = p.state.to_string();
                    status.filed_ms = Some(p.created_ms);
                    status.outcome = p.outcome.clone();
                    status.summary =
                        p.receipt.as_ref().and_then(|r| r.get("summary")).and_then(|s| s.as_str()).map(str::to_string);
                    status.manual = p
                        .receipt
                        .as_ref()
                        .and_then(|r| r.get("manual"))
                        .and_then(|m| serde_json::from_value(m.clone()).ok())
                        .unwrap_or_default();
                    if p.state.is_final() {
                        status.finished_ms = Some(p.updated_ms);
                    }
                    let audit = self.store().audit_for_proposal(id).await?;
                    status.started_ms = audit.iter().find(|e| e.kind == "proposal.executing").map(|e| e.at_ms);
                    status.decisions = self
                        .store()
                        .approvals(id)
                        .await?
                        .into_iter()
                        .map(|a| (a.approver, a.decision, a.at_ms))
                        .collect();
                }
            }
            if let Some(undo) = s.undo_proposal_id {
                let state =
                    self.store().proposal(undo).await?.map_or_else(|| "unknown".into(), |p| p.state.to_string());
                status.undo = Some((undo, state));
            }
            steps.push(status);
        }
        Ok(MigrationStatus {
            migration: m.id,
            app: m.app,
            environment: m.environment,
            state: m.state,
            started_by: m.started_by,
            created_ms: m.created_ms,
            updated_ms: m.updated_ms,
            outcome: m.outcome,
            steps,
        })
    }

    /// Roll the newest migration of `app` back as the caller proves to be: the daemon files
    /// the completed steps' inverses, newest first, each through policy and approval.
    pub async fn rollback_migration(&self, caller: &Caller, app: &str) -> Result<MigrationRecord, ServiceError> {
        let identity = self.identify(caller, &Operation::RollbackMigration { app: app.to_string() })?;
        let m = self.migration(app).await?;
        let from = [states::RUNNING, states::COMPLETED, states::FAILED, states::ROLLBACK_FAILED];
        let now = self.now_ms().await?;
        let data = serde_json::json!({ "app": app, "requested_by": identity.name, "via": identity.via });
        let why = format!("rollback asked for by {}", identity.name);
        let change = StateChange { to: states::ROLLING_BACK, outcome: &why, at_ms: now, actor: &identity.name, data };
        if !self.store().set_migration_state(m.id, &from, change).await? {
            return Err(ServiceError::Conflict(format!(
                "migration #{} of {app} is {}: nothing to roll back",
                m.id, m.state
            )));
        }
        // Undoing a step failed last time: try it again.
        self.store().clear_failed_undos(m.id).await?;
        self.migration(app).await
    }

    /// Write the target of `app`'s migration (its stored plan, or a fresh one) as OpenTofu
    /// files into `dir`.
    pub async fn export_migration(&self, app: &str, dir: &Path) -> Result<(Plan, Vec<PathBuf>), ServiceError> {
        let plan = match self.store().latest_migration(app).await? {
            Some(m) => serde_json::from_value::<Plan>(m.plan).map_err(|e| ServiceError::Config(e.into()))?,
            None => self.plan_migration(app, &MigrateOptions::default()).await?.plan,
        };
        let files = steward_migrate::export::write(&plan, dir)
            .map_err(|e| ServiceError::BadInput(format!("writing {}: {e}", dir.display())))?;
        Ok((plan, files))
    }
}
