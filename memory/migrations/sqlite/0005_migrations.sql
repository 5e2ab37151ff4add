-- Migrations off Heroku: the plan, its ordered steps (each filed as a proposal in turn, its
-- inverse filed during a rollback), and what a person gave that must not travel in a call
-- (an existing target database's URL), kept until the secrets step has put it in SSM.
-- Keep in step with ../postgres/0005_migrations.sql.

CREATE TABLE migrations (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    app         TEXT    NOT NULL,
    environment TEXT    NOT NULL,
    state       TEXT    NOT NULL,
    started_by  TEXT    NOT NULL,
    created_ms  INTEGER NOT NULL,
    updated_ms  INTEGER NOT NULL,
    plan_json   TEXT    NOT NULL,
    outcome     TEXT
);
CREATE INDEX migrations_app ON migrations (app, id);

CREATE TABLE migration_steps (
    migration_id     INTEGER NOT NULL REFERENCES migrations (id),
    idx              INTEGER NOT NULL,
    call_json        TEXT    NOT NULL,
    proposal_id      INTEGER,
    undo_proposal_id INTEGER,
    PRIMARY KEY (migration_id, idx)
);

CREATE TABLE migration_inputs (
    migration_id INTEGER NOT NULL REFERENCES migrations (id),
    name         TEXT    NOT NULL,
    value        TEXT    NOT NULL,
    PRIMARY KEY (migration_id, name)
);
