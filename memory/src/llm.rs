//! LLM episodes (usage, outcome, what the model said) and the hourly cost roll-up.

use serde::Serialize;
use sqlx::Row;
use steward_tools::Observation;

use crate::audit::{append_entries_tx, NewEntry};
use crate::{Store, StoreError};

/// One LLM episode as remembered.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EpisodeRow {
    /// Set by the store; ignored on insert.
    pub id: i64,
    pub started_ms: i64,
    /// `anomaly`, `question` or `migration`.
    pub trigger_kind: String,
    pub target: Option<String>,
    pub summary: String,
    pub model: String,
    pub ended: String,
    pub tainted: bool,
    pub requests: i64,
    pub prompt_tokens: i64,
    pub completion_tokens: i64,
    pub elapsed_ms: i64,
    pub proposals: i64,
    pub rejected: i64,
    pub answer: Option<String>,
}

/// Episodes and tokens over a span of time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct UsageTotals {
    pub episodes: i64,
    pub requests: i64,
    pub prompt_tokens: i64,
    pub completion_tokens: i64,
}

const EPISODE_COLUMNS: &str = "id, started_ms, trigger_kind, target, summary, model, ended, tainted, requests, \
                               prompt_tokens, completion_tokens, elapsed_ms, proposals, rejected, answer";

macro_rules! episode_from_row {
    ($row:expr) => {{
        let row = $row;
        EpisodeRow {
            id: row.try_get("id")?,
            started_ms: row.try_get("started_ms")?,
            trigger_kind: row.try_get("trigger_kind")?,
            target: row.try_get("target")?,
            summary: row.try_get("summary")?,
            model: row.try_get("model")?,
            ended: row.try_get("ended")?,
            tainted: row.try_get("tainted")?,
            requests: row.try_get("requests")?,
            prompt_tokens: row.try_get("prompt_tokens")?,
            completion_tokens: row.try_get("completion_tokens")?,
            elapsed_ms: row.try_get("elapsed_ms")?,
            proposals: row.try_get("proposals")?,
            rejected: row.try_get("rejected")?,
            answer: row.try_get("answer")?,
        }
    }};
}

/// Add each group's cost over `interval_ms` to its hour, inside an open transaction.
macro_rules! add_cost {
    ($tx:ident, $observation:expr, $interval_ms:expr) => {{
        let observation: &steward_tools::Observation = $observation;
        let hour_ms: i64 = 3_600_000;
        let hour = observation.at_ms.div_euclid(hour_ms) * hour_ms;
        let hours = $interval_ms as f64 / hour_ms as f64;
        let sql = "INSERT INTO cost_hours (group_name, hour_ms, usd) VALUES ($1, $2, $3) \
                   ON CONFLICT (group_name, hour_ms) DO UPDATE SET usd = cost_hours.usd + $3";
        for g in &observation.groups {
            sqlx::query(sql).bind(&g.name).bind(hour).bind(g.hourly_burn() * hours).execute(&mut *$tx).await?;
        }
    }};
}
pub(crate) use add_cost;

impl Store {
    /// Remember an episode and append `entries(id)` to the audit log, in one transaction.
    pub async fn record_episode(
        &self,
        episode: &EpisodeRow,
        entries: impl FnOnce(i64) -> Vec<NewEntry>,
    ) -> Result<i64, StoreError> {
        let sql =
            "INSERT INTO llm_episodes (started_ms, trigger_kind, target, summary, model, ended, tainted, requests, \
                   prompt_tokens, completion_tokens, elapsed_ms, proposals, rejected, answer) \
                   VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) RETURNING id";
        Ok(in_tx!(self, tx => {
            let row = sqlx::query(sql)
                .bind(episode.started_ms)
                .bind(&episode.trigger_kind)
                .bind(&episode.target)
                .bind(&episode.summary)
                .bind(&episode.model)
                .bind(&episode.ended)
                .bind(episode.tainted)
                .bind(episode.requests)
                .bind(episode.prompt_tokens)
                .bind(episode.completion_tokens)
                .bind(episode.elapsed_ms)
                .bind(episode.proposals)
                .bind(episode.rejected)
                .bind(&episode.answer)
                .fetch_one(&mut *tx)
                .await?;
            let id: i64 = row.try_get("id")?;
            let entries = entries(id);
            append_entries_tx!(tx, &entries);
            id
        }))
    }

