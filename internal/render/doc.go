// Package render is what dirsync prints: plans and run reports (plan.go),
// the account report of `dirsync report` (report.go), `dirsync status`
// (status.go), the journal of `dirsync journal` (journal.go), what
// `dirsync check` prints of a REST profile and of skipped entries
// (check.go), names moving to another directory user (moves.go), the platform requests of a one-user run
// (requests.go), tables that line up in any script (table.go), progress on
// a terminal or in the log (progress.go) and the process logger
// (logging.go). It decides nothing: every value comes from package sync or
// the adapters.
package render
