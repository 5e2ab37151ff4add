-- LLM episodes (what each cost and produced) and the hourly cost roll-up behind
-- `steward cost`. Keep in step with ../postgres/0002_llm_and_cost.sql.

CREATE TABLE llm_episodes (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    started_ms        INTEGER NOT NULL,
    trigger_kind      TEXT    NOT NULL,
    target            TEXT,
    summary           TEXT    NOT NULL,
    model             TEXT    NOT NULL,
    ended             TEXT    NOT NULL,
    tainted           BOOLEAN NOT NULL,
    requests          INTEGER NOT NULL,
    prompt_tokens     INTEGER NOT NULL,
    completion_tokens INTEGER NOT NULL,
    elapsed_ms        INTEGER NOT NULL,
    proposals         INTEGER NOT NULL,
    rejected          INTEGER NOT NULL,
    answer            TEXT
);
CREATE INDEX llm_episodes_started ON llm_episodes (started_ms);
CREATE INDEX llm_episodes_trigger ON llm_episodes (trigger_kind, target, started_ms);

-- What managed capacity cost, per group per hour (USD), summed tick by tick. Unlike
-- observations it is never pruned: month-to-date figures come from here.
CREATE TABLE cost_hours (
    group_name TEXT    NOT NULL,
    hour_ms    INTEGER NOT NULL,
    usd        REAL    NOT NULL,
    PRIMARY KEY (group_name, hour_ms)
);
