-- Steward's store, SQLite flavour. Keep in step with ../postgres/0001_init.sql.

CREATE TABLE audit_log (
    seq         INTEGER PRIMARY KEY,
    at_ms       INTEGER NOT NULL,
    actor       TEXT    NOT NULL,
    kind        TEXT    NOT NULL,
    proposal_id INTEGER,
    data        TEXT    NOT NULL,
    prev_hash   TEXT    NOT NULL,
    hash        TEXT    NOT NULL
);
CREATE INDEX audit_log_proposal ON audit_log (proposal_id);

-- Defence in depth: whoever owns the file can drop these, which is why the log is
-- hash-chained and checkpointed as well.
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only: UPDATE is not allowed'); END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only: DELETE is not allowed'); END;

CREATE TABLE proposals (
    id                  INTEGER PRIMARY KEY AUTOINCREMENT,
    created_ms          INTEGER NOT NULL,
    updated_ms          INTEGER NOT NULL,
    state               TEXT    NOT NULL,
    target              TEXT    NOT NULL,
    tool                TEXT    NOT NULL,
    call_json           TEXT    NOT NULL,
    call_hash           TEXT    NOT NULL,
    proposer            TEXT    NOT NULL,
    rationale           TEXT    NOT NULL,
    tainted             BOOLEAN NOT NULL,
    verdict             TEXT,
    decision_json       TEXT,
    approvals_required  INTEGER NOT NULL DEFAULT 0,
    approvers_json      TEXT    NOT NULL DEFAULT '[]',
    cost_delta_per_hour REAL    NOT NULL DEFAULT 0,
    expires_ms          INTEGER,
    action_id           TEXT UNIQUE,
    receipt_json        TEXT,
    inverse_json        TEXT,
    outcome             TEXT,
    rollback_of         INTEGER
);
CREATE INDEX proposals_state ON proposals (state);
CREATE INDEX proposals_target ON proposals (target, updated_ms);

CREATE TABLE approvals (
    proposal_id INTEGER NOT NULL REFERENCES proposals (id),
    approver    TEXT    NOT NULL,
    decision    TEXT    NOT NULL,
    reason      TEXT    NOT NULL,
    call_hash   TEXT    NOT NULL,
    at_ms       INTEGER NOT NULL,
    PRIMARY KEY (proposal_id, approver)
);

CREATE TABLE control (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE observations (
    group_name  TEXT    NOT NULL,
    at_ms       INTEGER NOT NULL,
    desired     INTEGER NOT NULL,
    running     INTEGER NOT NULL,
    cpu_percent REAL,
    requests    REAL,
    queue_depth INTEGER,
    hourly_burn REAL    NOT NULL,
    PRIMARY KEY (group_name, at_ms)
);
