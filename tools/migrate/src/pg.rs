//! The real data copy, with PostgreSQL's own tools, shaped to keep the maintenance window
//! short (it is the app's downtime):
//!
//! 1. one snapshot of the source, exported from a read-only transaction that stays open
//!    until the rows are read, so every `pg_dump` below sees the same data;
//! 2. the schema in directory format (`pg_dump -Fd --schema-only`); its pre-data part
//!    (tables, sequences, types, functions) restored first, with `--clean --if-exists`;
//! 3. the rows, table by table, largest first, `jobs` tables at a time, each streamed
//!    `pg_dump -Fc --data-only | pg_restore --data-only` so that reading the source and
//!    writing the target overlap; then the rest of the data (the sequences' values, large
//!    objects) in one more stream;
//! 4. the post-data part (indexes, constraints, triggers) with `pg_restore --jobs`, once the
//!    rows are in, which is how an index is built fastest;
//! 5. beside it, the verification ([`crate::copy::checks`]) of both sides: the rows are all
//!    in, and post-data changes none of them.
//!
//! Guarantees: a copy run again (after a crash, a retry) first drops the foreign keys a
//! half-finished one left on the tables it copies, then replaces every copied object, so
//! nothing is duplicated. Dumps live in a scratch directory removed afterwards. Assumptions:
//! the source does not change during the copy (maintenance mode; a write from a Heroku
//! worker still running fails the verification, so the step stops rather than lose it);
//! `pg_dump` is at least the source's major version. Caveats: the data of tables that
//! belong to an extension is left to the extension (as `CREATE EXTENSION` makes them).

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Instant;

use async_trait::async_trait;
use sqlx::{Connection, Row};
use steward_tools::{ProviderError, Secret};

use crate::copy::{checks_of, compare, failed, keyed_tables, pg_env, quote, scrub, Copier, CopyReport};
use crate::pause::pause_point;

/// The real copy.
#[derive(Debug, Clone)]
pub struct PgCopier {
    pub pg_dump: PathBuf,
    pub pg_restore: PathBuf,
    /// Where the schema dump is written (default: the system's temporary directory).
    pub scratch: Option<PathBuf>,
}

impl Default for PgCopier {
    fn default() -> Self {
        PgCopier { pg_dump: "pg_dump".into(), pg_restore: "pg_restore".into(), scratch: None }
    }
}

/// The first line of a tool's standard error that says what went wrong, without the URL.
fn tool_error(what: &str, stderr: &[u8], url: &Secret<String>) -> ProviderError {
    let text = String::from_utf8_lossy(stderr);
    let line = text.lines().find(|l| l.contains("error")).or_else(|| text.lines().next()).unwrap_or("failed");
    ProviderError::Refused(format!("{what}: {}", steward_tools::redact(line, &[url.expose()])))
}

/// A tool with the connection in its environment, never on its command line.
fn tool(program: &Path, args: &[String], url: &Secret<String>) -> Result<tokio::process::Command, ProviderError> {
    let mut command = tokio::process::Command::new(program);
    command.args(args).env_remove("PGSERVICE").envs(pg_env(url)?).kill_on_drop(true);
    Ok(command)
}

async fn run(program: &Path, args: &[String], url: &Secret<String>, what: &str) -> Result<(), ProviderError> {
    let output = tool(program, args, url)?
        .stdin(Stdio::null())
        .output()
        .await
        .map_err(|e| failed(&format!("{what}: cannot run {}", program.display()), e))?;
    match output.status.success() {
        true => Ok(()),
        false => Err(tool_error(what, &output.stderr, url)),
    }
}

fn common(url: &Secret<String>) -> Result<Vec<String>, ProviderError> {
    // pg_restore needs --dbname to restore into a database: the name alone, the rest of
    // the connection is in the environment.
    let db = pg_env(url)?.into_iter().find(|(k, _)| *k == "PGDATABASE").map_or_else(|| "postgres".into(), |(_, v)| v);
    Ok(vec!["--no-owner".into(), "--no-acl".into(), "--exit-on-error".into(), format!("--dbname={db}")])
}

/// The source's tables: `(pg_dump -t pattern, bytes)`, largest first.
struct Relations {
    tables: Vec<(String, i64)>,
    /// `(schema, table)` of every table, to find the foreign keys a previous run left.
    names: Vec<(String, String)>,
}

