//! Control values (the kill switch, the daemon's clock, the enforcement fingerprint, the
//! last checkpoint) and remembered observations.

use serde::Serialize;

use sqlx::Row;
use steward_tools::Observation;

use crate::audit::{append_tx, NewEntry};
use crate::{ProposalState, Store, StoreError};

/// One group's figures in one tick, as remembered for planners and the LLM's tools.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ObservationRow {
    pub group: String,
    pub at_ms: i64,
    pub desired: i64,
    pub running: i64,
    pub cpu_percent: Option<f64>,
    pub requests: Option<f64>,
    pub queue_depth: Option<i64>,
    pub hourly_burn: f64,
    /// GPU pools: workers busy with a job, and the pool's jobs-started counter.
    pub busy: Option<i64>,
    pub jobs_started: Option<i64>,
}

/// What a tick's stages have to act on, read when the tick is recorded: the kill switch,
/// how many proposals are in each state a stage takes up, and how many migrations are
/// running or rolling back. A stage with nothing to act on reads nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TickState {
    pub paused: bool,
    pub proposed: i64,
    pub pending_approval: i64,
    pub approved: i64,
    pub executing: i64,
    pub migrations_moving: i64,
}

impl TickState {
    /// When the store could not say: every stage reads for itself.
    pub fn unknown(paused: bool) -> TickState {
        TickState { paused, proposed: 1, pending_approval: 1, approved: 1, executing: 1, migrations_moving: 1 }
    }

    fn sql() -> String {
        let count = |state: ProposalState| {
            format!("(SELECT COUNT(*) FROM proposals WHERE state = '{0}') AS {0}", state.as_str())
        };
        let moving = [crate::migrations::states::RUNNING, crate::migrations::states::ROLLING_BACK]
            .map(|s| format!("'{s}'"))
            .join(", ");
        format!(
            "SELECT (SELECT value FROM control WHERE key = $1) AS paused, {}, {}, {}, {}, \
             (SELECT COUNT(*) FROM migrations WHERE state IN ({moving})) AS migrations_moving",
            count(ProposalState::Proposed),
            count(ProposalState::PendingApproval),
            count(ProposalState::Approved),
            count(ProposalState::Executing),
        )
    }
}

/// Insert each group's figures inside an open transaction.
macro_rules! insert_observation {
    ($tx:ident, $observation:expr) => {{
        let observation: &Observation = $observation;
        let sql = "INSERT INTO observations (group_name, at_ms, desired, running, cpu_percent, requests, queue_depth, \
                   hourly_burn, busy, jobs_started) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) \
                   ON CONFLICT (group_name, at_ms) DO NOTHING";
        for g in &observation.groups {
            let gpu = g.kind == steward_tools::GroupKind::GpuPool;
            let busy = gpu.then(|| i64::try_from(g.instances.iter().filter(|i| i.busy).count()).unwrap_or(i64::MAX));
            let started = g.pool.as_ref().and_then(|p| p.jobs_started).map(|n| i64::try_from(n).unwrap_or(i64::MAX));
            sqlx::query(sql)
                .bind(&g.name)
                .bind(observation.at_ms)
                .bind(i64::from(g.desired))
                .bind(i64::from(g.running()))
                .bind(g.cpu_percent)
                .bind(g.requests_per_minute)
                .bind(g.queue_depth.map(|q| i64::try_from(q).unwrap_or(i64::MAX)))
                .bind(g.hourly_burn())
                .bind(busy)
                .bind(started)
                .execute(&mut *$tx)
                .await?;
        }
    }};
}

impl Store {
    pub async fn control(&self, key: &str) -> Result<Option<String>, StoreError> {
        Ok(on_pool!(self, pool => {
            match sqlx::query("SELECT value FROM control WHERE key = $1").bind(key).fetch_optional(pool).await? {
                Some(row) => Some(row.try_get::<String, _>("value")?),
                None => None,
            }
        }))
    }

    /// Set a control value without an audit entry (the daemon's clock and other bookkeeping).
    pub async fn set_control(&self, key: &str, value: &str) -> Result<(), StoreError> {
        on_pool!(self, pool => {
            sqlx::query("INSERT INTO control (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = $2")
                .bind(key)
                .bind(value)
                .execute(pool)
                .await?;
        });
        Ok(())
    }

    /// Set a control value and record it in the audit log, in one transaction.
    pub async fn set_control_audited(&self, key: &str, value: &str, entry: NewEntry) -> Result<(), StoreError> {
        in_tx!(self, tx => {
            sqlx::query("INSERT INTO control (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = $2")
                .bind(key)
                .bind(value)
                .execute(&mut *tx)
                .await?;
            append_tx!(tx, &entry);
        });
        Ok(())
    }

    /// Whether the kill switch is on.
    pub async fn paused(&self) -> Result<bool, StoreError> {
        Ok(self.control(keys::PAUSED).await?.as_deref() == Some("true"))
    }

    /// The daemon's newest observation, as it recorded it (`None` before its first tick).
    pub async fn latest_observation(&self) -> Result<Option<Observation>, StoreError> {
        let Some(text) = self.control(keys::LATEST_OBSERVATION).await? else { return Ok(None) };
        serde_json::from_str(&text)
            .map(Some)
            .map_err(|e| StoreError::Corrupt(format!("the stored observation is unreadable: {e}")))
    }

