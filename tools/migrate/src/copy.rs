//! The data copy: `pg_dump` from the source in directory format with parallel jobs,
//! `pg_restore` into the target with as many jobs, then verification: every table's row
//! count and a checksum of its primary keys, on both sides, must match before anything
//! goes on.
//!
//! Guarantees: the restore runs with `--clean --if-exists`, so a copy run again (after a
//! crash, a retry) replaces what a half-finished one left: nothing is duplicated. The dump
//! lives in a scratch directory removed afterwards. Connection details reach the tools in
//! their environment (`PGHOST`, `PGPASSWORD`, …), never on a command line where `ps` would
//! show them, and are never logged. Assumptions: the source is in maintenance mode,
//! so it does not change during the copy; `pg_dump` is at least the source's major version.

use std::path::PathBuf;
use std::time::Instant;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use sqlx::{Connection, Row};
use steward_tools::{ProviderError, Secret};

/// One table as verified.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TableCheck {
    pub table: String,
    pub rows: i64,
    /// A checksum of the primary keys (`-` for a table without one: its rows are counted).
    pub keys: String,
}

/// What a copy did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CopyReport {
    pub tables: Vec<TableCheck>,
    pub rows: i64,
    pub dump_seconds: f64,
    pub restore_seconds: f64,
    pub verify_seconds: f64,
}

#[async_trait]
pub trait Copier: Send + Sync {
    async fn copy(
        &self,
        source: &Secret<String>,
        target: &Secret<String>,
        jobs: u32,
    ) -> Result<CopyReport, ProviderError>;
}

/// The real copy, with PostgreSQL's own tools.
#[derive(Debug, Clone)]
pub struct PgCopier {
    pub pg_dump: PathBuf,
    pub pg_restore: PathBuf,
    /// Where dumps are written (default: the system's temporary directory).
    pub scratch: Option<PathBuf>,
}

impl Default for PgCopier {
    fn default() -> Self {
        PgCopier { pg_dump: "pg_dump".into(), pg_restore: "pg_restore".into(), scratch: None }
    }
}

fn failed(what: &str, e: impl std::fmt::Display) -> ProviderError {
    ProviderError::Refused(format!("{what}: {}", e.to_string().lines().next().unwrap_or_default()))
}

