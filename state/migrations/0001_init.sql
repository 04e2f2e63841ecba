-- 0001: the first schema of the snapshot.
--
-- Timestamps are TEXT in UTC, fixed width ("2006-01-02T15:04:05.000000000Z"), so
-- they read well in the sqlite3 shell and sort as text. NULL means "never".

-- users: one row per directory user dirsync manages, keyed by the directory's
-- stable ID (never DN, username or email: renames are updates). The user's
-- scalar fields are columns; its groups (a JSON array) and extra attributes (a
-- JSON object) are kept as JSON, since they are only ever read back whole.
CREATE TABLE users (
    id           TEXT    NOT NULL PRIMARY KEY CHECK (id <> ''),
    platform_id  TEXT    NOT NULL DEFAULT '',
    status       TEXT    NOT NULL CHECK (status IN ('pending', 'active', 'archived', 'deleted')),
    hash         TEXT    NOT NULL DEFAULT '',
    dn           TEXT    NOT NULL DEFAULT '',
    username     TEXT    NOT NULL DEFAULT '',
    email        TEXT    NOT NULL DEFAULT '',
    given_name   TEXT    NOT NULL DEFAULT '',
    family_name  TEXT    NOT NULL DEFAULT '',
    display_name TEXT    NOT NULL DEFAULT '',
    active       INTEGER NOT NULL DEFAULT 0 CHECK (active IN (0, 1)),
    groups_json  TEXT,
    extra_json   TEXT,
    first_seen   TEXT,
    last_seen    TEXT,
    archived_at  TEXT,
    attempts     INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    last_error   TEXT    NOT NULL DEFAULT ''
) WITHOUT ROWID;

-- The platform's ID, to find a record from a platform account (full pass).
CREATE INDEX users_platform_id ON users (platform_id) WHERE platform_id <> '';
-- Counts by status for `dirsync status`.
CREATE INDEX users_status ON users (status);
-- The records whose last change failed (Failing); usually very few.
CREATE INDEX users_failing ON users (id) WHERE attempts > 0 OR last_error <> '';

-- runs: one row per sync that was not a dry-run. A run still in progress, or
-- one whose process died, has no finished_at.
CREATE TABLE runs (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    mode        TEXT    NOT NULL,
    started_at  TEXT    NOT NULL,
    finished_at TEXT,
    outcome     TEXT    NOT NULL DEFAULT '',
    counts      TEXT,
    error       TEXT    NOT NULL DEFAULT ''
);

-- journal: the audit trail, one row per change attempted on the platform.
-- user_id is deliberately not a foreign key: the trail outlives the record.
CREATE TABLE journal (
    id          INTEGER PRIMARY KEY,
    run_id      INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    at          TEXT    NOT NULL,
    op          TEXT    NOT NULL,
    user_id     TEXT    NOT NULL,
    username    TEXT    NOT NULL DEFAULT '',
    platform_id TEXT    NOT NULL DEFAULT '',
    fields      TEXT,
    reason      TEXT    NOT NULL DEFAULT '',
    error       TEXT    NOT NULL DEFAULT ''
);

CREATE INDEX journal_run ON journal (run_id, id);
CREATE INDEX journal_user ON journal (user_id, id);

-- meta: small named values kept between runs, e.g. delta-sync cookies.
CREATE TABLE meta (
    key        TEXT NOT NULL PRIMARY KEY,
    value      TEXT NOT NULL,
    updated_at TEXT NOT NULL
) WITHOUT ROWID;
