package app

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	dsync "github.com/dirsync/dirsync/sync"
	"github.com/dirsync/dirsync/user"
)

// planFormat is the version of the plan file's format.
const planFormat = 1

// PlanFile is what `dirsync plan --out` writes and `dirsync apply` reads: the
// plan, and fingerprints of the snapshot and the directory read it came from.
type PlanFile struct {
	Format  int       `json:"format"`
	Created time.Time `json:"created"`
	Version string    `json:"dirsync_version"`
	// Snapshot and Directory are SHA-256 fingerprints of the snapshot's
	// records and of the users read from the directory.
	Snapshot  string `json:"snapshot_fingerprint"`
	Directory string `json:"directory_fingerprint"`
	// Full and RetryQuarantined are the plan's options, used again by apply.
	Full             bool `json:"full,omitempty"`
	RetryQuarantined bool `json:"retry_quarantined,omitempty"`
	// Refused is why the safety limits refused the plan, if they did: applying
	// the file is the operator's approval.
	Refused string `json:"refused,omitempty"`
	// Target names the target the plan is for.
	Target string     `json:"target,omitempty"`
	Plan   dsync.Plan `json:"plan"`
	// Groups is the group plan (groups.push): apply makes its deletions and
	// membership removals, and no others over the group limits.
	Groups *dsync.GroupPlan `json:"groups,omitempty"`
}

// RecordingSource keeps the last directory read, for the plan's fingerprint.
type RecordingSource struct {
	Src  dsync.Source
	dir  dsync.Directory
	read bool
}

// fixedSource returns a directory read made before.
type fixedSource struct{ dir dsync.Directory }

