-- 0002: a failing record keeps the kind of the change that failed last
-- (create, update, reactivate, archive, delete), so that whether it is
-- quarantined is read from the record alone: removals never are.

ALTER TABLE users ADD COLUMN failed_op TEXT NOT NULL DEFAULT '';

-- Records failing before this version take it from the journal's latest
-- failed entry of their user.
UPDATE users SET failed_op = coalesce((
    SELECT j.op FROM journal j
    WHERE j.user_id = users.id AND j.error <> ''
    ORDER BY j.id DESC LIMIT 1), '')
WHERE attempts > 0;
