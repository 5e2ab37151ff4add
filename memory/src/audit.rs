//! The audit log: append-only, hash-chained.
//!
//! Entry `n` stores `hash_n = SHA-256(hash_{n-1} ‖ canonical_n)`, where `canonical_n` is
//! the JSON object `{"seq","at_ms","actor","kind","proposal","data"}` in that order, with
//! `data` stored verbatim as canonical JSON (serde_json with sorted object keys). The first
//! entry links to 64 zeros.
//!
//! What [`verify`](crate::Store::verify) detects: any entry modified (its hash no longer
//! matches its contents), deleted (a gap in `seq`, or a broken link), reordered or inserted
//! (a broken link). What it cannot detect on its own: the newest entries cut off by
//! whoever owns the database (the shorter chain is still a valid chain). Signed checkpoints
//! written outside the store close that gap up to the last checkpoint; see
//! [`checkpoint`](crate::checkpoint).

use serde::Serialize;
use sha2::{Digest, Sha256};
use sqlx::Row;

use crate::{Store, StoreError};

/// The hash the first entry links to.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// An entry to append. `data` must not contain secrets: it is kept forever.
#[derive(Debug, Clone, PartialEq)]
pub struct NewEntry {
    pub at_ms: i64,
    pub actor: String,
    pub kind: String,
    pub proposal_id: Option<i64>,
    pub data: serde_json::Value,
}

