//! Steward's store: the hash-chained audit log, proposals and their state machine,
//! approvals, the kill switch and other control values, and remembered observations.
//!
//! One interface over two backends with the same behaviour: SQLite (the embedded default,
//! a file created if missing) and PostgreSQL (production). Queries are written once with
//! `$N` placeholders, which both understand; the `on_pool!` and `in_tx!` macros expand
//! each body once per backend. Migrations are embedded per backend.
//!
//! Architecture invariants:
//! - Every state change of a proposal happens in the same transaction as the audit entry
//!   that records it: there is no transition without its entry, and no entry without it.
//! - Appends are serialised (SQLite `BEGIN IMMEDIATE`, a PostgreSQL advisory lock), so
//!   the chain never forks, whoever writes: the daemon, the CLI, another replica.
//! - The store sees the tool-call types only; decisions arrive as JSON.

use std::str::FromStr;
use std::time::Duration;

use sqlx::postgres::{PgPool, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous};

/// Run `$body` with `$pool` bound to the concrete pool of whichever backend this store uses.
macro_rules! on_pool {
    ($store:expr, $pool:ident => $body:expr) => {
        match &*$store.pool {
            crate::Pool::Sqlite($pool) => $body,
            crate::Pool::Postgres($pool) => $body,
        }
    };
}

/// Run `$body` in a write transaction that may append to the audit log, committing when
/// the body succeeds. An early return (`?`) rolls back.
macro_rules! in_tx {
    ($store:expr, $tx:ident => $body:expr) => {
        match &*$store.pool {
            crate::Pool::Sqlite(pool) => {
                let mut $tx = pool.begin_with("BEGIN IMMEDIATE").await?;
                let out = $body;
                $tx.commit().await?;
                out
            }
            crate::Pool::Postgres(pool) => {
                let mut $tx = pool.begin().await?;
                sqlx::query("SELECT pg_advisory_xact_lock($1)").bind(crate::AUDIT_LOCK).execute(&mut *$tx).await?;
                let out = $body;
                $tx.commit().await?;
                out
            }
        }
    };
}

pub mod audit;
pub mod checkpoint;
pub mod control;
pub mod llm;
pub mod migrations;
pub mod proposals;
pub mod slack;
#[cfg(feature = "testing")]
pub mod testing;

pub use audit::{AuditEntry, NewEntry, VerifyReport};
pub use checkpoint::{Checkpoint, CheckpointReport, CheckpointSigner};
pub use control::{ObservationRow, TickState};
pub use llm::{EpisodeRow, UsageTotals};
pub use migrations::{MigrationRecord, MigrationStepRecord, NewMigration};
pub use proposals::{ApprovalRecord, NewProposal, Patch, ProposalRecord, ProposalState, Tally, Vote};
pub use slack::SlackMessage;

/// Lock id that serialises audit appends on PostgreSQL ("steward" in ASCII, truncated).
const AUDIT_LOCK: i64 = 0x7374_6577_6172;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot open the store at {url}: {message}")]
    Connect { url: String, message: String },
    #[error("store URL `{0}` is not supported: use sqlite://PATH or postgres://…")]
    UnsupportedUrl(String),
    #[error("migrating the store failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("store query failed: {0}")]
    Query(#[from] sqlx::Error),
    #[error("store holds unreadable data: {0}")]
    Corrupt(String),
    #[error("no proposal #{0}")]
    UnknownProposal(i64),
    #[error("proposal #{id} is {state}, not waiting for approval")]
    NotPending { id: i64, state: String },
    #[error("proposal #{id} expired; it can no longer be decided")]
    Expired { id: i64 },
    #[error("{approver} already decided proposal #{id}")]
    AlreadyDecided { id: i64, approver: String },
    #[error("{app} already has migration #{id} under way; finish or roll it back first")]
    MigrationActive { app: String, id: i64 },
}

pub(crate) enum Pool {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// The store. Cheap to clone: the pool is shared.
#[derive(Clone)]
pub struct Store {
    pool: std::sync::Arc<Pool>,
    /// SQLite only: one connection that commits each tick's bookkeeping without waiting for
    /// the disk (see [`Store::record_tick`]); everything else waits.
    bookkeeping: Option<SqlitePool>,
    url: String,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("url", &self.url).finish()
    }
}

impl Store {
    /// Open (and migrate) the store at `url`: `sqlite://PATH` (created if missing) or
    /// `postgres://…`. Fails in a few seconds with a one-line error when unreachable.
    pub async fn connect(url: &str) -> Result<Store, StoreError> {
        let shown = redact_url(url);
        let fail = |e: sqlx::Error| StoreError::Connect { url: shown.clone(), message: one_line(&e.to_string()) };
        let mut bookkeeping = None;
        let pool = if url.starts_with("sqlite:") {
            let (pool, tick) = open_sqlite(url, &shown).await?;
            bookkeeping = tick;
            Pool::Sqlite(pool)
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            let pool = PgPoolOptions::new()
                .max_connections(8)
                .acquire_timeout(Duration::from_secs(5))
                .connect(url)
                .await
                .map_err(fail)?;
            sqlx::migrate!("migrations/postgres").run(&pool).await?;
            Pool::Postgres(pool)
        } else {
            return Err(StoreError::UnsupportedUrl(shown));
        };
        Ok(Store { pool: std::sync::Arc::new(pool), bookkeeping, url: shown })
    }

