package sync

import (
	"testing"

	"github.com/dirsync/dirsync/user"
)

// TestRun_CreateJournalsTheFieldsItSet: the journal of a create says what
// the account was created with (each field "" → value), so an audit of the
// journal alone tells what every account held.
func TestRun_CreateJournalsTheFieldsItSet(t *testing.T) {
	alice := person("id-alice", "alice")
	e, _, st := setup(Directory{Users: []user.User{alice}})
	mustRun(t, e, RunOptions{})
	if len(st.saves) != 1 || st.saves[0].Entry.Op != user.OpCreate {
		t.Fatalf("saves %+v", st.saves)
	}
	got := map[string]user.FieldChange{}
	for _, f := range st.saves[0].Entry.Fields {
		got[f.Field] = f
	}
	for field, want := range map[string]string{user.FieldUsername: "alice", user.FieldEmail: "alice@example.com",
		user.FieldDisplayName: "Alice Doe", user.FieldActive: "true"} {
		if f := got[field]; f.New != want || (field != user.FieldActive && f.Old != "") {
			t.Errorf("%s: %+v, want \"\" → %q", field, f, want)
		}
	}
}