async fn relations(conn: &mut sqlx::PgConnection) -> Result<Relations, ProviderError> {
    let rows = sqlx::query(
        "SELECT n.nspname AS schema, c.relname AS name, pg_total_relation_size(c.oid) AS bytes \
         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
         WHERE c.relkind = 'r' AND n.nspname NOT IN ('pg_catalog', 'information_schema') \
           AND n.nspname NOT LIKE 'pg\\_toast%' AND n.nspname NOT LIKE 'pg\\_temp%' \
           AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e') \
         ORDER BY bytes DESC, 1, 2",
    )
    .fetch_all(&mut *conn)
    .await
    .map_err(|e| failed("copy: list tables", e))?;
    let mut out = Relations { tables: Vec::new(), names: Vec::new() };
    for row in rows {
        let get = |c: &str| row.try_get::<String, _>(c).map_err(|e| failed("copy: list tables", e));
        let (schema, name) = (get("schema")?, get("name")?);
        out.tables.push((format!("{}.{}", quote(&schema), quote(&name)), row.try_get("bytes").unwrap_or(0)));
        out.names.push((schema, name));
    }
    Ok(out)
}

/// Drop the foreign keys on or to the copied tables that a previous, interrupted copy left
/// on the target, so that the pre-data restore can drop and remake the tables in any order.
async fn drop_foreign_keys(target: &Secret<String>, names: &[(String, String)]) -> Result<(), ProviderError> {
    let mut conn =
        sqlx::PgConnection::connect(target.expose()).await.map_err(|e| failed("copy: the target", scrub(e, target)))?;
    let keys = sqlx::query(
        "SELECT n.nspname AS schema, t.relname AS name, c.conname AS constraint_name, rn.nspname AS ref_schema, r.relname AS ref_name \
         FROM pg_constraint c JOIN pg_class t ON t.oid = c.conrelid JOIN pg_namespace n ON n.oid = t.relnamespace \
         JOIN pg_class r ON r.oid = c.confrelid JOIN pg_namespace rn ON rn.oid = r.relnamespace WHERE c.contype = 'f'",
    )
    .fetch_all(&mut conn)
    .await
    .map_err(|e| failed("copy: list foreign keys", e))?;
    for key in keys {
        let get = |c: &str| key.try_get::<String, _>(c).unwrap_or_default();
        let on = (get("schema"), get("name"));
        let to = (get("ref_schema"), get("ref_name"));
        if names.contains(&on) || names.contains(&to) {
            let sql = format!(
                "ALTER TABLE {}.{} DROP CONSTRAINT IF EXISTS {}",
                quote(&on.0),
                quote(&on.1),
                quote(&get("constraint_name"))
            );
            sqlx::query(&sql).execute(&mut conn).await.map_err(|e| failed("copy: drop a foreign key", e))?;
        }
    }
    let _ = conn.close().await;
    Ok(())
}

/// One table's rows (or the sequences' values), streamed from the source into the target.
#[derive(Clone)]
struct Stream {
    pg_dump: PathBuf,
    pg_restore: PathBuf,
    source: Secret<String>,
    target: Secret<String>,
    snapshot: String,
}

impl Stream {
    async fn run(self, selection: Vec<String>) -> Result<(), ProviderError> {
        let mut dump_args =
            vec!["--format=custom".to_string(), "--data-only".into(), format!("--snapshot={}", self.snapshot)];
        dump_args.extend(selection);
        let mut dump = tool(&self.pg_dump, &dump_args, &self.source)?
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| failed(&format!("pg_dump: cannot run {}", self.pg_dump.display()), e))?;
        let pipe: Stdio = dump
            .stdout
            .take()
            .ok_or_else(|| failed("pg_dump", "no output"))?
            .try_into()
            .map_err(|e| failed("pg_dump", e))?;
        let mut restore_args = vec!["--data-only".to_string()];
        restore_args.extend(common(&self.target)?);
        let restore = tool(&self.pg_restore, &restore_args, &self.target)?
            .stdin(pipe)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| failed(&format!("pg_restore: cannot run {}", self.pg_restore.display()), e))?;
        let (dumped, restored) = tokio::join!(dump.wait_with_output(), restore.wait_with_output());
        let dumped = dumped.map_err(|e| failed("pg_dump", e))?;
        let restored = restored.map_err(|e| failed("pg_restore", e))?;
        if !dumped.status.success() {
            return Err(tool_error("pg_dump", &dumped.stderr, &self.source));
        }
        if !restored.status.success() {
            return Err(tool_error("pg_restore", &restored.stderr, &self.target));
        }
        Ok(())
    }
}