impl NewEntry {
    pub fn new(at_ms: i64, actor: &str, kind: &str, proposal_id: Option<i64>, data: serde_json::Value) -> NewEntry {
        NewEntry { at_ms, actor: actor.to_string(), kind: kind.to_string(), proposal_id, data }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuditEntry {
    pub seq: i64,
    pub at_ms: i64,
    pub actor: String,
    pub kind: String,
    pub proposal_id: Option<i64>,
    /// Canonical JSON.
    pub data: String,
    pub prev_hash: String,
    pub hash: String,
}

/// The bytes an entry's hash covers.
pub fn canonical(seq: i64, at_ms: i64, actor: &str, kind: &str, proposal_id: Option<i64>, data: &str) -> String {
    let quote = |s: &str| serde_json::to_string(s).unwrap_or_default();
    let proposal = proposal_id.map_or_else(|| "null".to_string(), |p| p.to_string());
    format!(
        r#"{{"seq":{seq},"at_ms":{at_ms},"actor":{},"kind":{},"proposal":{proposal},"data":{data}}}"#,
        quote(actor),
        quote(kind)
    )
}

/// `SHA-256(prev_hash ‖ canonical)`, hex.
pub fn link_hash(prev_hash: &str, canonical: &str) -> String {
    let mut hasher = Sha256::new();
    hasher.update(prev_hash.as_bytes());
    hasher.update(canonical.as_bytes());
    hex::encode(hasher.finalize())
}

/// The entry that follows `(prev_seq, prev_hash)`.
pub fn build(prev_seq: i64, prev_hash: String, entry: &NewEntry) -> AuditEntry {
    let seq = prev_seq + 1;
    let data = serde_json::to_string(&entry.data).unwrap_or_else(|_| "null".to_string());
    let hash = link_hash(&prev_hash, &canonical(seq, entry.at_ms, &entry.actor, &entry.kind, entry.proposal_id, &data));
    AuditEntry {
        seq,
        at_ms: entry.at_ms,
        actor: entry.actor.clone(),
        kind: entry.kind.clone(),
        proposal_id: entry.proposal_id,
        data,
        prev_hash,
        hash,
    }
}

/// Append `entries` (a non-empty slice) inside an open transaction that holds the append
/// lock: read the head once, chain the entries in memory, write them a hundred rows per
/// statement. Evaluates to the appended `Vec<AuditEntry>`; `?` inside returns the enclosing
/// function's `StoreError`.
macro_rules! append_entries_tx {
    ($tx:ident, $entries:expr) => {{
        const ROWS_PER_STATEMENT: usize = 100;
        let entries: &[$crate::audit::NewEntry] = $entries;
        let head =
            sqlx::query("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1").fetch_optional(&mut *$tx).await?;
        let (mut seq, mut hash) = match head {
            Some(row) => (sqlx::Row::try_get::<i64, _>(&row, "seq")?, sqlx::Row::try_get::<String, _>(&row, "hash")?),
            None => (0, $crate::audit::GENESIS.to_string()),
        };
        let mut built = Vec::with_capacity(entries.len());
        for entry in entries {
            let next = $crate::audit::build(seq, hash, entry);
            seq = next.seq;
            hash = next.hash.clone();
            built.push(next);
        }
        for chunk in built.chunks(ROWS_PER_STATEMENT) {
            let sql = $crate::audit::insert_sql(chunk.len());
            let mut query = sqlx::query(&sql);
            for e in chunk {
                query = query
                    .bind(e.seq)
                    .bind(e.at_ms)
                    .bind(&e.actor)
                    .bind(&e.kind)
                    .bind(e.proposal_id)
                    .bind(&e.data)
                    .bind(&e.prev_hash)
                    .bind(&e.hash);
            }
            query.execute(&mut *$tx).await?;
        }
        built
    }};
}
pub(crate) use append_entries_tx;

/// Append one entry inside an open transaction; evaluates to the `AuditEntry`.
macro_rules! append_tx {
    ($tx:ident, $entry:expr) => {{
        let entry: &$crate::audit::NewEntry = $entry;
        let mut appended = $crate::audit::append_entries_tx!($tx, std::slice::from_ref(entry));
        appended.remove(0)
    }};
}
pub(crate) use append_tx;

/// `INSERT` of `rows` audit rows, with `$N` placeholders.
pub(crate) fn insert_sql(rows: usize) -> String {
    let values: Vec<String> = (0..rows)
        .map(|r| {
            let b = r * 8;
            format!("(${}, ${}, ${}, ${}, ${}, ${}, ${}, ${})", b + 1, b + 2, b + 3, b + 4, b + 5, b + 6, b + 7, b + 8)
        })
        .collect();
    format!(
        "INSERT INTO audit_log (seq, at_ms, actor, kind, proposal_id, data, prev_hash, hash) VALUES {}",
        values.join(", ")
    )
}

macro_rules! entry_from_row {
    ($row:expr) => {{
        let row = $row;
        AuditEntry {
            seq: row.try_get("seq")?,
            at_ms: row.try_get("at_ms")?,
            actor: row.try_get("actor")?,
            kind: row.try_get("kind")?,
            proposal_id: row.try_get("proposal_id")?,
            data: row.try_get("data")?,
            prev_hash: row.try_get("prev_hash")?,
            hash: row.try_get("hash")?,
        }
    }};
}

const COLUMNS: &str = "seq, at_ms, actor, kind, proposal_id, data, prev_hash, hash";

/// The first problem found in a chain, naming the entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainProblem {
    pub seq: i64,
    pub message: String,
}

/// Walks entries in order and checks each link. Pure, so it can be benchmarked alone.
#[derive(Debug, Clone)]
pub struct ChainVerifier {
    next_seq: i64,
    prev_hash: String,
}

impl Default for ChainVerifier {
    fn default() -> Self {
        ChainVerifier { next_seq: 1, prev_hash: GENESIS.to_string() }
    }
}

impl ChainVerifier {
    pub fn push(&mut self, e: &AuditEntry) -> Result<(), ChainProblem> {
        let problem = |seq: i64, message: String| Err(ChainProblem { seq, message });
        if e.seq != self.next_seq {
            let missing = if e.seq > self.next_seq {
                format!("entries {}..{} are missing (deleted)", self.next_seq, e.seq - 1)
            } else {
                format!("sequence goes back from {} to {} (reordered or inserted)", self.next_seq - 1, e.seq)
            };
            return problem(self.next_seq, missing);
        }
        if e.prev_hash != self.prev_hash {
            return problem(
                e.seq,
                format!(
                    "does not link to entry {}: an entry was modified, deleted, reordered or inserted before it",
                    e.seq - 1
                ),
            );
        }
        let recomputed = link_hash(&e.prev_hash, &canonical(e.seq, e.at_ms, &e.actor, &e.kind, e.proposal_id, &e.data));
        if recomputed != e.hash {
            return problem(e.seq, "its contents do not match its hash: the entry was modified".to_string());
        }
        self.next_seq += 1;
        self.prev_hash = e.hash.clone();
        Ok(())
    }
}

/// The result of walking the whole log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyReport {
    pub entries: i64,
    /// `(seq, hash)` of the last entry checked.
    pub head: Option<(i64, String)>,
    pub problem: Option<ChainProblem>,
}

