-- Which Slack message shows which proposal, and what it showed last, so the daemon can
-- bring every message up to date (level-driven: a failed update is retried next tick).
-- Keep in step with ../postgres/0003_slack.sql.

CREATE TABLE slack_messages (
    proposal_id     INTEGER PRIMARY KEY REFERENCES proposals (id),
    channel         TEXT    NOT NULL,
    ts              TEXT    NOT NULL,
    shown_state     TEXT    NOT NULL,
    shown_approvals INTEGER NOT NULL
);

-- Who asked for a change (a person behind `steward ask`, `/steward ask` or a rollback): that
-- person may not approve it.
ALTER TABLE proposals ADD COLUMN requested_by TEXT;