/// A `postgres://user:password@host:port/db?sslmode=…` URL as libpq's environment.
pub fn pg_env(url: &Secret<String>) -> Result<Vec<(&'static str, String)>, ProviderError> {
    let parsed = url::Url::parse(url.expose())
        .map_err(|_| ProviderError::Refused("the database URL is not a postgres:// URL".into()))?;
    if !matches!(parsed.scheme(), "postgres" | "postgresql") {
        return Err(ProviderError::Refused("the database URL is not a postgres:// URL".into()));
    }
    let decode = |s: &str| percent_decode(s);
    let mut env = vec![("PGHOST", parsed.host_str().unwrap_or("localhost").trim_matches(['[', ']']).to_string())];
    env.push(("PGPORT", parsed.port().unwrap_or(5432).to_string()));
    if !parsed.username().is_empty() {
        env.push(("PGUSER", decode(parsed.username())));
    }
    if let Some(password) = parsed.password() {
        env.push(("PGPASSWORD", decode(password)));
    }
    let db = decode(parsed.path().trim_start_matches('/'));
    if !db.is_empty() {
        env.push(("PGDATABASE", db));
    }
    for (k, v) in parsed.query_pairs() {
        match k.as_ref() {
            "sslmode" => env.push(("PGSSLMODE", v.to_string())),
            "options" => env.push(("PGOPTIONS", v.to_string())),
            "application_name" => env.push(("PGAPPNAME", v.to_string())),
            _ => {}
        }
    }
    Ok(env)
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match (bytes.get(i), bytes.get(i + 1..i + 3)) {
            (Some(b'%'), Some(hex)) => match u8::from_str_radix(std::str::from_utf8(hex).unwrap_or("zz"), 16) {
                Ok(b) => {
                    out.push(b);
                    i += 3;
                }
                Err(_) => {
                    out.push(b'%');
                    i += 1;
                }
            },
            (Some(b), _) => {
                out.push(*b);
                i += 1;
            }
            (None, _) => break,
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Run a PostgreSQL tool with the connection in its environment, never on its command line.
async fn run(program: &PathBuf, args: &[String], url: &Secret<String>, what: &str) -> Result<(), ProviderError> {
    let output = tokio::process::Command::new(program)
        .args(args)
        .env_remove("PGSERVICE")
        .envs(pg_env(url)?)
        .kill_on_drop(true)
        .output()
        .await
        .map_err(|e| failed(&format!("{what}: cannot run {}", program.display()), e))?;
    if output.status.success() {
        return Ok(());
    }
    let stderr = String::from_utf8_lossy(&output.stderr);
    // The tools print connection errors with the host and user, never the password; still,
    // keep one line and scrub anything that looks like a credential.
    let line = steward_tools::redact(stderr.lines().find(|l| l.contains("error")).unwrap_or("failed"), &[url.expose()]);
    Err(ProviderError::Refused(format!("{what}: {line}")))
}

impl PgCopier {
    /// `pg_dump -Fd -j N` of the source into a fresh directory under the scratch space.
    async fn dump(&self, source: &Secret<String>, jobs: u32, dir: &std::path::Path) -> Result<(), ProviderError> {
        let args = vec![
            "--format=directory".to_string(),
            format!("--jobs={jobs}"),
            "--no-owner".into(),
            "--no-acl".into(),
            format!("--file={}", dir.display()),
        ];
        run(&self.pg_dump, &args, source, "pg_dump").await
    }

    async fn restore(&self, target: &Secret<String>, jobs: u32, dir: &std::path::Path) -> Result<(), ProviderError> {
        let args = vec![
            "--clean".to_string(),
            "--if-exists".into(),
            "--no-owner".into(),
            "--no-acl".into(),
            "--exit-on-error".into(),
            format!("--jobs={jobs}"),
            // A restore into a database needs --dbname; the name alone (the rest of the
            // connection is in the environment).
            format!("--dbname={}", database_name(target)?),
            dir.display().to_string(),
        ];
        run(&self.pg_restore, &args, target, "pg_restore").await
    }
}

fn database_name(url: &Secret<String>) -> Result<String, ProviderError> {
    Ok(pg_env(url)?.into_iter().find(|(k, _)| *k == "PGDATABASE").map(|(_, v)| v).unwrap_or_else(|| "postgres".into()))
}

#[async_trait]
impl Copier for PgCopier {
    async fn copy(
        &self,
        source: &Secret<String>,
        target: &Secret<String>,
        jobs: u32,
    ) -> Result<CopyReport, ProviderError> {
        let scratch = match &self.scratch {
            Some(dir) => tempfile::Builder::new().prefix("steward-copy-").tempdir_in(dir),
            None => tempfile::Builder::new().prefix("steward-copy-").tempdir(),
        }
        .map_err(|e| failed("scratch directory", e))?;
        let dir = scratch.path().join("dump");
        let started = Instant::now();
        self.dump(source, jobs, &dir).await?;
        let dump_seconds = started.elapsed().as_secs_f64();
        let restored = Instant::now();
        self.restore(target, jobs, &dir).await?;
        let restore_seconds = restored.elapsed().as_secs_f64();
        let verified = Instant::now();
        let (before, after) = tokio::try_join!(checks(source), checks(target))?;
        let verify_seconds = verified.elapsed().as_secs_f64();
        compare(&before, &after)?;
        let rows = before.iter().map(|t| t.rows).sum();
        Ok(CopyReport { tables: before, rows, dump_seconds, restore_seconds, verify_seconds })
    }
}

/// Every user table's row count and key checksum, by name.
pub async fn checks(url: &Secret<String>) -> Result<Vec<TableCheck>, ProviderError> {
    let mut conn =
        sqlx::PgConnection::connect(url.expose()).await.map_err(|e| failed("verify: connect", scrub(e, url)))?;
    let tables = sqlx::query(
        "SELECT n.nspname AS schema, c.relname AS name, \
           (SELECT string_agg(quote_ident(a.attname), ', ' ORDER BY array_position(i.indkey, a.attnum)) \
              FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey) \
             WHERE i.indrelid = c.oid AND i.indisprimary) AS pk \
         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
         WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema') \
           AND n.nspname NOT LIKE 'pg_toast%' AND NOT c.relispartition \
         ORDER BY 1, 2",
    )
    .fetch_all(&mut conn)
    .await
    .map_err(|e| failed("verify: list tables", e))?;
    let mut out = Vec::with_capacity(tables.len());
    for t in tables {
        let schema: String = t.try_get("schema").map_err(|e| failed("verify", e))?;
        let name: String = t.try_get("name").map_err(|e| failed("verify", e))?;
        let pk: Option<String> = t.try_get("pk").map_err(|e| failed("verify", e))?;
        let table = format!("{}.{}", quote(&schema), quote(&name));
        // Order-independent: the sum of each key's hash, so no sort over millions of rows.
        let sql = match &pk {
            Some(cols) => format!(
                "SELECT count(*) AS rows, coalesce(sum(hashtextextended(({cols})::text, 0)::numeric), 0)::text AS keys FROM {table}"
            ),
            None => format!("SELECT count(*) AS rows, '-' AS keys FROM {table}"),
        };
        let row = sqlx::query(&sql).fetch_one(&mut conn).await.map_err(|e| failed(&format!("verify {table}"), e))?;
        out.push(TableCheck {
            table: format!("{schema}.{name}"),
            rows: row.try_get("rows").map_err(|e| failed("verify", e))?,
            keys: row.try_get("keys").map_err(|e| failed("verify", e))?,
        });
    }
    let _ = conn.close().await;
    Ok(out)
}

fn quote(ident: &str) -> String {
    format!("\"{}\"", ident.replace('"', "\"\""))
}

fn scrub(e: impl std::fmt::Display, url: &Secret<String>) -> String {
    steward_tools::redact(&e.to_string(), &[url.expose()])
}

/// The source and target must have the same tables with the same rows and keys.
pub fn compare(source: &[TableCheck], target: &[TableCheck]) -> Result<(), ProviderError> {
    for s in source {
        match target.iter().find(|t| t.table == s.table) {
            None => return Err(ProviderError::Refused(format!("verification: {} is missing in the target", s.table))),
            Some(t) if t.rows != s.rows => {
                return Err(ProviderError::Refused(format!(
                    "verification: {} has {} rows in the target, {} in the source",
                    s.table, t.rows, s.rows
                )))
            }
            Some(t) if t.keys != s.keys => {
                return Err(ProviderError::Refused(format!(
                    "verification: {}'s primary keys differ between source and target",
                    s.table
                )))
            }
            Some(_) => {}
        }
    }
    Ok(())
}
