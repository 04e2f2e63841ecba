package main

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

	"github.com/spf13/cobra"
	"go.uber.org/zap"

	dsync "github.com/dirsync/dirsync/sync"
	"github.com/dirsync/dirsync/user"
)

// planFormat is the version of the plan file's format.
const planFormat = 1

// planFile is what `dirsync plan --out` writes and `dirsync apply` reads: the
// plan, and fingerprints of the snapshot and the directory read it came from.
type planFile struct {
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
	Refused string     `json:"refused,omitempty"`
	Plan    dsync.Plan `json:"plan"`
	// Groups is the group plan (groups.push): apply makes its deletions and
	// membership removals, and no others over the group limits.
	Groups *dsync.GroupPlan `json:"groups,omitempty"`
}

// recordingSource keeps the last directory read, for the plan's fingerprint.
type recordingSource struct {
	src  dsync.Source
	dir  dsync.Directory
	read bool
}

func (r *recordingSource) Read(ctx context.Context) (dsync.Directory, error) {
	dir, err := r.src.Read(ctx)
	if err == nil {
		r.dir, r.read = dir, true
	}
	return dir, err
}

func (r *recordingSource) Reread(ctx context.Context, ids, dns []string) (dsync.Changed, error) {
	return r.src.Reread(ctx, ids, dns)
}

// fixedSource returns a directory read made before.
type fixedSource struct{ dir dsync.Directory }

func (f fixedSource) Read(context.Context) (dsync.Directory, error) { return f.dir, nil }

// Reread answers from the read made before (see dsync.Directory.Changed).
func (f fixedSource) Reread(_ context.Context, ids, dns []string) (dsync.Changed, error) {
	return f.dir.Changed(ids, dns), nil
}

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

