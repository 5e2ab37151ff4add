//! Both store backends, for tests (feature `testing`): a SQLite file in a temporary directory, and a fresh schema
//! on the PostgreSQL server named by `STEWARD_TEST_DATABASE_URL` (default
//! `postgres://postgres@127.0.0.1:5432/test`). A missing server fails the test with a line
//! saying where it looked: `./deploy/test.sh` starts a local cluster when one is installed.

use std::sync::atomic::{AtomicU32, Ordering};

use crate::Store;
use sqlx::Connection;

pub struct TestDb {
    pub store: Store,
    pub url: String,
    schema: Option<String>,
    admin_url: String,
    _dir: Option<tempfile::TempDir>,
}

impl TestDb {
    /// Run raw SQL on the same database, as someone with direct access would (to tamper).
    pub async fn raw(&self, sql: &str) -> Result<(), sqlx::Error> {
        if self.url.starts_with("sqlite:") {
            let mut conn = sqlx::SqliteConnection::connect(&self.url).await?;
            sqlx::raw_sql(sql).execute(&mut conn).await?;
            conn.close().await
        } else {
            let mut conn = sqlx::PgConnection::connect(&self.url).await?;
            sqlx::raw_sql(sql).execute(&mut conn).await?;
            conn.close().await
        }
    }

    /// Let the test tamper: lift the append-only triggers.
    pub async fn lift_triggers(&self) {
        let sql = if self.url.starts_with("sqlite:") {
            "DROP TRIGGER audit_log_no_update; DROP TRIGGER audit_log_no_delete;"
        } else {
            "ALTER TABLE audit_log DISABLE TRIGGER USER;"
        };
        self.raw(sql).await.expect("lift triggers");
    }

    pub async fn cleanup(self) {
        self.store.close().await;
        if let Some(schema) = &self.schema {
            if let Ok(mut conn) = sqlx::PgConnection::connect(&self.admin_url).await {
                let _ = sqlx::raw_sql(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE")).execute(&mut conn).await;
            }
        }
    }
}

pub async fn sqlite() -> TestDb {
    let dir = tempfile::tempdir().expect("tempdir");
    let url = format!("sqlite://{}", dir.path().join("steward.db").display());
    let store = Store::connect(&url).await.expect("sqlite store");
    TestDb { store, url, schema: None, admin_url: String::new(), _dir: Some(dir) }
}

static COUNTER: AtomicU32 = AtomicU32::new(0);

pub fn postgres_url() -> String {
    std::env::var("STEWARD_TEST_DATABASE_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

/// A fresh schema on the test server.
pub async fn postgres() -> TestDb {
    let admin_url = postgres_url();
    let mut conn = match sqlx::PgConnection::connect(&admin_url).await {
        Ok(conn) => conn,
        Err(e) => panic!(
            "PostgreSQL at {admin_url} is needed by this test ({e}); run ./deploy/test.sh, which starts a local \
             cluster, or set STEWARD_TEST_DATABASE_URL"
        ),
    };
    let schema = format!(
        "steward_t_{}_{}_{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::SeqCst),
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.subsec_nanos()).unwrap_or(0)
    );
    sqlx::raw_sql(&format!("CREATE SCHEMA {schema}")).execute(&mut conn).await.expect("create schema");
    let separator = if admin_url.contains('?') { '&' } else { '?' };
    let url = format!("{admin_url}{separator}options=-c%20search_path%3D{schema}");
    let store = Store::connect(&url).await.expect("postgres store");
    TestDb { store, url, schema: Some(schema), admin_url, _dir: None }
}

/// `both!(name)` runs `async fn name(db: &TestDb)` against SQLite and PostgreSQL.
#[macro_export]
macro_rules! both {
    ($name:ident) => {
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let db = $crate::testing::sqlite().await;
                super::$name(&db).await;
                db.cleanup().await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                let db = $crate::testing::postgres().await;
                super::$name(&db).await;
                db.cleanup().await;
            }
        }
    };
}

/// A proposal left `executing` with `action_id`, as a crash between the intent and the
/// outcome leaves it (for start-up reconciliation tests). Returns its id.
pub async fn executing_intent(store: &Store, call: steward_tools::ToolCall, action_id: &str, at_ms: i64) -> i64 {
    use crate::{NewProposal, Patch, ProposalState};
    let p = store
        .insert_proposal(&NewProposal {
            at_ms,
            call,
            proposer: "planner:test".into(),
            rationale: "crash drill".into(),
            tainted: false,
            rollback_of: None,
            requested_by: None,
        })
        .await
        .expect("insert");
    let moves =
        [(ProposalState::Proposed, ProposalState::Approved), (ProposalState::Approved, ProposalState::Executing)];
    for (from, to) in moves {
        let patch =
            Patch { action_id: (to == ProposalState::Executing).then(|| action_id.to_string()), ..Patch::default() };
        assert!(store
            .transition(p.id, &[from], to, &patch, at_ms, "steward", serde_json::json!({}))
            .await
            .expect("move"));
    }
    p.id
}