    /// `sqlite` or `postgres`.
    pub fn backend(&self) -> &'static str {
        match &*self.pool {
            Pool::Sqlite(_) => "sqlite",
            Pool::Postgres(_) => "postgres",
        }
    }

    /// The store's URL with any password replaced by `***`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Close every connection.
    pub async fn close(&self) {
        if let Some(pool) = &self.bookkeeping {
            pool.close().await;
        }
        on_pool!(self, pool => pool.close().await)
    }
}

/// Open and migrate a SQLite store. Two processes opening a new store at once (the
/// daemon's first start and a `steward queue` beside it) race twice: switching the new file
/// to WAL wants it to themselves ("database is locked"), and sqlx takes no lock for SQLite
/// migrations, so both may try to apply the first one and the loser fails on a table that
/// now exists. Trying again (a few times, backing off) finds the file in WAL mode and the
/// migration applied. PostgreSQL migrations hold an advisory lock and need none of this.
async fn open_sqlite(url: &str, shown: &str) -> Result<(SqlitePool, Option<SqlitePool>), StoreError> {
    let mut attempt: u64 = 0;
    loop {
        let result = async {
            let options = SqliteConnectOptions::from_str(url)?
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Full)
                .busy_timeout(Duration::from_secs(10))
                .foreign_keys(true);
            let pool = SqlitePoolOptions::new()
                .max_connections(4)
                .acquire_timeout(Duration::from_secs(10))
                .connect_with(options.clone())
                .await?;
            if let Err(e) = sqlx::migrate!("migrations/sqlite").run(&pool).await {
                pool.close().await;
                return Err(sqlx::Error::Migrate(Box::new(e)));
            }
            if url.contains(":memory:") || url.contains("mode=memory") {
                return Ok((pool, None));
            }
            let bookkeeping = SqlitePoolOptions::new()
                .max_connections(1)
                .acquire_timeout(Duration::from_secs(10))
                .connect_with(options.synchronous(SqliteSynchronous::Normal))
                .await;
            match bookkeeping {
                Ok(bookkeeping) => Ok((pool, Some(bookkeeping))),
                Err(e) => {
                    pool.close().await;
                    Err(e)
                }
            }
        }
        .await;
        match result {
            Ok(pools) => return Ok(pools),
            Err(e) if attempt < 8 && is_startup_race(&e) => {
                attempt += 1;
                tracing::debug!(error = %e, attempt, "Opening a new SQLite store raced another process; trying again.");
                tokio::time::sleep(Duration::from_millis(50 * attempt)).await;
            }
            Err(sqlx::Error::Migrate(e)) => return Err(StoreError::Migrate(*e)),
            Err(e) => return Err(StoreError::Connect { url: shown.to_string(), message: one_line(&e.to_string()) }),
        }
    }
}

fn is_startup_race(e: &sqlx::Error) -> bool {
    let text = e.to_string();
    matches!(e, sqlx::Error::Migrate(_)) || text.contains("database is locked") || text.contains("busy")
}

/// `postgres://user:secret@host/db` → `postgres://user:***@host/db`.
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let (authority, path) = rest.split_once('/').map_or((rest, None), |(a, p)| (a, Some(p)));
    let authority = match authority.rsplit_once('@') {
        Some((userinfo, host)) => match userinfo.split_once(':') {
            Some((user, _)) => format!("{user}:***@{host}"),
            None => format!("{userinfo}@{host}"),
        },
        None => authority.to_string(),
    };
    let mut out = format!("{scheme}://{authority}");
    if let Some(path) = path {
        out.push('/');
        // Query parameters may carry a password too.
        match path.split_once('?') {
            Some((p, q)) if q.contains("password") => out.push_str(&format!("{p}?***")),
            _ => out.push_str(path),
        }
    }
    out
}

pub(crate) fn one_line(text: &str) -> String {
    text.lines().next().unwrap_or_default().to_string()
}

#[cfg(test)]
mod tests {
    use super::redact_url;

    #[test]
    fn urls_never_show_passwords() {
        assert_eq!(redact_url("postgres://steward:hunter2@db:5432/prod"), "postgres://steward:***@db:5432/prod");
        assert_eq!(redact_url("postgres://db/prod?user=a&password=b"), "postgres://db/prod?***");
        assert_eq!(redact_url("sqlite://steward.db"), "sqlite://steward.db");
        assert_eq!(redact_url("postgres://root@127.0.0.1/test"), "postgres://root@127.0.0.1/test");
    }
}
