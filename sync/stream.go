package sync

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/dirsync/dirsync/user"
)

// summaries is the snapshot in compact form: one user.Summary per record.
type summaryIndex struct {
	list    []user.Summary // ordered by ID
	pos     map[string]int32
	seen    []bool
	managed int // records active on the platform
}

func loadSummaries(ctx context.Context, st SummaryStore) (*summaryIndex, error) {
	s := &summaryIndex{pos: make(map[string]int32)}
	err := st.Summaries(ctx, func(sum user.Summary) error {
		s.pos[sum.ID] = int32(len(s.list))
		s.list = append(s.list, sum)
		if sum.Status == user.StatusActive {
			s.managed++
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read snapshot: %w", err)
	}
	s.seen = make([]bool, len(s.list))
	return s, nil
}

// mark notes that the directory holds id and returns its summary.
func (s *summaryIndex) mark(id string) (user.Summary, bool) {
	i, ok := s.pos[id]
	if !ok {
		return user.Summary{}, false
	}
	s.seen[i] = true
	return s.list[i], true
}

// claims returns the platform IDs linked in the snapshot, to directory IDs.
func (s *summaryIndex) claims() (map[string]string, error) {
	claimed := make(map[string]string, len(s.list))
	for _, r := range s.list {
		if r.PlatformID != "" && r.Status != user.StatusDeleted {
			claimed[r.PlatformID] = r.ID
		}
	}
	return claimed, nil
}

// inStep reports whether Diff would find nothing to do for directory user u,
// given its record's summary (ok false: no record). It answers only the
// common cases and says false when unsure: the user then goes through Diff.
func inStep(u user.User, s user.Summary, ok bool) bool {
	switch {
	case !ok:
		return !u.Active // disabled and never provisioned
	case s.PlatformID == "":
		return false // pending: Diff decides
	case u.Active:
		return s.Status == user.StatusActive && s.Hash == u.Hash()
	default:
		return s.Status == user.StatusArchived // disabled and archived
	}
}

// streamPlan reads the directory through src, past the snapshot's
// summaries, and diffs into rep.Plan only what may need a change: users
// whose data or state moved, and records no directory user claimed. Users in
// step are counted and dropped as they stream by, so memory holds one
// summary per record and the changed users only. The plan is the one Diff
// gives over the whole directory and snapshot.
func (e *Engine) streamPlan(ctx context.Context, rep *Report, src Streamer, st SummaryStore) (claims func() (map[string]string, error), diffStart time.Time, err error) {
	phase := e.now()
	sums, err := loadSummaries(ctx, st)
	if err != nil {
		return nil, time.Time{}, err
	}
	var kept []user.User
	inScope, unchanged := 0, 0
	skipped, err := src.Stream(ctx, func(u user.User) error {
		inScope++
		if s, ok := sums.mark(u.ID); inStep(u, s, ok) {
			unchanged++
			return nil
		}
		kept = append(kept, u)
		return nil
	})
	if err := e.fetched(ctx, rep, phase, err); err != nil {
		return nil, time.Time{}, err
	}
	diffStart = e.now()

	// Users withdrawn after they were emitted are skipped entries.
	withdrawn := make(map[string]bool)
	for i := range skipped {
		if skipped[i].Withdrawn {
			withdrawn[skipped[i].ID] = true
			skipped[i].Withdrawn = false
		}
	}
	if len(withdrawn) > 0 {
		before := len(kept)
		kept = slices.DeleteFunc(kept, func(u user.User) bool { return withdrawn[u.ID] })
		inScope -= len(withdrawn)
		unchanged -= len(withdrawn) - (before - len(kept)) // the others were counted in step
	}

	ids := make([]string, 0, len(kept))
	for _, u := range kept {
		ids = append(ids, u.ID)
	}
	for i, s := range sums.list {
		if !sums.seen[i] {
			ids = append(ids, s.ID)
		}
	}
	records, err := st.Records(ctx, ids)
	if err != nil {
		return nil, diffStart, fmt.Errorf("read snapshot: %w", err)
	}
	rep.Plan = Diff(Directory{Users: kept, Skipped: skipped}, records, e.OnRemoved)
	rep.Plan.InScope = inScope
	rep.Plan.Unchanged += unchanged
	rep.Plan.Managed = sums.managed
	return sums.claims, diffStart, nil
}
