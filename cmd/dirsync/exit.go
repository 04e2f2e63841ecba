package main

import (
	"errors"
	"fmt"

	dsync "github.com/dirsync/dirsync/sync"
)

// runOutcomeErr maps a run's result to the command's exit.
func runOutcomeErr(rep dsync.Report, err error) error {
	var se *dsync.SafetyError
	switch {
	case errors.As(err, &se):
		return &exitError{code: exitRefused, err: err}
	case err != nil:
		return &exitError{code: exitFailure, err: err}
	case len(rep.Failed) > 0:
		return &exitError{code: exitFailure, err: fmt.Errorf("%d of %d changes failed; they are retried on the next run (see `dirsync status`)",
			len(rep.Failed), len(rep.Plan.Changes))}
	}
	return nil
}