// fingerprint returns the SHA-256 of v's JSON, hex.
func fingerprint(v any) (string, error) {
	h := sha256.New()
	if err := json.NewEncoder(h).Encode(v); err != nil {
		return "", fmt.Errorf("fingerprint: %w", err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// fingerprints returns the fingerprints of a directory read and of the
// snapshot's records, independent of their order.
func fingerprints(dir dsync.Directory, records []user.Record) (dirFP, snapFP string, err error) {
	users := slices.Clone(dir.Users)
	slices.SortFunc(users, func(a, b user.User) int { return strings.Compare(a.ID, b.ID) })
	skipped := slices.Clone(dir.Skipped)
	slices.SortFunc(skipped, func(a, b dsync.Skip) int { return strings.Compare(a.DN+"\x00"+a.ID, b.DN+"\x00"+b.ID) })
	recs := slices.Clone(records)
	slices.SortFunc(recs, func(a, b user.Record) int { return strings.Compare(a.User.ID, b.User.ID) })
	if dirFP, err = fingerprint(dsync.Directory{Users: users, Skipped: skipped}); err != nil {
		return "", "", err
	}
	snapFP, err = fingerprint(recs)
	return dirFP, snapFP, err
}

// SavePlan writes the plan of a dry run to path, with the fingerprints of
// its inputs. A plan the safety limits refused is saved too: applying it is
// how an operator approves it.
func SavePlan(ctx context.Context, path string, a *App, rec *RecordingSource, rep dsync.Report, o SavePlanOptions, runErr error) error {
	var se *dsync.SafetyError
	var gse *dsync.GroupSafetyError
	refused := errors.As(runErr, &se) || errors.As(runErr, &gse)
	if (runErr != nil && !refused) || !rec.read {
		return nil // no plan to save; the run's error says why
	}
	records, err := a.Engine.Store.Snapshot(ctx)
	if err != nil {
		return fmt.Errorf("--out: read snapshot for the plan's fingerprint: %w", err)
	}
	pf := PlanFile{Format: planFormat, Created: time.Now().UTC(), Version: o.Version,
		Full: o.Full, RetryQuarantined: o.RetryQuarantined, Target: a.Name, Plan: rep.Plan}
	if rep.Groups != nil {
		pf.Groups = &rep.Groups.Plan
	}
	if pf.Directory, pf.Snapshot, err = fingerprints(rec.dir, records); err != nil {
		return err
	}
	if refused {
		pf.Refused = runErr.Error()
	}
	b, err := json.MarshalIndent(pf, "", "  ")
	if err != nil {
		return fmt.Errorf("--out: %w", err)
	}
	// The plan names people: readable by its owner only, written whole or not at all.
	tmp, err := os.CreateTemp(filepath.Dir(path), ".dirsync-plan-*")
	if err != nil {
		return fmt.Errorf("--out: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(append(b, '\n')); err != nil {
		tmp.Close()
		return fmt.Errorf("--out: write %s: %w", tmp.Name(), err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("--out: write %s: %w", tmp.Name(), err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("--out: %w", err)
	}
	return nil
}

// ReadPlanFile reads a plan file written by SavePlan.
func ReadPlanFile(path string) (PlanFile, error) {
	var pf PlanFile
	b, err := os.ReadFile(path)
	if err != nil {
		return pf, fmt.Errorf("plan file: %w", err)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&pf); err != nil {
		return pf, fmt.Errorf("plan file %s: %w (write one with `dirsync plan --out FILE`)", path, err)
	}
	if pf.Format != planFormat {
		return pf, fmt.Errorf("plan file %s: format %d, this dirsync reads format %d; make the plan again with this version", path, pf.Format, planFormat)
	}
	return pf, nil
}

// ErrStalePlan marks a plan that no longer matches the snapshot or directory.
var ErrStalePlan = errors.New("the plan is stale")

func (r *RecordingSource) Read(ctx context.Context) (dsync.Directory, error) {
	dir, err := r.Src.Read(ctx)
	if err == nil {
		r.dir, r.read = dir, true
	}
	return dir, err
}

func (r *RecordingSource) Reread(ctx context.Context, ids, dns []string) (dsync.Changed, error) {
	return r.Src.Reread(ctx, ids, dns)
}

func (f fixedSource) Read(context.Context) (dsync.Directory, error) { return f.dir, nil }

// Reread answers from the read made before (see dsync.Directory.Changed).
func (f fixedSource) Reread(_ context.Context, ids, dns []string) (dsync.Changed, error) {
	return f.dir.Changed(ids, dns), nil
}

// Replan checks that the plan pf, saved at path, is still what a run would do
// now, and returns that run's dry-run report: the directory is read again and
// the snapshot's records compared with the fingerprints in the file, and the
// plan made again from them must be the saved one. When it is not, the error
// wraps ErrStalePlan and nothing was changed.
func Replan(ctx context.Context, a *App, pf PlanFile, path string, allowEmpty bool) (dsync.Report, error) {
	dir, err := a.Engine.Source.Read(ctx)
	if err == nil {
		err = ctx.Err()
	}
	if err != nil {
		return dsync.Report{}, fmt.Errorf("read directory (nothing was changed): %w", err)
	}
	records, err := a.Engine.Store.Snapshot(ctx)
	if err != nil {
		return dsync.Report{}, fmt.Errorf("read snapshot: %w", err)
	}
	dirFP, snapFP, err := fingerprints(dir, records)
	if err != nil {
		return dsync.Report{}, err
	}
	var moved []string
	if snapFP != pf.Snapshot {
		moved = append(moved, "the snapshot changed (a run happened since)")
	}
	if dirFP != pf.Directory {
		moved = append(moved, "the directory changed")
	}
	if len(moved) > 0 {
		return dsync.Report{}, fmt.Errorf("%w: %s since %s was made at %s; nothing was changed. Make a new one with `dirsync plan --out %s`, review it, and apply that",
			ErrStalePlan, strings.Join(moved, " and "), path, pf.Created.Format(time.RFC3339), path)
	}

	// The same inputs give the same plan, unless the config changed: check.
	a.Engine.Source = fixedSource{dir}
	now, err := a.Engine.Run(ctx, dsync.RunOptions{DryRun: true, AllowMassArchive: true, AllowEmptyDirectory: allowEmpty,
		Full: pf.Full, RetryQuarantined: pf.RetryQuarantined})
	if err != nil {
		return now, err
	}
	saved, err := json.Marshal(pf.Plan.Changes)
	if err != nil {
		return now, err
	}
	again, err := json.Marshal(now.Plan.Changes)
	if err != nil {
		return now, err
	}
	if !bytes.Equal(saved, again) {
		return now, fmt.Errorf("%w: the snapshot and the directory are as they were, but they now give a different plan (the config changed, or a full reconcile found the platform changed); nothing was changed. Make a new one with `dirsync plan --out %s`",
			ErrStalePlan, path)
	}
	return now, nil
}

// SavePlanOptions are what a saved plan records of the run that made it.
type SavePlanOptions struct {
	Version          string // the build's version
	Full             bool   // the run was a full reconcile
	RetryQuarantined bool   // the run retried the quarantined users
}
