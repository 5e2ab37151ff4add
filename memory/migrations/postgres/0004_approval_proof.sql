-- How each approval or rejection was proved (a Slack request, the CLI's OS user, an operator's
-- signature over the call hash), as JSON; the daemon checks signatures again before it counts
-- a vote. Older rows have none.
ALTER TABLE approvals ADD COLUMN proof TEXT;
