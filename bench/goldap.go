package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"time"

	"github.com/go-ldap/ldap/v3"

	"github.com/dirsync/dirsync/internal/slapdtest"
)

// measureGoLDAP times the same two paged reads as measureFloor, made with the
// LDAP client library dirsync uses (go-ldap) and discarding every entry: the
// floor for any client built on it, which shows how much of dirsync's fetch
// is the library's decoding and how much is dirsync's own work.
//
// Each read runs in a fresh process (this binary with --goldap-read), like
// dirsync's, so that it starts with an empty heap: the benchmark's own heap
// holds the fake platform's users.
func measureGoLDAP(s *slapdtest.Server, runs int) (time.Duration, error) {
	self, err := os.Executable()
	if err != nil {
		return 0, err
	}
	var times []time.Duration
	for range runs {
		start := time.Now()
		cmd := exec.Command(self, "--goldap-read", s.URL(), "--goldap-filter", s.LockedFilter(), "--goldap-bind", s.ReaderDN())
		cmd.Env = append(os.Environ(), "BENCH_LDAP_PASSWORD="+s.ReaderPassword())
		if out, err := cmd.CombinedOutput(); err != nil {
			return 0, fmt.Errorf("%w: %s", err, lastLines(string(out), 3))
		}
		times = append(times, time.Since(start))
	}
	return median(times), nil
}

// goLDAPRead is the --goldap-read mode: the two reads, as the reader account.
func goLDAPRead(url, lockedFilter, bindDN string) error {
	c, err := ldap.DialURL(url)
	if err != nil {
		return err
	}
	defer c.Close()
	if err := c.Bind(bindDN, os.Getenv("BENCH_LDAP_PASSWORD")); err != nil {
		return err
	}
	if err := pagedRead(c, "(&(objectClass=inetOrgPerson)"+lockedFilter+")", []string{"1.1"}); err != nil {
		return err
	}
	return pagedRead(c, "(objectClass=inetOrgPerson)", userAttrs)
}

func pagedRead(c *ldap.Conn, filter string, attrs []string) error {
	paging := ldap.NewControlPaging(500)
	for {
		req := ldap.NewSearchRequest(peopleOU, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases,
			0, 0, false, filter, attrs, []ldap.Control{paging})
		ctx, cancel := context.WithCancel(context.Background())
		res := c.SearchAsync(ctx, req, 64)
		var done *ldap.ControlPaging
		for res.Next() {
			if p, ok := ldap.FindControl(res.Controls(), ldap.ControlTypePaging).(*ldap.ControlPaging); ok {
				done = p
			}
		}
		err := res.Err()
		cancel()
		if err != nil {
			return err
		}
		if done == nil || len(done.Cookie) == 0 {
			return nil
		}
		paging.SetCookie(done.Cookie)
	}
}