    /// The daemon's clock as it last published it (simulated time on the simulated cloud).
    pub async fn daemon_clock_ms(&self) -> Result<Option<i64>, StoreError> {
        Ok(self.control(keys::CLOCK_MS).await?.and_then(|t| t.parse::<i64>().ok()))
    }

    /// Remember every group's figures from one observation.
    pub async fn record_observation(&self, observation: &Observation) -> Result<(), StoreError> {
        on_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            insert_observation!(tx, observation);
            tx.commit().await?;
        });
        Ok(())
    }

    /// What the daemon keeps of each tick, in one transaction: every group's figures, what
    /// the `interval_ms` up to the observation cost (the hourly roll-up), the whole
    /// observation as the newest one (for `steward ask` and `steward cost`) and the daemon's
    /// clock (`clock_ms`). Returns what the tick's stages have to act on, read in the same
    /// transaction, so a quiet tick asks the store once instead of once per stage.
    ///
    /// This bookkeeping is committed without waiting for the disk (SQLite: its own
    /// connection with `synchronous = NORMAL`; PostgreSQL: `synchronous_commit = off` for
    /// this transaction): a crash of the process loses none of it, a power cut may lose the
    /// newest few ticks' figures, which the next ticks observe again. Proposals, approvals
    /// and the audit log always wait for the disk.
    pub async fn record_tick(
        &self,
        observation: &Observation,
        interval_ms: i64,
        clock_ms: i64,
    ) -> Result<TickState, StoreError> {
        let snapshot = serde_json::to_string(observation).unwrap_or_default();
        let clock = clock_ms.to_string();
        macro_rules! record {
            ($tx:ident) => {{
                insert_observation!($tx, observation);
                crate::llm::add_cost!($tx, observation, interval_ms);
                sqlx::query(
                    "INSERT INTO control (key, value) VALUES ($1, $2), ($3, $4) \
                     ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                )
                .bind(keys::LATEST_OBSERVATION)
                .bind(&snapshot)
                .bind(keys::CLOCK_MS)
                .bind(&clock)
                .execute(&mut *$tx)
                .await?;
                let row = sqlx::query(&TickState::sql()).bind(keys::PAUSED).fetch_one(&mut *$tx).await?;
                TickState {
                    paused: row.try_get::<Option<String>, _>("paused")?.as_deref() == Some("true"),
                    proposed: row.try_get("proposed")?,
                    pending_approval: row.try_get("pending_approval")?,
                    approved: row.try_get("approved")?,
                    executing: row.try_get("executing")?,
                    migrations_moving: row.try_get("migrations_moving")?,
                }
            }};
        }
        Ok(match (&*self.pool, &self.bookkeeping) {
            (crate::Pool::Sqlite(_), Some(pool)) | (crate::Pool::Sqlite(pool), None) => {
                let mut tx = pool.begin().await?;
                let state = record!(tx);
                tx.commit().await?;
                state
            }
            (crate::Pool::Postgres(pool), _) => {
                let mut tx = pool.begin().await?;
                sqlx::query("SET LOCAL synchronous_commit TO OFF").execute(&mut *tx).await?;
                let state = record!(tx);
                tx.commit().await?;
                state
            }
        })
    }

    /// A group's remembered figures between `from_ms` and `to_ms` (inclusive), oldest first.
    pub async fn observations(&self, group: &str, from_ms: i64, to_ms: i64) -> Result<Vec<ObservationRow>, StoreError> {
        let sql = "SELECT group_name, at_ms, desired, running, cpu_percent, requests, queue_depth, hourly_burn, \
                   busy, jobs_started FROM observations WHERE group_name = $1 AND at_ms >= $2 AND at_ms <= $3 ORDER BY at_ms";
        Ok(on_pool!(self, pool => {
            let rows = sqlx::query(sql).bind(group).bind(from_ms).bind(to_ms).fetch_all(pool).await?;
            let mut out = Vec::with_capacity(rows.len());
            for row in &rows {
                out.push(ObservationRow {
                    group: row.try_get("group_name")?,
                    at_ms: row.try_get("at_ms")?,
                    desired: row.try_get("desired")?,
                    running: row.try_get("running")?,
                    cpu_percent: row.try_get("cpu_percent")?,
                    requests: row.try_get("requests")?,
                    queue_depth: row.try_get("queue_depth")?,
                    hourly_burn: row.try_get("hourly_burn")?,
                    busy: row.try_get("busy")?,
                    jobs_started: row.try_get("jobs_started")?,
                });
            }
            out
        }))
    }

    /// Forget observations older than `before_ms`.
    pub async fn prune_observations(&self, before_ms: i64) -> Result<u64, StoreError> {
        Ok(on_pool!(self, pool => {
            sqlx::query("DELETE FROM observations WHERE at_ms < $1").bind(before_ms).execute(pool).await?.rows_affected()
        }))
    }
}

/// Keys of the control table.
pub mod keys {
    pub const PAUSED: &str = "paused";
    /// The daemon's clock (simulated time on the simulated cloud), Unix milliseconds.
    pub const CLOCK_MS: &str = "clock_ms";
    pub const ENFORCEMENT: &str = "enforcement";
    pub const LAST_CHECKPOINT: &str = "last_checkpoint";
    /// The daemon's newest observation, JSON: what `steward ask` and `steward cost` read.
    pub const LATEST_OBSERVATION: &str = "latest_observation";
}
