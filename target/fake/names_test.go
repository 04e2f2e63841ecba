package fake_test

import (
	"testing"

	"github.com/dirsync/dirsync/target/fake"
	"github.com/dirsync/dirsync/user"
)

// The userName index must follow renames and removals: a freed name can be
// taken again, a held one cannot, whatever its case.
func TestUserNameUniquenessFollowsRenamesAndRemovals(t *testing.T) {
	s := fake.New(fake.Options{})
	ids, err := s.Seed(user.User{ID: "1", Username: "Alice", Active: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Seed(user.User{ID: "2", Username: "ALICE", Active: true}); err == nil {
		t.Fatal("a second ALICE was accepted while Alice exists")
	}
	if err := s.Edit(ids[0], func(r *fake.Resource) { r.UserName = "bob" }); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Seed(user.User{ID: "2", Username: "alice", Active: true}); err != nil {
		t.Fatalf("alice was freed by the rename to bob, yet: %v", err)
	}
	if _, err := s.Seed(user.User{ID: "3", Username: "Bob", Active: true}); err == nil {
		t.Fatal("Bob was accepted while bob exists")
	}
	if !s.Remove(ids[0]) {
		t.Fatal("remove bob")
	}
	bob, err := s.Seed(user.User{ID: "3", Username: "Bob", Active: true})
	if err != nil {
		t.Fatalf("bob was removed, yet: %v", err)
	}
	// Editing a user without renaming it keeps its name held.
	if err := s.SetActive(bob[0], false); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Seed(user.User{ID: "4", Username: "BOB", Active: true}); err == nil {
		t.Fatal("BOB was accepted while the deactivated Bob exists")
	}
}
