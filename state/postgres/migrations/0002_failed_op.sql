-- 0002: as state/migrations/0002_failed_op.sql: a failing record keeps the
-- kind of the change that failed last.

ALTER TABLE users ADD COLUMN failed_op TEXT NOT NULL DEFAULT '';

UPDATE users SET failed_op = coalesce((
    SELECT j.op FROM journal j
    WHERE j.user_id = users.id AND j.error <> ''
    ORDER BY j.id DESC LIMIT 1), '')
WHERE attempts > 0;
