package state

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"testing/fstest"

	"github.com/dirsync/dirsync/user"
)

func fileMode(t *testing.T, path string) os.FileMode {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Mode().Perm()
}

func TestOpen_CreatesPrivateDirectoryAndFiles(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "var", "lib", "dirsync")
	path := filepath.Join(dir, "state.db")
	db, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	run := mustBegin(t, db) // a write, so that -wal and -shm exist
	rec := fullRecord("g")
	if err := db.Save(ctx, run, user.Entry{Op: user.OpCreate, UserID: "g"}, &rec); err != nil {
		t.Fatal(err)
	}
	if m := fileMode(t, dir); m != 0o700 {
		t.Errorf("directory mode %o, want 700", m)
	}
	for _, p := range []string{path, path + "-wal", path + "-shm", path + ".lock"} {
		if m := fileMode(t, p); m != 0o600 {
			t.Errorf("%s mode %o, want 600", filepath.Base(p), m)
		}
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if m := fileMode(t, path); m != 0o600 {
		t.Errorf("state.db mode after Close %o, want 600", m)
	}
}

func TestOpen_MigrationsAreIdempotentOnReopen(t *testing.T) {
	ctx := context.Background()
	db, path := openTest(t)
	run := mustBegin(t, db)
	rec := fullRecord("g")
	if err := db.Save(ctx, run, user.Entry{Op: user.OpCreate, UserID: "g"}, &rec); err != nil {
		t.Fatal(err)
	}
	db.Close()

	for range 2 {
		db, err := Open(ctx, path)
		if err != nil {
			t.Fatalf("reopen: %v", err)
		}
		if n := len(mustSnapshot(t, db)); n != 1 {
			t.Errorf("after reopen: %d records, want 1", n)
		}
		db.Close()
	}

	raw := rawDB(t, path)
	var rows, version, userVersion int
	if err := raw.QueryRow(`SELECT count(*), max(version) FROM schema_migrations`).Scan(&rows, &version); err != nil {
		t.Fatal(err)
	}
	if err := raw.QueryRow(`PRAGMA user_version`).Scan(&userVersion); err != nil {
		t.Fatal(err)
	}
	if rows != len(migrations) || version != latestVersion || userVersion != latestVersion {
		t.Errorf("schema_migrations: %d rows, version %d, user_version %d; want %d, %d, %d",
			rows, version, userVersion, len(migrations), latestVersion, latestVersion)
	}
}

// rawDB opens path directly, bypassing the package, for setting up and
// inspecting files.
func rawDB(t *testing.T, path string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func TestOpen_NewerSchemaIsRefused(t *testing.T) {
	ctx := context.Background()
	db, path := openTest(t)
	db.Close()
	newer := latestVersion + 3
	raw := rawDB(t, path)
	if _, err := raw.Exec(`INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, 'future', '')`, newer); err != nil {
		t.Fatal(err)
	}
	raw.Close()
	before := hashFile(t, path)

	for name, open := range map[string]func(context.Context, string, ...Option) (*DB, error){"Open": Open, "OpenReadOnly": OpenReadOnly} {
		_, err := open(ctx, path)
		if hashFile(t, path) != before {
			t.Errorf("%s changed a file it refused", name)
		}
		if !errors.Is(err, ErrSchemaTooNew) {
			t.Fatalf("%s: %v, want ErrSchemaTooNew", name, err)
		}
		want := fmt.Sprintf("state file schema version %d is newer than this dirsync supports (%d); upgrade dirsync", newer, latestVersion)
		if !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), path) {
			t.Errorf("%s: error %q, want it to name %s and say %q", name, err, path, want)
		}
	}
}

func TestOpen_NonSQLiteFileIsRefusedAndLeftAlone(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	content := []byte("ldap:\n  url: ldaps://dc1\n")
	if err := os.WriteFile(path, content, 0o600); err != nil {
		t.Fatal(err)
	}
	for name, open := range map[string]func(context.Context, string, ...Option) (*DB, error){"Open": Open, "OpenReadOnly": OpenReadOnly} {
		_, err := open(context.Background(), path)
		if !errors.Is(err, ErrNotState) || !strings.Contains(err.Error(), path) {
			t.Errorf("%s: %v, want ErrNotState naming the path", name, err)
		}
	}
	if b, _ := os.ReadFile(path); !bytes.Equal(b, content) {
		t.Error("the file was changed")
	}
}

