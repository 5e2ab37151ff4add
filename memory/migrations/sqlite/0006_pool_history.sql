-- GPU pools' history for the planner that learns from it: how many workers were busy and
-- the pool's jobs-started counter in each remembered tick (job duration = busy
-- worker-minutes over jobs started). Empty for other groups and for older rows.
-- Keep in step with ../postgres/0006_pool_history.sql.

ALTER TABLE observations ADD COLUMN busy INTEGER;
ALTER TABLE observations ADD COLUMN jobs_started INTEGER;
