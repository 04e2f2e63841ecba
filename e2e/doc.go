// Package e2e holds end-to-end tests of dirsync: the real binary, built once,
// run against a real OpenLDAP slapd (internal/slapdtest) and the fake SCIM
// platform (target/fake) over real HTTP, with a real SQLite snapshot. It has no
// code of its own; see the _test.go files.
package e2e