const PAGE: i64 = 5_000;

impl Store {
    /// Append one entry on its own.
    pub async fn append(&self, entry: NewEntry) -> Result<AuditEntry, StoreError> {
        Ok(in_tx!(self, tx => append_tx!(tx, &entry)))
    }

    /// Append several entries in one transaction (one commit): the head is read once, the
    /// chain extended in memory, and the rows written a hundred per statement.
    pub async fn append_batch(&self, entries: &[NewEntry]) -> Result<(), StoreError> {
        if entries.is_empty() {
            return Ok(());
        }
        in_tx!(self, tx => append_entries_tx!(tx, entries));
        Ok(())
    }

    /// The newest `n` entries, oldest first.
    pub async fn audit_tail(&self, n: i64) -> Result<Vec<AuditEntry>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM audit_log ORDER BY seq DESC LIMIT $1");
        let mut entries = on_pool!(self, pool => {
            let rows = sqlx::query(&sql).bind(n).fetch_all(pool).await?;
            let mut out = Vec::with_capacity(rows.len());
            for row in &rows {
                out.push(entry_from_row!(row));
            }
            out
        });
        entries.reverse();
        Ok(entries)
    }

    pub async fn audit_entry(&self, seq: i64) -> Result<Option<AuditEntry>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM audit_log WHERE seq = $1");
        Ok(on_pool!(self, pool => match sqlx::query(&sql).bind(seq).fetch_optional(pool).await? {
            Some(row) => Some(entry_from_row!(&row)),
            None => None,
        }))
    }

    /// Every entry about one proposal, oldest first.
    pub async fn audit_for_proposal(&self, id: i64) -> Result<Vec<AuditEntry>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM audit_log WHERE proposal_id = $1 ORDER BY seq");
        Ok(on_pool!(self, pool => {
            let rows = sqlx::query(&sql).bind(id).fetch_all(pool).await?;
            let mut out = Vec::with_capacity(rows.len());
            for row in &rows {
                out.push(entry_from_row!(row));
            }
            out
        }))
    }

    /// Every entry of one kind (`approval.approved`), oldest first.
    pub async fn audit_of_kind(&self, kind: &str) -> Result<Vec<AuditEntry>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM audit_log WHERE kind = $1 ORDER BY seq");
        Ok(on_pool!(self, pool => {
            let rows = sqlx::query(&sql).bind(kind).fetch_all(pool).await?;
            let mut out = Vec::with_capacity(rows.len());
            for row in &rows {
                out.push(entry_from_row!(row));
            }
            out
        }))
    }

    /// `(seq, hash)` of the newest entry.
    pub async fn audit_head(&self) -> Result<Option<(i64, String)>, StoreError> {
        Ok(on_pool!(self, pool => {
            match sqlx::query("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1").fetch_optional(pool).await? {
                Some(row) => Some((row.try_get::<i64, _>("seq")?, row.try_get::<String, _>("hash")?)),
                None => None,
            }
        }))
    }

    /// Walk the whole chain, a page at a time, and report the first bad entry.
    pub async fn verify(&self) -> Result<VerifyReport, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM audit_log WHERE seq > $1 ORDER BY seq LIMIT $2");
        let mut verifier = ChainVerifier::default();
        let mut report = VerifyReport { entries: 0, head: None, problem: None };
        let mut after = i64::MIN;
        loop {
            let page: Vec<AuditEntry> = on_pool!(self, pool => {
                let rows = sqlx::query(&sql).bind(after).bind(PAGE).fetch_all(pool).await?;
                let mut out = Vec::with_capacity(rows.len());
                for row in &rows {
                    out.push(entry_from_row!(row));
                }
                out
            });
            let Some(last) = page.last() else { break };
            after = last.seq;
            for entry in &page {
                if let Err(problem) = verifier.push(entry) {
                    report.problem = Some(problem);
                    return Ok(report);
                }
                report.entries += 1;
                report.head = Some((entry.seq, entry.hash.clone()));
            }
            if (page.len() as i64) < PAGE {
                break;
            }
        }
        Ok(report)
    }
}
