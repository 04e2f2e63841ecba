package state

import (
	"context"
	"crypto/sha256"
	"os"
	"path/filepath"
	"testing"
	"time"

	dsync "github.com/dirsync/dirsync/sync"
	"github.com/dirsync/dirsync/user"
)

var _ dsync.Store = (*DB)(nil)

// testClock is a clock that moves one second per call.
type testClock struct{ t time.Time }

func (c *testClock) now() time.Time {
	c.t = c.t.Add(time.Second)
	return c.t
}

// openTest opens a read-write store in a fresh directory and closes it at the
// end of the test.
func openTest(t *testing.T, opts ...Option) (*DB, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "state.db")
	db, err := Open(context.Background(), path, opts...)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	return db, path
}

func fullRecord(id string) user.Record {
	u := user.User{
		ID:          id,
		DN:          "CN=Ada Lovelace,OU=Staff,DC=corp,DC=example,DC=com",
		Username:    "ada",
		Email:       "ada@example.com",
		GivenName:   "Ada",
		FamilyName:  "Lovelace",
		DisplayName: "Ada Lovelace <&> \"quoted\"",
		Active:      true,
		Groups:      []string{"cn=admins,dc=corp", `cn=r\,d,dc=corp`, "cn=ünïcode,dc=corp"},
		Extra:       map[string]string{"department": "Engineering", "title": "Countess"},
	}
	return user.Record{
		User:       u,
		Hash:       u.Hash(),
		PlatformID: "p-" + id,
		Status:     user.StatusArchived,
		FirstSeen:  time.Date(2024, 1, 2, 3, 4, 5, 123456789, time.UTC),
		LastSeen:   time.Date(2025, 1, 2, 3, 4, 5, 987654321, time.FixedZone("CET", 3600)),
		ArchivedAt: time.Date(2025, 2, 3, 4, 5, 6, 1, time.UTC),
		Attempts:   3,
		LastError:  "scim update user: HTTP 500",
	}
}

func mustBegin(t *testing.T, db *DB) int64 {
	t.Helper()
	run, err := db.BeginRun(context.Background(), "sync")
	if err != nil {
		t.Fatalf("BeginRun: %v", err)
	}
	return run
}

func mustSnapshot(t *testing.T, db *DB) []user.Record {
	t.Helper()
	recs, err := db.Snapshot(context.Background())
	if err != nil {
		t.Fatalf("Snapshot: %v", err)
	}
	return recs
}

func hashFile(t *testing.T, path string) [32]byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return sha256.Sum256(b)
}
