package sync

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/dirsync/dirsync/user"
)

// pruningStore is a fakeStore that is also a Pruner.
type pruningStore struct {
	*fakeStore
	// finishedBefore counts the runs finished when each Prune was called.
	finishedBefore []int
	err            error
}

func (p *pruningStore) Prune(ctx context.Context) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.finishedBefore = append(p.finishedBefore, len(p.finishes))
	return p.err
}

func TestRun_PrunesTheStoreOnceTheRunIsRecorded(t *testing.T) {
	alice := person("id-alice", "alice")
	e, _, st := setup(Directory{Users: []user.User{alice}})
	ps := &pruningStore{fakeStore: st}
	e.Store = ps
	mustRun(t, e, RunOptions{Mode: "sync"})
	if len(ps.finishedBefore) != 1 || ps.finishedBefore[0] != 1 {
		t.Errorf("Prune calls (runs finished before each): %v, want one, after the run was finished", ps.finishedBefore)
	}
	mustRun(t, e, RunOptions{Mode: "sync", DryRun: true})
	if len(ps.finishedBefore) != 1 {
		t.Errorf("a dry run pruned: %v", ps.finishedBefore)
	}
}

func TestRun_AFailedPruneIsAWarningNotAFailedRun(t *testing.T) {
	alice := person("id-alice", "alice")
	e, _, st := setup(Directory{Users: []user.User{alice}})
	ps := &pruningStore{fakeStore: st, err: errors.New("disk I/O error")}
	e.Store = ps
	var warned []string
	e.Warn = func(msg string) { warned = append(warned, msg) }
	rep := mustRun(t, e, RunOptions{Mode: "sync"})
	if rep.Applied[user.OpCreate] != 1 {
		t.Errorf("applied %v", rep.Applied)
	}
	if len(warned) != 1 || !strings.Contains(warned[0], "disk I/O error") || !strings.Contains(warned[0], "state.retention") {
		t.Errorf("warnings %q, want one naming the error and state.retention", warned)
	}
}