impl PgCopier {
    /// Every table's rows, `jobs` at a time, largest first; then the sequences and large
    /// objects. The first failure stops the rest (their processes are killed).
    async fn rows(&self, stream: &Stream, relations: &Relations, jobs: usize) -> Result<(), ProviderError> {
        let mut queue: Vec<Vec<String>> =
            relations.tables.iter().map(|(pattern, _)| vec![format!("--table={pattern}")]).collect();
        queue.reverse(); // pop() takes the largest first
        let mut running = tokio::task::JoinSet::new();
        while !queue.is_empty() || !running.is_empty() {
            while running.len() < jobs {
                let Some(selection) = queue.pop() else { break };
                running.spawn(stream.clone().run(selection));
            }
            if let Some(done) = running.join_next().await {
                done.map_err(|e| failed("copy", e))??;
            }
        }
        // Everything else with data: the sequences' values, large objects, the data of
        // extensions' configuration tables.
        let rest: Vec<String> =
            relations.tables.iter().map(|(pattern, _)| format!("--exclude-table-data={pattern}")).collect();
        stream.clone().run(rest).await
    }
}

#[async_trait]
impl Copier for PgCopier {
    async fn copy(
        &self,
        source: &Secret<String>,
        target: &Secret<String>,
        jobs: u32,
    ) -> Result<CopyReport, ProviderError> {
        let jobs = jobs.clamp(1, 16);
        let scratch = match &self.scratch {
            Some(dir) => tempfile::Builder::new().prefix("steward-copy-").tempdir_in(dir),
            None => tempfile::Builder::new().prefix("steward-copy-").tempdir(),
        }
        .map_err(|e| failed("scratch directory", e))?;
        let schema = scratch.path().join("schema");
        let started = Instant::now();

        // 1. One snapshot for every reader; the transaction holding it stays open until
        // the rows are read.
        let mut held = sqlx::PgConnection::connect(source.expose())
            .await
            .map_err(|e| failed("copy: the source", scrub(e, source)))?;
        sqlx::query("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            .execute(&mut held)
            .await
            .map_err(|e| failed("copy: begin", e))?;
        let snapshot: String = sqlx::query("SELECT pg_export_snapshot() AS s")
            .fetch_one(&mut held)
            .await
            .and_then(|r| r.try_get("s"))
            .map_err(|e| failed("copy: export a snapshot", e))?;
        let relations = relations(&mut held).await?;

        // 2. The schema; its pre-data part on the target.
        let args = vec![
            "--format=directory".to_string(),
            "--schema-only".into(),
            "--no-owner".into(),
            "--no-acl".into(),
            format!("--snapshot={snapshot}"),
            format!("--file={}", schema.display()),
        ];
        run(&self.pg_dump, &args, source, "pg_dump").await?;
        pause_point("copy_data.restore").await;
        drop_foreign_keys(target, &relations.names).await?;
        let mut args = vec!["--section=pre-data".to_string(), "--clean".into(), "--if-exists".into()];
        args.extend(common(target)?);
        args.push(schema.display().to_string());
        run(&self.pg_restore, &args, target, "pg_restore").await?;

        // 3. The rows.
        let stream = Stream {
            pg_dump: self.pg_dump.clone(),
            pg_restore: self.pg_restore.clone(),
            source: source.clone(),
            target: target.clone(),
            snapshot,
        };
        self.rows(&stream, &relations, jobs as usize).await?;
        let _ = held.close().await;
        let data_seconds = started.elapsed().as_secs_f64();

        // 4. Indexes, constraints and triggers, and beside them 5. the verification: the
        // rows are all in and post-data changes none of them.
        let indexed = Instant::now();
        let mut args = vec!["--section=post-data".to_string(), format!("--jobs={jobs}")];
        args.extend(common(target)?);
        args.push(schema.display().to_string());
        let index = async {
            run(&self.pg_restore, &args, target, "pg_restore").await?;
            Ok::<f64, ProviderError>(indexed.elapsed().as_secs_f64())
        };
        let verify = async {
            // The target's keys are not indexed yet: both sides are keyed as the source is.
            let tables = keyed_tables(source).await?;
            let both = tokio::try_join!(checks_of(source, &tables), checks_of(target, &tables))?;
            Ok::<_, ProviderError>((both, indexed.elapsed().as_secs_f64()))
        };
        let (index_seconds, ((before, after), verify_seconds)) = tokio::try_join!(index, verify)?;
        pause_point("copy_data.verify").await;
        compare(&before, &after)?;
        let rows = before.iter().map(|t| t.rows).sum();
        Ok(CopyReport { tables: before, rows, data_seconds, index_seconds, verify_seconds })
    }
}
