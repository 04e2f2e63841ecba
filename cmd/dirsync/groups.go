package main

import (
	"errors"
	"fmt"
	"io"

	dsync "github.com/dirsync/dirsync/sync"
)

// groupOutcomeErr maps the group pass's result (groups.push) to the
// command's exit, or nil when runOutcomeErr decides.
func groupOutcomeErr(rep dsync.Report, err error) error {
	var se *dsync.GroupSafetyError
	switch {
	case errors.As(err, &se):
		return &exitError{code: exitRefused, err: err}
	case err == nil && rep.Groups != nil && len(rep.Groups.Failed) > 0:
		return &exitError{code: exitFailure, err: fmt.Errorf("%d of %d group changes failed; they are retried on the next run (see `dirsync status`)",
			len(rep.Groups.Failed), len(rep.Groups.Plan.Changes))}
	}
	return nil
}

// groupChanges counts the group changes a plan holds.
func groupChanges(rep dsync.Report) int {
	if rep.Groups == nil {
		return 0
	}
	return len(rep.Groups.Plan.Changes)
}

// writeUndoGroups lists the group changes of an undo, when there are any.
func writeUndoGroups(w io.Writer, p dsync.GroupPlan) {
	if len(p.Changes) == 0 {
		return
	}
	fmt.Fprintf(w, "Undo of the run's group changes: %d groups\n", len(p.Changes))
	for _, c := range p.Changes {
		fmt.Fprintf(w, "  %s\n", dsync.GroupPlanLine(c))
	}
}
