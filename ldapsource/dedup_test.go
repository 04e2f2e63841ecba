package ldapsource

import (
	"testing"

	"github.com/dirsync/dirsync/user"
)

func TestDedup_WithdrawsAnEmittedUserWhenALaterEntryCollides(t *testing.T) {
	var emitted []string
	d := newDedup(func(u user.User) error { emitted = append(emitted, u.ID); return nil })
	for _, e := range []mapped{
		{u: userWith("1", "uid=a", "alice", "a@example.com")},
		{u: userWith("2", "uid=c", "carol", "c@example.com")},
		{u: userWith("3", "uid=b", "ALICE", "b@example.com")},
		{u: userWith("4", "uid=d", "dave", "B@example.com")},
	} {
		if err := d.add(e); err != nil {
			t.Fatal(err)
		}
	}
	if len(emitted) != 2 || emitted[0] != "1" || emitted[1] != "2" {
		t.Fatalf("emitted %v, want [1 2]: an entry is passed on when nothing seen so far collides", emitted)
	}
	skipped := d.result()
	want := map[string]bool{"uid=a": true, "uid=b": false, "uid=d": false} // DN → withdrawn
	if len(skipped) != len(want) {
		t.Fatalf("skipped = %+v, want %d entries", skipped, len(want))
	}
	for _, s := range skipped {
		w, ok := want[s.DN]
		if !ok || s.Withdrawn != w || s.ID == "" {
			t.Errorf("skipped %+v, want withdrawn=%v with its ID", s, w)
		}
	}
	// uid=b collides on username with uid=a and on email with uid=d.
	for _, s := range skipped {
		if s.DN == "uid=b" && s.Reason != `duplicate username "alice" (also on uid=a); duplicate email "b@example.com" (also on uid=d)` {
			t.Errorf("uid=b reason = %q", s.Reason)
		}
	}
}
