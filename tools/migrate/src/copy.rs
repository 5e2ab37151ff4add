//! The data copy's contract and its check: what a copy reports, and the verification that
//! every table's row count and a checksum of its primary keys match on both sides before
//! anything goes on. The real copy is [`crate::pg::PgCopier`]; the simulated cloud's is
//! [`crate::sim::SimCopier`].
//!
//! Connection details reach PostgreSQL's tools in their environment ([`pg_env`]), never on
//! a command line where `ps` would show them, and are never logged.

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
    /// The schema and the rows, streamed from the source into the target.
    pub data_seconds: f64,
    /// Indexes, constraints and triggers built on the target.
    pub index_seconds: f64,
    /// Counting and checksumming both sides (beside the index build).
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

pub(crate) fn failed(what: &str, e: impl std::fmt::Display) -> ProviderError {
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

/// A table to check: `(schema, name, its primary key's columns, quoted, if it has one)`.
pub type Keyed = (String, String, Option<String>);

async fn connect(url: &Secret<String>) -> Result<sqlx::PgConnection, ProviderError> {
    sqlx::PgConnection::connect(url.expose()).await.map_err(|e| failed("verify: connect", scrub(e, url)))
}

/// Every user table (partitioned ones as one) with its primary key's columns.
pub async fn keyed_tables(url: &Secret<String>) -> Result<Vec<Keyed>, ProviderError> {
    let mut conn = connect(url).await?;
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
    let _ = conn.close().await;
    tables
        .iter()
        .map(|t| Ok((t.try_get("schema")?, t.try_get("name")?, t.try_get("pk")?)))
        .collect::<Result<_, sqlx::Error>>()
        .map_err(|e| failed("verify", e))
}

/// Every user table's row count and key checksum, by name.
pub async fn checks(url: &Secret<String>) -> Result<Vec<TableCheck>, ProviderError> {
    checks_of(url, &keyed_tables(url).await?).await
}

/// The row count and key checksum of each of `tables` that exists at `url` (keyed by the
/// columns given, whatever indexes it has yet); one that does not is left out.
pub async fn checks_of(url: &Secret<String>, tables: &[Keyed]) -> Result<Vec<TableCheck>, ProviderError> {
    let mut conn = connect(url).await?;
    let mut out = Vec::with_capacity(tables.len());
    for (schema, name, pk) in tables {
        let table = format!("{}.{}", quote(schema), quote(name));
        let exists: Option<String> = sqlx::query("SELECT to_regclass($1)::text AS t")
            .bind(&table)
            .fetch_one(&mut conn)
            .await
            .and_then(|r| r.try_get("t"))
            .map_err(|e| failed("verify", e))?;
        if exists.is_none() {
            continue;
        }
        // Order-independent: the sum of each key's hash, so no sort over millions of rows.
        let sql = match pk {
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

pub(crate) fn quote(ident: &str) -> String {
    format!("\"{}\"", ident.replace('"', "\"\""))
}

pub(crate) fn scrub(e: impl std::fmt::Display, url: &Secret<String>) -> String {
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
