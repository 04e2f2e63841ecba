package sambatest

import (
	"strings"
	"testing"
)

func TestStart_ServesTheDomainAndTheHelpersWork(t *testing.T) {
	s := Start(t)
	ou := s.AddOU(t, "harness")
	dn := s.AddUser(t, ou, UserSpec{SAM: "jdoe", UPN: "jdoe@dirsync.test", Mail: "jdoe@dirsync.test", GivenName: "John", SN: "Doe"})
	if got := s.Get(t, dn, "sAMAccountName"); got != "jdoe" {
		t.Fatalf("sAMAccountName = %q, want jdoe", got)
	}
	if guid := s.GetRaw(t, dn, "objectGUID"); len(guid) != 16 {
		t.Fatalf("objectGUID has %d bytes, want 16", len(guid))
	}
	s.Disable(t, dn)
	if uac := s.uac(t, dn); uac&UACAccountDisable == 0 {
		t.Fatalf("userAccountControl = %d after Disable, want the disabled bit", uac)
	}
	s.Enable(t, dn)
	if uac := s.uac(t, dn); uac&UACAccountDisable != 0 {
		t.Fatalf("userAccountControl = %d after Enable, want no disabled bit", uac)
	}
	g := s.AddGroup(t, ou, "team", dn)
	moved := s.Move(t, dn, "John Doe", s.AddOU(t, "harness-moved"))
	if !strings.HasPrefix(moved, "CN=John Doe,OU=harness-moved,") {
		t.Fatalf("moved DN = %q", moved)
	}
	if got := s.Get(t, g, "member"); !strings.EqualFold(got, moved) {
		t.Fatalf("group member = %q after the move, want %q", got, moved)
	}
	s.Delete(t, moved)
}
