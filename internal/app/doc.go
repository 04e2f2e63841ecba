// Package app assembles dirsync from a config: it wires the adapters
// (ldapsource, state, the target of target.type) into a sync.Engine and runs
// what the commands ask for, holding no sync rule of its own (those are in
// package sync).
//
//   - app.go: Wire builds an App (the engine, the directory, the platform
//     client) and checks at build time that each adapter meets its contract;
//     NewPlatform builds the target of a target.type; Observer sees every
//     change and platform request.
//   - daemon.go, watch.go: Daemon is `dirsync run`, the runnables of
//     internal/service wired to the adapters: the runs, the platform client
//     kept across runs (rebuilt when its config or files change, or after a
//     run that did not succeed), the change-event queue of ldap.watch, and
//     the config reload of SIGHUP.
//   - full.go: when a run reconciles fully (sync.full_reconcile_every).
//   - planfile.go: the plan file of `dirsync plan --out` and what `dirsync
//     apply` checks before applying it (Replan).
//   - check.go: the steps of `dirsync check`.
//   - undo.go: the plan that undoes a run's archives, and its apply.
//   - demo.go: `dirsync demo` on the built-in directory and platform.
//   - throttlelog.go: how throttling is logged without flooding the log.
package app
