//! Migrations off Heroku: the stored plan, its steps, and which proposal carries each step
//! (and, during a rollback, its inverse). A step's state is its proposal's state; the
//! migration's own state moves `running → completed | failed`, and `rolling_back →
//! rolled_back` (or `rollback_failed`). Every change is one audit entry in the same
//! transaction.

use serde::Serialize;
use serde_json::{json, Value};
use sqlx::Row;
use steward_tools::ToolCall;

use crate::audit::{append_tx, NewEntry};
use crate::proposals::{insert_proposal_tx, NewProposal, ProposalRecord};
use crate::{Store, StoreError};

/// Where a migration stands.
pub mod states {
    pub const RUNNING: &str = "running";
    pub const COMPLETED: &str = "completed";
    pub const FAILED: &str = "failed";
    pub const ROLLING_BACK: &str = "rolling_back";
    pub const ROLLED_BACK: &str = "rolled_back";
    pub const ROLLBACK_FAILED: &str = "rollback_failed";
    /// Not finished: no other migration of the app may start.
    pub const ACTIVE: [&str; 4] = [RUNNING, FAILED, ROLLING_BACK, ROLLBACK_FAILED];
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MigrationStepRecord {
    pub idx: i64,
    pub call: ToolCall,
    pub proposal_id: Option<i64>,
    pub undo_proposal_id: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MigrationRecord {
    pub id: i64,
    pub app: String,
    pub environment: String,
    pub state: String,
    pub started_by: String,
    pub created_ms: i64,
    pub updated_ms: i64,
    /// The typed plan, as the planner made it.
    pub plan: Value,
    pub outcome: Option<String>,
    pub steps: Vec<MigrationStepRecord>,
}

/// A new migration.
#[derive(Debug, Clone)]
pub struct NewMigration<'a> {
    pub app: &'a str,
    pub environment: &'a str,
    pub started_by: &'a str,
    pub plan: &'a Value,
    /// Inputs that must not travel in a call (`target_database_url`).
    pub inputs: &'a [(String, String)],
    pub at_ms: i64,
    /// How the start was proved, for the audit entry.
    pub via: Value,
}

const COLUMNS: &str = "id, app, environment, state, started_by, created_ms, updated_ms, plan_json, outcome";

fn corrupt(id: i64, what: &str, e: serde_json::Error) -> StoreError {
    StoreError::Corrupt(format!("migration {id}: {what}: {e}"))
}

/// A migration's move to another state: why, when, by whom, and what the audit entry adds.
#[derive(Debug, Clone)]
pub struct StateChange<'a> {
    pub to: &'a str,
    pub outcome: &'a str,
    pub at_ms: i64,
    pub actor: &'a str,
    pub data: Value,
}

impl Store {
    /// Record a migration and its steps (`steps(id)`: the calls, which carry the id) with
    /// one audit entry. Fails with [`StoreError::MigrationActive`] while another migration
    /// of the app is unfinished.
    pub async fn start_migration(
        &self,
        new: &NewMigration<'_>,
        steps: impl FnOnce(i64) -> Vec<ToolCall>,
    ) -> Result<MigrationRecord, StoreError> {
        let active = states::ACTIVE.iter().map(|s| format!("'{s}'")).collect::<Vec<_>>().join(", ");
        let busy_sql = format!("SELECT id FROM migrations WHERE app = $1 AND state IN ({active}) LIMIT 1");
        let id: i64 = in_tx!(self, tx => {
            if let Some(row) = sqlx::query(&busy_sql).bind(new.app).fetch_optional(&mut *tx).await? {
                let id: i64 = row.try_get("id")?;
                return Err(StoreError::MigrationActive { app: new.app.to_string(), id });
            }
            let row = sqlx::query(
                "INSERT INTO migrations (app, environment, state, started_by, created_ms, updated_ms, plan_json) \
                 VALUES ($1, $2, 'running', $3, $4, $4, $5) RETURNING id",
            )
            .bind(new.app)
            .bind(new.environment)
            .bind(new.started_by)
            .bind(new.at_ms)
            .bind(new.plan.to_string())
            .fetch_one(&mut *tx)
            .await?;
            let id: i64 = row.try_get("id")?;
            let calls = steps(id);
            for (idx, call) in calls.iter().enumerate() {
                sqlx::query("INSERT INTO migration_steps (migration_id, idx, call_json) VALUES ($1, $2, $3)")
                    .bind(id)
                    .bind(i64::try_from(idx).unwrap_or(i64::MAX))
                    .bind(call.canonical_json())
                    .execute(&mut *tx)
                    .await?;
            }
            for (name, value) in new.inputs {
                sqlx::query("INSERT INTO migration_inputs (migration_id, name, value) VALUES ($1, $2, $3)")
                    .bind(id)
                    .bind(name)
                    .bind(value)
                    .execute(&mut *tx)
                    .await?;
            }
            let kinds: Vec<&str> = calls.iter().map(ToolCall::policy_action).collect();
            let names: Vec<&String> = new.inputs.iter().map(|(n, _)| n).collect();
            let data = json!({ "migration": id, "app": new.app, "environment": new.environment,
                               "steps": kinds, "inputs": names, "via": new.via });
            append_tx!(tx, &NewEntry::new(new.at_ms, new.started_by, "migration.started", None, data));
            id
        });
        self.migration(id).await?.ok_or(StoreError::Corrupt(format!("migration {id} vanished")))
    }

