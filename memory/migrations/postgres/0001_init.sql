-- Steward's store, PostgreSQL flavour. Keep in step with ../sqlite/0001_init.sql.

CREATE TABLE audit_log (
    seq         BIGINT PRIMARY KEY,
    at_ms       BIGINT NOT NULL,
    actor       TEXT   NOT NULL,
    kind        TEXT   NOT NULL,
    proposal_id BIGINT,
    data        TEXT   NOT NULL,
    prev_hash   TEXT   NOT NULL,
    hash        TEXT   NOT NULL
);
CREATE INDEX audit_log_proposal ON audit_log (proposal_id);

-- The audit log is append-only at the database level: UPDATE, DELETE and TRUNCATE fail
-- for every role that does not own the table's triggers.
CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only: % is not allowed', TG_OP;
END
$$;
CREATE TRIGGER audit_log_no_update_delete BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only();

CREATE TABLE proposals (
    id                  BIGSERIAL PRIMARY KEY,
    created_ms          BIGINT  NOT NULL,
    updated_ms          BIGINT  NOT NULL,
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
    approvals_required  BIGINT  NOT NULL DEFAULT 0,
    approvers_json      TEXT    NOT NULL DEFAULT '[]',
    cost_delta_per_hour DOUBLE PRECISION NOT NULL DEFAULT 0,
    expires_ms          BIGINT,
    action_id           TEXT UNIQUE,
    receipt_json        TEXT,
    inverse_json        TEXT,
    outcome             TEXT,
    rollback_of         BIGINT
);
CREATE INDEX proposals_state ON proposals (state);
CREATE INDEX proposals_target ON proposals (target, updated_ms);

CREATE TABLE approvals (
    proposal_id BIGINT NOT NULL REFERENCES proposals (id),
    approver    TEXT   NOT NULL,
    decision    TEXT   NOT NULL,
    reason      TEXT   NOT NULL,
    call_hash   TEXT   NOT NULL,
    at_ms       BIGINT NOT NULL,
    PRIMARY KEY (proposal_id, approver)
);

CREATE TABLE control (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE observations (
    group_name  TEXT   NOT NULL,
    at_ms       BIGINT NOT NULL,
    desired     BIGINT NOT NULL,
    running     BIGINT NOT NULL,
    cpu_percent DOUBLE PRECISION,
    requests    DOUBLE PRECISION,
    queue_depth BIGINT,
    hourly_burn DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (group_name, at_ms)
);