// savePlan writes the plan of a dry run to path, with the fingerprints of
// its inputs. A plan the safety limits refused is saved too: applying it is
// how an operator approves it.
func savePlan(ctx context.Context, path string, a *app, rec *recordingSource, rep dsync.Report, f *syncFlags, full bool, runErr error) error {
	var se *dsync.SafetyError
	var gse *dsync.GroupSafetyError
	refused := errors.As(runErr, &se) || errors.As(runErr, &gse)
	if (runErr != nil && !refused) || !rec.read {
		return nil // no plan to save; the run's error says why
	}
	records, err := a.engine.Store.Snapshot(ctx)
	if err != nil {
		return fmt.Errorf("--out: read snapshot for the plan's fingerprint: %w", err)
	}
	pf := planFile{Format: planFormat, Created: time.Now().UTC(), Version: buildVersion(),
		Full: full, RetryQuarantined: f.retryQuar, Plan: rep.Plan}
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

func readPlanFile(path string) (planFile, error) {
	var pf planFile
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

type applyFlags struct {
	output     string
	allowEmpty bool
}

func newApplyCmd(g *globalFlags) *cobra.Command {
	f := &applyFlags{}
	cmd := &cobra.Command{
		Use:   "apply PLAN_FILE",
		Short: "Apply exactly a plan saved by `dirsync plan --out`",
		Long: `Apply the changes of a plan saved by 'dirsync plan --out FILE', and no others.

The directory is read again and the snapshot locked; if either differs from
what the plan was made from (their fingerprints are in the file), or the plan
they give now is not the saved one (the config changed), nothing is changed
and apply exits 3: make and review a new plan.

The plan is the operator's approval: a plan the safety limits refused (more
archives than sync.max_archive) is applied as reviewed. An empty directory
read still needs --allow-empty-directory.

Exit codes: 0 success; 1 failure (some changes failed, or the run could not
complete); 3 refused: the plan is stale, nothing changed.`,
		Example: `  dirsync plan --out plan.json     # review it: jq .plan.changes plan.json
  dirsync apply plan.json`,
		Args: cobra.ExactArgs(1),
	}
	cmd.Flags().StringVarP(&f.output, "output", "o", "text", "output format: text or json")
	cmd.Flags().BoolVar(&f.allowEmpty, "allow-empty-directory", false, "allow an empty directory read to archive every managed user")
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		if f.output != "text" && f.output != "json" {
			return &exitError{code: exitFailure, err: fmt.Errorf("--output: %q is not text or json", f.output)}
		}
		pf, err := readPlanFile(args[0])
		if err != nil {
			return &exitError{code: exitFailure, err: err}
		}
		return withConfig(g, func(cfg Config, log *zap.Logger) error {
			return runApply(cmd, cfg, log, f, args[0], pf)
		})
	}
	return cmd
}

// errStalePlan marks a plan that no longer matches the snapshot or directory.
var errStalePlan = errors.New("the plan is stale")

func runApply(cmd *cobra.Command, cfg Config, log *zap.Logger, f *applyFlags, path string, pf planFile) error {
	ctx := cmd.Context()
	a, err := wire(ctx, cfg, log, false) // locks the snapshot until we are done
	if err != nil {
		return err
	}
	defer a.Close()
	dir, err := a.engine.Source.Read(ctx)
	if err == nil {
		err = ctx.Err()
	}
	if err != nil {
		return &exitError{code: exitFailure, err: fmt.Errorf("read directory (nothing was changed): %w", err)}
	}
	records, err := a.engine.Store.Snapshot(ctx)
	if err != nil {
		return &exitError{code: exitFailure, err: fmt.Errorf("read snapshot: %w", err)}
	}
	dirFP, snapFP, err := fingerprints(dir, records)
	if err != nil {
		return err
	}
	var moved []string
	if snapFP != pf.Snapshot {
		moved = append(moved, "the snapshot changed (a run happened since)")
	}
	if dirFP != pf.Directory {
		moved = append(moved, "the directory changed")
	}
	if len(moved) > 0 {
		return &exitError{code: exitRefused, err: fmt.Errorf("%w: %s since %s was made at %s; nothing was changed. Make a new one with `dirsync plan --out %s`, review it, and apply that",
			errStalePlan, strings.Join(moved, " and "), path, pf.Created.Format(time.RFC3339), path)}
	}

	// The same inputs give the same plan, unless the config changed: check.
	a.engine.Source = fixedSource{dir}
	now, err := a.engine.Run(ctx, dsync.RunOptions{DryRun: true, AllowMassArchive: true, AllowEmptyDirectory: f.allowEmpty,
		Full: pf.Full, RetryQuarantined: pf.RetryQuarantined})
	if err != nil {
		return runOutcomeErr(now, err)
	}
	saved, err := json.Marshal(pf.Plan.Changes)
	if err != nil {
		return err
	}
	again, err := json.Marshal(now.Plan.Changes)
	if err != nil {
		return err
	}
	if !bytes.Equal(saved, again) {
		return &exitError{code: exitRefused, err: fmt.Errorf("%w: the snapshot and the directory are as they were, but they now give a different plan (the config changed, or a full reconcile found the platform changed); nothing was changed. Make a new one with `dirsync plan --out %s`",
			errStalePlan, path)}
	}

	var prog *progress
	if f.output == "text" && isTerminal(os.Stderr) {
		prog = newTerminalProgress(os.Stderr)
		prog.attach(a)
	}
	rep, err := a.engine.ApplyPlans(ctx, "apply", now.Plan, pf.Groups)
	if prog != nil {
		prog.finish()
	}
	if pf.Full && err == nil {
		markFull(ctx, a, log)
	}
	log.Info("run finished", summaryFields(rep, "apply", err)...)
	out := cmd.OutOrStdout()
	if f.output == "json" {
		if jerr := writeJSON(out, jsonResult(rep, err)); jerr != nil {
			return jerr
		}
	} else {
		writePlan(out, rep.Plan)
		if err == nil {
			fmt.Fprintln(out)
			writeReport(out, rep)
		}
		dsync.WriteGroupReport(out, rep.Groups)
	}
	return runOutcomeErr(rep, err)
}