    pub async fn migration(&self, id: i64) -> Result<Option<MigrationRecord>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM migrations WHERE id = $1");
        let row = on_pool!(self, pool => match sqlx::query(&sql).bind(id).fetch_optional(pool).await? {
            Some(row) => Some(self.migration_from(&row).await?),
            None => None,
        });
        Ok(row)
    }

    /// The newest migration of `app`.
    pub async fn latest_migration(&self, app: &str) -> Result<Option<MigrationRecord>, StoreError> {
        let sql = "SELECT id FROM migrations WHERE app = $1 ORDER BY id DESC LIMIT 1";
        let id: Option<i64> = on_pool!(self, pool => match sqlx::query(sql).bind(app).fetch_optional(pool).await? {
            Some(row) => Some(row.try_get("id")?),
            None => None,
        });
        match id {
            Some(id) => self.migration(id).await,
            None => Ok(None),
        }
    }

    /// Migrations in one of `states`, oldest first.
    pub async fn migrations_in(&self, states: &[&str]) -> Result<Vec<MigrationRecord>, StoreError> {
        let list = states.iter().map(|s| format!("'{s}'")).collect::<Vec<_>>().join(", ");
        let sql = format!("SELECT id FROM migrations WHERE state IN ({list}) ORDER BY id");
        let ids: Vec<i64> = on_pool!(self, pool => {
            let rows = sqlx::query(&sql).fetch_all(pool).await?;
            rows.iter().map(|r| r.try_get::<i64, _>("id")).collect::<Result<Vec<_>, _>>()?
        });
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            if let Some(m) = self.migration(id).await? {
                out.push(m);
            }
        }
        Ok(out)
    }

    async fn migration_from<R>(&self, row: &R) -> Result<MigrationRecord, StoreError>
    where
        R: Row,
        for<'c> &'c str: sqlx::ColumnIndex<R>,
        for<'r> String: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
        for<'r> i64: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
        for<'r> Option<String>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    {
        let id: i64 = row.try_get("id")?;
        let plan: String = row.try_get("plan_json")?;
        Ok(MigrationRecord {
            id,
            app: row.try_get("app")?,
            environment: row.try_get("environment")?,
            state: row.try_get("state")?,
            started_by: row.try_get("started_by")?,
            created_ms: row.try_get("created_ms")?,
            updated_ms: row.try_get("updated_ms")?,
            plan: serde_json::from_str(&plan).map_err(|e| corrupt(id, "plan", e))?,
            outcome: row.try_get("outcome")?,
            steps: self.migration_steps(id).await?,
        })
    }

    async fn migration_steps(&self, id: i64) -> Result<Vec<MigrationStepRecord>, StoreError> {
        let sql = "SELECT idx, call_json, proposal_id, undo_proposal_id FROM migration_steps \
                   WHERE migration_id = $1 ORDER BY idx";
        Ok(on_pool!(self, pool => {
            let rows = sqlx::query(sql).bind(id).fetch_all(pool).await?;
            let mut out = Vec::with_capacity(rows.len());
            for row in &rows {
                let call: String = row.try_get("call_json")?;
                out.push(MigrationStepRecord {
                    idx: row.try_get("idx")?,
                    call: serde_json::from_str(&call).map_err(|e| corrupt(id, "step", e))?,
                    proposal_id: row.try_get("proposal_id")?,
                    undo_proposal_id: row.try_get("undo_proposal_id")?,
                });
            }
            out
        }))
    }

    /// File step `idx` of migration `id` (or its inverse, when `undo`) as proposal `new`, in
    /// one transaction with its audit entries. Returns `None`, filing nothing, when the step
    /// already has that proposal (someone filed it first).
    pub async fn file_migration_step(
        &self,
        id: i64,
        idx: i64,
        undo: bool,
        new: &NewProposal,
    ) -> Result<Option<ProposalRecord>, StoreError> {
        let column = if undo { "undo_proposal_id" } else { "proposal_id" };
        let check = format!("SELECT {column} AS p FROM migration_steps WHERE migration_id = $1 AND idx = $2");
        let set = format!("UPDATE migration_steps SET {column} = $1 WHERE migration_id = $2 AND idx = $3");
        let filed: Option<i64> = in_tx!(self, tx => {
            let row = sqlx::query(&check).bind(id).bind(idx).fetch_one(&mut *tx).await?;
            let existing: Option<i64> = row.try_get("p")?;
            if existing.is_some() {
                None
            } else {
                let proposal = insert_proposal_tx!(tx, new);
                sqlx::query(&set).bind(proposal).bind(id).bind(idx).execute(&mut *tx).await?;
                let kind = if undo { "migration.undo_filed" } else { "migration.step_filed" };
                let data = json!({ "migration": id, "step": idx, "kind": new.call.policy_action() });
                append_tx!(tx, &NewEntry::new(new.at_ms, "steward", kind, Some(proposal), data));
                Some(proposal)
            }
        });
        match filed {
            Some(p) => self.proposal(p).await,
            None => Ok(None),
        }
    }

    /// Move migration `id` from one of `from` to `change.to`, with an audit entry
    /// `migration.<to>`. Returns `false`, changing nothing, when it is in none of `from`.
    pub async fn set_migration_state(
        &self,
        id: i64,
        from: &[&str],
        change: StateChange<'_>,
    ) -> Result<bool, StoreError> {
        let StateChange { to, outcome, at_ms, actor, data } = change;
        let list = from.iter().map(|s| format!("'{s}'")).collect::<Vec<_>>().join(", ");
        let sql = format!(
            "UPDATE migrations SET state = $1, outcome = $2, updated_ms = $3 WHERE id = $4 AND state IN ({list})"
        );
        Ok(in_tx!(self, tx => {
            let changed = sqlx::query(&sql).bind(to).bind(outcome).bind(at_ms).bind(id).execute(&mut *tx).await?.rows_affected() == 1;
            if changed {
                let mut data = data;
                data["migration"] = json!(id);
                data["outcome"] = json!(outcome);
                append_tx!(tx, &NewEntry::new(at_ms, actor, &format!("migration.{to}"), None, data));
            }
            changed
        }))
    }

    /// Unlink inverses that ended without their change, so a rollback asked for again files
    /// them anew.
    pub async fn clear_failed_undos(&self, id: i64) -> Result<(), StoreError> {
        let sql = "UPDATE migration_steps SET undo_proposal_id = NULL WHERE migration_id = $1 AND undo_proposal_id IN \
                   (SELECT id FROM proposals WHERE state IN ('invalid', 'denied', 'rejected', 'expired', 'superseded', 'dry_run', 'failed'))";
        on_pool!(self, pool => {
            sqlx::query(sql).bind(id).execute(pool).await?;
        });
        Ok(())
    }

    /// An input given when the migration started.
    pub async fn migration_input(&self, id: i64, name: &str) -> Result<Option<String>, StoreError> {
        let sql = "SELECT value FROM migration_inputs WHERE migration_id = $1 AND name = $2";
        Ok(on_pool!(self, pool => match sqlx::query(sql).bind(id).bind(name).fetch_optional(pool).await? {
            Some(row) => Some(row.try_get("value")?),
            None => None,
        }))
    }

    /// Forget the migration's inputs (they are in SSM now).
    pub async fn forget_migration_inputs(&self, id: i64) -> Result<(), StoreError> {
        on_pool!(self, pool => {
            sqlx::query("DELETE FROM migration_inputs WHERE migration_id = $1").bind(id).execute(pool).await?;
        });
        Ok(())
    }
}