func TestOpen_CorruptDatabaseIsAClearError(t *testing.T) {
	db, path := openTest(t)
	db.Close()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	// Keep the SQLite magic, garble the rest of the header and every page.
	for i := len(sqliteMagic); i < len(b); i++ {
		b[i] = byte(i*7 + 3)
	}
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	for name, open := range map[string]func(context.Context, string, ...Option) (*DB, error){"Open": Open, "OpenReadOnly": OpenReadOnly} {
		_, err := open(context.Background(), path)
		if err == nil {
			t.Fatalf("%s of a corrupt file: no error", name)
		}
		if !(errors.Is(err, ErrCorrupt) || errors.Is(err, ErrNotState)) || !strings.Contains(err.Error(), path) {
			t.Errorf("%s: %v, want ErrCorrupt or ErrNotState naming the path", name, err)
		}
	}
}

func TestOpen_TruncatedDatabaseIsCorrupt(t *testing.T) {
	path := seed(t, 40)
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b[:len(b)/2], 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = Open(context.Background(), path)
	if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), path) {
		t.Errorf("Open of a truncated file: %v, want ErrCorrupt naming the path", err)
	}
}

func TestOpen_ForeignSQLiteDatabaseIsRefused(t *testing.T) {
	path := filepath.Join(t.TempDir(), "other.db")
	raw := rawDB(t, path)
	if _, err := raw.Exec(`CREATE TABLE users (name TEXT)`); err != nil {
		t.Fatal(err)
	}
	raw.Close()
	before := hashFile(t, path)
	_, err := Open(context.Background(), path)
	if !errors.Is(err, ErrNotState) {
		t.Fatalf("Open: %v, want ErrNotState", err)
	}
	if hashFile(t, path) != before {
		t.Error("the foreign database was changed")
	}
}

func TestOpen_DirectoryPathIsAnError(t *testing.T) {
	dir := t.TempDir()
	if _, err := Open(context.Background(), dir); err == nil || !strings.Contains(err.Error(), dir) {
		t.Errorf("Open(directory) = %v, want an error naming it", err)
	}
	if _, err := OpenReadOnly(context.Background(), dir); err == nil || !strings.Contains(err.Error(), dir) {
		t.Errorf("OpenReadOnly(directory) = %v, want an error naming it", err)
	}
}

func TestOpen_PathWithURICharacters(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "a dir?#%", "state.db")
	db, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	mustBegin(t, db)
	db.Close()
	if _, err := os.Stat(path); err != nil {
		t.Errorf("state file not at the literal path: %v", err)
	}
}

func TestOpenReadOnly_MissingFileIsAnEmptyStoreAndCreatesNothing(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "nope")
	db, err := OpenReadOnly(ctx, filepath.Join(dir, "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if recs := mustSnapshot(t, db); len(recs) != 0 {
		t.Errorf("Snapshot = %v, want none", recs)
	}
	if runs, err := db.Runs(ctx, 10); err != nil || len(runs) != 0 {
		t.Errorf("Runs = %v, %v", runs, err)
	}
	if f, err := db.Failing(ctx); err != nil || len(f) != 0 {
		t.Errorf("Failing = %v, %v", f, err)
	}
	if j, err := db.Journal(ctx, 1); err != nil || len(j) != 0 {
		t.Errorf("Journal = %v, %v", j, err)
	}
	if st, err := db.Stats(ctx); err != nil || st.Runs != 0 || len(st.Users) != 0 || st.SchemaVersion != 0 {
		t.Errorf("Stats = %+v, %v", st, err)
	}
	if _, err := db.BeginRun(ctx, "sync"); !errors.Is(err, ErrReadOnly) {
		t.Errorf("BeginRun: %v, want ErrReadOnly", err)
	}
	if err := db.Save(ctx, 1, user.Entry{}, nil); !errors.Is(err, ErrReadOnly) {
		t.Errorf("Save: %v, want ErrReadOnly", err)
	}
	if err := db.FinishRun(ctx, 1, "success", nil, ""); !errors.Is(err, ErrReadOnly) {
		t.Errorf("FinishRun: %v, want ErrReadOnly", err)
	}
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the directory was created: %v", err)
	}
}

