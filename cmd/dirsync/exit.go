package main

import (
	"errors"
	"fmt"

	dsync "github.com/dirsync/dirsync/sync"
)

// runOutcomeErr maps a run's result to the command's exit.
func runOutcomeErr(rep dsync.Report, err error) error {
	if gerr := groupOutcomeErr(rep, err); gerr != nil {
		return gerr
	}
	var se *dsync.SafetyError
	switch {
	case errors.As(err, &se):
		return &exitError{code: exitRefused, err: err}
	case err != nil:
		return &exitError{code: exitFailure, err: err}
	case len(rep.Failed) > 0:
		return &exitError{code: exitFailure, err: fmt.Errorf("%d of %d changes failed; they are retried on the next run (see `dirsync status`)",
			len(rep.Failed), rep.Plan.Size())}
	}
	return nil
}

// worseExit is the exit of a command over several targets: a failure over
// a refusal over pending changes over success.
func worseExit(a, b int) int {
	rank := map[int]int{exitOK: 0, exitPending: 1, exitRefused: 2, exitFailure: 3}
	if rank[b] > rank[a] {
		return b
	}
	return a
}