    /// Past episodes most like one about `kind` on `target`: the same target first, then
    /// newest first.
    pub async fn similar_episodes(
        &self,
        kind: &str,
        target: Option<&str>,
        limit: i64,
    ) -> Result<Vec<EpisodeRow>, StoreError> {
        let sql = format!(
            "SELECT {EPISODE_COLUMNS} FROM llm_episodes WHERE trigger_kind = $1 \
             ORDER BY CASE WHEN COALESCE(target, '') = $2 THEN 0 ELSE 1 END, started_ms DESC, id DESC LIMIT $3"
        );
        Ok(on_pool!(self, pool => {
            let rows = sqlx::query(&sql).bind(kind).bind(target.unwrap_or("")).bind(limit).fetch_all(pool).await?;
            let mut out = Vec::with_capacity(rows.len());
            for row in &rows {
                out.push(episode_from_row!(row));
            }
            out
        }))
    }

    /// The newest episodes, newest first.
    pub async fn recent_episodes(&self, limit: i64) -> Result<Vec<EpisodeRow>, StoreError> {
        let sql = format!("SELECT {EPISODE_COLUMNS} FROM llm_episodes ORDER BY id DESC LIMIT $1");
        Ok(on_pool!(self, pool => {
            let rows = sqlx::query(&sql).bind(limit).fetch_all(pool).await?;
            let mut out = Vec::with_capacity(rows.len());
            for row in &rows {
                out.push(episode_from_row!(row));
            }
            out
        }))
    }

    /// Episodes and tokens that started in `[from_ms, to_ms)`.
    pub async fn llm_usage(&self, from_ms: i64, to_ms: i64) -> Result<UsageTotals, StoreError> {
        let sql = "SELECT COUNT(*) AS episodes, CAST(COALESCE(SUM(requests), 0) AS BIGINT) AS requests, \
                   CAST(COALESCE(SUM(prompt_tokens), 0) AS BIGINT) AS prompt_tokens, \
                   CAST(COALESCE(SUM(completion_tokens), 0) AS BIGINT) AS completion_tokens \
                   FROM llm_episodes WHERE started_ms >= $1 AND started_ms < $2";
        Ok(on_pool!(self, pool => {
            let row = sqlx::query(sql).bind(from_ms).bind(to_ms).fetch_one(pool).await?;
            UsageTotals {
                episodes: row.try_get("episodes")?,
                requests: row.try_get("requests")?,
                prompt_tokens: row.try_get("prompt_tokens")?,
                completion_tokens: row.try_get("completion_tokens")?,
            }
        }))
    }

    /// Add what the observed fleet cost over the `interval_ms` that ends at the
    /// observation to each group's hour.
    pub async fn record_cost(&self, observation: &Observation, interval_ms: i64) -> Result<(), StoreError> {
        on_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            add_cost!(tx, observation, interval_ms);
            tx.commit().await?;
        });
        Ok(())
    }

    /// What each group cost in the hours starting in `[from_ms, to_ms)`, USD, by name.
    pub async fn cost_by_group(&self, from_ms: i64, to_ms: i64) -> Result<Vec<(String, f64)>, StoreError> {
        let sql = "SELECT group_name, SUM(usd) AS usd FROM cost_hours WHERE hour_ms >= $1 AND hour_ms < $2 \
                   GROUP BY group_name ORDER BY group_name";
        Ok(on_pool!(self, pool => {
            let rows = sqlx::query(sql).bind(from_ms).bind(to_ms).fetch_all(pool).await?;
            let mut out = Vec::with_capacity(rows.len());
            for row in &rows {
                out.push((row.try_get("group_name")?, row.try_get("usd")?));
            }
            out
        }))
    }
}