// dirEntries lists the names in dir.
func dirEntries(t *testing.T, dir string) []string {
	t.Helper()
	es, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range es {
		names = append(names, e.Name())
	}
	return names
}

// seed writes n records and a run into a new state file and closes it.
func seed(t *testing.T, n int) string {
	t.Helper()
	ctx := context.Background()
	db, path := openTest(t)
	run := mustBegin(t, db)
	for i := range n {
		rec := fullRecord("g" + string(rune('a'+i)))
		if err := db.Save(ctx, run, user.Entry{Op: user.OpCreate, UserID: rec.User.ID}, &rec); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.FinishRun(ctx, run, "success", map[string]int{"create": n}, ""); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestOpenReadOnly_AfterWriterClosedLeavesFileByteIdentical(t *testing.T) {
	ctx := context.Background()
	path := seed(t, 3)
	before := hashFile(t, path)
	filesBefore := dirEntries(t, filepath.Dir(path))

	db, err := OpenReadOnly(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(mustSnapshot(t, db)); n != 3 {
		t.Errorf("Snapshot: %d records, want 3", n)
	}
	if runs, err := db.Runs(ctx, 5); err != nil || len(runs) != 1 {
		t.Errorf("Runs = %v, %v", runs, err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	if hashFile(t, path) != before {
		t.Error("the state file changed during a read-only open")
	}
	// A writer that closed cleanly leaves the file in rollback mode, so the
	// reader needed no -wal or -shm either.
	if got := dirEntries(t, filepath.Dir(path)); strings.Join(got, ",") != strings.Join(filesBefore, ",") {
		t.Errorf("files after a read-only open: %v, before: %v", got, filesBefore)
	}
}

func TestOpenReadOnly_FileLeftInWALModeIsReadWithoutChangingIt(t *testing.T) {
	// A writer killed before Close leaves the file in WAL mode. Simulate one
	// whose WAL was checkpointed: WAL mode, no -wal or -shm file.
	ctx := context.Background()
	path := seed(t, 2)
	raw := rawDB(t, path)
	var mode string
	if err := raw.QueryRow(`PRAGMA journal_mode = WAL`).Scan(&mode); err != nil || mode != "wal" {
		t.Fatalf("journal_mode = %q, %v", mode, err)
	}
	raw.Close()
	if _, err := os.Stat(path + "-wal"); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("-wal still there: %v", err)
	}
	before := hashFile(t, path)

	db, err := OpenReadOnly(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(mustSnapshot(t, db)); n != 2 {
		t.Errorf("Snapshot: %d records, want 2", n)
	}
	db.Close()
	if hashFile(t, path) != before {
		t.Error("the state file changed during a read-only open")
	}

	// The next writer takes over whatever side files the reader left.
	w, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(mustSnapshot(t, w)); n != 2 {
		t.Errorf("writer after reader: %d records, want 2", n)
	}
	w.Close()
}

func TestOpenReadOnly_SeesCommitsOfARunningWriter(t *testing.T) {
	ctx := context.Background()
	path := seed(t, 1)
	w, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	run := mustBegin(t, w)
	rec := fullRecord("new")
	if err := w.Save(ctx, run, user.Entry{Op: user.OpCreate, UserID: "new"}, &rec); err != nil {
		t.Fatal(err)
	}
	before := hashFile(t, path)

	// No lock is taken: the writer holds it, and the reader still opens.
	r, err := OpenReadOnly(ctx, path)
	if err != nil {
		t.Fatalf("OpenReadOnly while a writer runs: %v", err)
	}
	defer r.Close()
	if n := len(mustSnapshot(t, r)); n != 2 {
		t.Errorf("reader sees %d records, want 2 (the writer's commit is in the WAL)", n)
	}
	runs, err := r.Runs(ctx, 1)
	if err != nil || len(runs) != 1 || runs[0].ID != run || runs[0].Outcome != "" {
		t.Errorf("reader's Runs = %+v, %v; want the running run", runs, err)
	}
	if hashFile(t, path) != before {
		t.Error("the reader changed the state file")
	}
}

func TestOpenReadOnly_EmptyFileIsAnEmptyStore(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	db, err := OpenReadOnly(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if n := len(mustSnapshot(t, db)); n != 0 {
		t.Errorf("Snapshot: %d records", n)
	}
}

func TestLoadMigrations_RejectsGapsAndBadNames(t *testing.T) {
	for name, files := range map[string][]string{
		"gap":      {"migrations/0001_a.sql", "migrations/0003_c.sql"},
		"bad name": {"migrations/init.sql"},
		"no label": {"migrations/0001.sql"},
		"none":     nil,
	} {
		fsys := fstest.MapFS{}
		for _, f := range files {
			fsys[f] = &fstest.MapFile{Data: []byte("SELECT 1;")}
		}
		if _, err := loadMigrations(fsys); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

// readOnlyHelperEnv names the state file TestReadOnlyHelperProcess opens.
const readOnlyHelperEnv = "DIRSYNC_STATE_READONLY_HELPER"

func TestOpenReadOnly_WALFileInReadOnlyDirectory(t *testing.T) {
	// `dirsync status` run by a user who may read the file but not create
	// -wal/-shm next to it, after a writer was killed and left WAL mode.
	path := seed(t, 2)
	raw := rawDB(t, path)
	if _, err := raw.Exec(`PRAGMA journal_mode = WAL`); err != nil {
		t.Fatal(err)
	}
	raw.Close()
	dir := filepath.Dir(path)
	before := hashFile(t, path)

	if os.Geteuid() != 0 {
		if err := os.Chmod(dir, 0o500); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.Chmod(dir, 0o700) })
		if n := readOnlySnapshot(path); n != "2 records" {
			t.Fatalf("OpenReadOnly in a read-only directory: %s, want 2 records", n)
		}
	} else {
		// Root ignores directory permissions: open the file as nobody, in a
		// child process, from a directory only root may write.
		if out := asNobody(t, path); out != "2 records" {
			t.Fatalf("OpenReadOnly as nobody in root's directory: %q, want 2 records", out)
		}
	}
	if hashFile(t, path) != before {
		t.Error("the state file changed")
	}
}

// readOnlySnapshot opens path read-only and says how many records it holds,
// or what failed.
func readOnlySnapshot(path string) string {
	db, err := OpenReadOnly(context.Background(), path)
	if err != nil {
		return "OpenReadOnly: " + err.Error()
	}
	defer db.Close()
	recs, err := db.Snapshot(context.Background())
	if err != nil {
		return "Snapshot: " + err.Error()
	}
	return fmt.Sprintf("%d records", len(recs))
}

// TestReadOnlyHelperProcess is the child of asNobody.
func TestReadOnlyHelperProcess(t *testing.T) {
	path := os.Getenv(readOnlyHelperEnv)
	if path == "" {
		return // only the child process of asNobody does something
	}
	fmt.Print(readOnlySnapshot(path))
	os.Exit(0)
}

// asNobody runs readOnlySnapshot(path) in a copy of the test binary as the
// user and group nobody (65534), after opening up the file and the
// directories above it for reading (never for writing), and returns what it
// printed.
func asNobody(t *testing.T, path string) string {
	t.Helper()
	const nobody = 65534
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	for dir := filepath.Dir(path); dir != os.TempDir() && dir != "/" && dir != "."; dir = filepath.Dir(dir) {
		if err := os.Chmod(dir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	// The test binary lives in a directory only root may enter: copy it.
	binDir := t.TempDir()
	if err := os.Chmod(binDir, 0o755); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(binDir, "state.test")
	b, err := os.ReadFile(os.Args[0])
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bin, b, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-test.run=^TestReadOnlyHelperProcess$", "-test.count=1")
	cmd.Env = append(os.Environ(), readOnlyHelperEnv+"="+path, "HOME=/")
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: nobody, Gid: nobody}}
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("child as nobody: %v (output %q)", err, out)
	}
	return string(out)
}
