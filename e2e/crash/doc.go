// Package crash proves dirsync's resilience end to end: the real binary, run
// against a real OpenLDAP slapd and the fake SCIM platform over real HTTP.
// It has no code of its own; see the _test.go files.
//
// crash_test.go kills the binary with SIGKILL at random points while it
// applies a plan, restarts it, and requires the platform to end exactly in
// step with the directory, without duplicates or wrong archives. The other
// files hold a faulty or slow platform to the same standard: platform faults,
// the circuit breaker and quarantine (resilience_test.go), throttling and the
// adaptive rate (throttle_test.go, adaptive_test.go, inflight_test.go), slow
// bodies (slowbody_test.go), the full reconcile (full_test.go), undo
// (undo_test.go), status (status_test.go) and secrets kept out of every
// output (secrets_test.go).
package crash
