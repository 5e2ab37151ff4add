//! Slack messages that show proposals, and which of them are out of date.

use serde::Serialize;
use sqlx::Row;

use crate::{Store, StoreError};

/// A posted message and what it showed last.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SlackMessage {
    pub proposal_id: i64,
    pub channel: String,
    pub ts: String,
    pub shown_state: String,
    pub shown_approvals: i64,
}

impl Store {
    /// Remember (or move on) the message that shows `proposal_id`.
    pub async fn record_slack_message(&self, m: &SlackMessage) -> Result<(), StoreError> {
        let sql = "INSERT INTO slack_messages (proposal_id, channel, ts, shown_state, shown_approvals) \
                   VALUES ($1, $2, $3, $4, $5) ON CONFLICT (proposal_id) DO UPDATE \
                   SET channel = $2, ts = $3, shown_state = $4, shown_approvals = $5";
        on_pool!(self, pool => {
            sqlx::query(sql)
                .bind(m.proposal_id)
                .bind(&m.channel)
                .bind(&m.ts)
                .bind(&m.shown_state)
                .bind(m.shown_approvals)
                .execute(pool)
                .await?;
        });
        Ok(())
    }

    pub async fn slack_message(&self, proposal_id: i64) -> Result<Option<SlackMessage>, StoreError> {
        let sql =
            "SELECT proposal_id, channel, ts, shown_state, shown_approvals FROM slack_messages WHERE proposal_id = $1";
        Ok(on_pool!(self, pool => {
            match sqlx::query(sql).bind(proposal_id).fetch_optional(pool).await? {
                Some(row) => Some(SlackMessage {
                    proposal_id: row.try_get("proposal_id")?,
                    channel: row.try_get("channel")?,
                    ts: row.try_get("ts")?,
                    shown_state: row.try_get("shown_state")?,
                    shown_approvals: row.try_get("shown_approvals")?,
                }),
                None => None,
            }
        }))
    }

    /// Proposals waiting for approval that no message shows yet, oldest first.
    pub async fn unposted_pending(&self) -> Result<Vec<i64>, StoreError> {
        let sql = "SELECT id FROM proposals WHERE state = 'pending_approval' \
                   AND id NOT IN (SELECT proposal_id FROM slack_messages) ORDER BY id";
        Ok(on_pool!(self, pool => {
            let rows = sqlx::query(sql).fetch_all(pool).await?;
            let mut out = Vec::with_capacity(rows.len());
            for row in &rows {
                out.push(row.try_get("id")?);
            }
            out
        }))
    }

    /// Messages whose proposal moved on (state or approvals) since they were last updated.
    pub async fn stale_slack_messages(&self) -> Result<Vec<SlackMessage>, StoreError> {
        let sql = "SELECT m.proposal_id, m.channel, m.ts, m.shown_state, m.shown_approvals FROM slack_messages m \
                   JOIN proposals p ON p.id = m.proposal_id \
                   WHERE p.state <> m.shown_state OR m.shown_approvals <> \
                   (SELECT COUNT(*) FROM approvals a WHERE a.proposal_id = m.proposal_id AND a.decision = 'approve' \
                    AND a.call_hash = p.call_hash) \
                   ORDER BY m.proposal_id";
        Ok(on_pool!(self, pool => {
            let rows = sqlx::query(sql).fetch_all(pool).await?;
            let mut out = Vec::with_capacity(rows.len());
            for row in &rows {
                out.push(SlackMessage {
                    proposal_id: row.try_get("proposal_id")?,
                    channel: row.try_get("channel")?,
                    ts: row.try_get("ts")?,
                    shown_state: row.try_get("shown_state")?,
                    shown_approvals: row.try_get("shown_approvals")?,
                });
            }
            out
        }))
    }
}
