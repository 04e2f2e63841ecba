package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"

	"go.uber.org/zap"

	"github.com/dirsync/dirsync/internal/render"
	"github.com/dirsync/dirsync/ldapsource"
	"github.com/dirsync/dirsync/state"
	"github.com/dirsync/dirsync/state/stores"
	dsync "github.com/dirsync/dirsync/sync"
)

// Check proves what `dirsync check` proves of cfg, writing each step to out
// (✓ done, ✗ failed with a fix, ! a warning), and changing nothing: the
// directory is read, its change stream tried, the platform's credentials
// checked (and for a REST profile its whole listing read), the snapshot read
// and its directory tested for writing. It returns how many steps failed; an
// error means the checks could not be set up.
func Check(ctx context.Context, out io.Writer, cfg Config, targets ...string) (failed int, err error) {
	for _, w := range insecureSettings(cfg) {
		fmt.Fprintf(out, "! %s\n", w)
	}
	log := zap.NewNop()
	bad := 0
	step := func(err error, okMsg string, fix string) {
		if err != nil {
			bad++
			fmt.Fprintf(out, "✗ %v\n", err)
			if fix != "" {
				fmt.Fprintf(out, "    fix: %s\n", fix)
			}
			return
		}
		fmt.Fprintf(out, "✓ %s\n", okMsg)
	}

	apps, err := WireTargets(ctx, cfg, log, WireOptions{ReadOnly: true, Targets: targets})
	if err != nil {
		return 0, err
	}
	defer closeAll(apps)

	first := apps[0]
	preview := first.Directory.PreviewTransform(checkPreviewUsers)
	dir, dirErr := first.Engine.Source.Read(ctx)
	if dirErr == nil {
		disabled := 0
		for _, u := range dir.Users {
			if !u.Active {
				disabled++
			}
		}
		step(nil, fmt.Sprintf("directory %s: %d users in scope (%d disabled) under %s%s", cfg.LDAP.URL, len(dir.Users), disabled, baseDNs(cfg), boundAs(cfg)), "")
		if len(dir.Users) == 0 {
			fmt.Fprintln(out, "! the directory returned no users: check ldap.base_dn and ldap.user_filter")
		}
		render.WriteCheckSkipped(out, dir.Skipped)
		preview.Write(out)
	} else {
		step(fmt.Errorf("directory: %w", dirErr), "", "check ldap.url, ldap.bind_dn, the password and ldap.base_dn; `ldapsearch` with the same values should work")
	}
	checkWatch(ctx, out, cfg, first.Directory, step)

	for _, a := range apps {
		t := a.Target
		key := "target"
		if len(cfg.Targets) > 0 {
			key = "targets[" + t.Name + "]"
			fmt.Fprintf(out, "target %s:\n", t.Name)
		}
		tdir, tdirErr := dir, dirErr
		if t.Scope != "" && a != first {
			tdir, tdirErr = a.Engine.Source.Read(ctx)
			step(tdirErr, fmt.Sprintf("scope %s: %d users", t.Scope, len(tdir.Users)), "check "+key+".scope")
		}
		platBad := bad
		step(a.Platform.Check(ctx), fmt.Sprintf("platform %s (%s) accepted dirsync's credentials", t.Target.Redacted().URL, targetType(t.Target.Type)),
			fmt.Sprintf("check %[1]s.url and %[1]s.token (or %[1]s.token_file)", key))
		if p, ok := a.Platform.(render.ProfileProber); ok && bad == platBad {
			bad += render.WriteCheckProfile(ctx, out, p)
		}

		path := t.State.Path
		recs, snapErr := a.Engine.Store.Snapshot(ctx)
		if t.State.Driver == state.DriverPostgres {
			step(snapErr, fmt.Sprintf("snapshot %s: %d records", stores.Where(t.State), len(recs)),
				"check state.url, the database's password (PGPASSWORD or ~/.pgpass) and that the role may create tables in it")
		} else {
			step(snapErr, fmt.Sprintf("snapshot %s: %d records", path, len(recs)), "check state.path and its permissions")
			step(stateWritable(path), fmt.Sprintf("snapshot directory %s is writable", filepath.Dir(path)),
				"create the directory, or give the user dirsync runs as write access to it (and to the snapshot's files), or change state.path")
		}
		if tdirErr == nil && snapErr == nil {
			// What the sync's safety check refuses first.
			plan := dsync.Diff(tdir, recs, a.Engine.OnRemoved)
			if plan.InScope == 0 && plan.Managed > 0 {
				step(fmt.Errorf("the directory read found no users in scope, but the snapshot manages %d: `dirsync sync` would refuse to archive them all", plan.Managed),
					"", "check ldap.base_dn and ldap.user_filter; if every user really left, run `dirsync sync --allow-empty-directory`")
			}
			if moves, err := a.Engine.IdentifierMoves(ctx, plan); err != nil {
				step(err, "", "check state.path and its permissions")
			} else {
				render.WriteIdentifierMoves(out, moves)
			}
		}
	}
	return bad, nil
}

// checkPreviewUsers is how many users check shows as mapped and as
// transformed, with a transform section.
const checkPreviewUsers = 3

// insecureSettings describes the settings in force that weaken security.
func insecureSettings(cfg Config) []string {
	var w []string
	if u, err := url.Parse(cfg.LDAP.URL); err == nil && u.Scheme == "ldap" && !cfg.LDAP.StartTLS && cfg.LDAP.AllowPlaintext {
		w = append(w, "ldap.allow_plaintext is on: the bind password and every user's data cross the network in clear text; use ldaps:// or ldap.start_tls")
	}
	if cfg.LDAP.InsecureSkipVerify {
		w = append(w, "ldap.insecure_skip_verify is on: the directory's TLS certificate is NOT verified; anyone on the path can read the bind password and forge users")
	}
	for _, t := range cfg.TargetList() {
		if t.Target.InsecureSkipVerify {
			key := "target"
			if len(cfg.Targets) > 0 {
				key = "targets[" + t.Name + "]"
			}
			w = append(w, key+".insecure_skip_verify is on: the platform's TLS certificate is NOT verified; anyone on the path can read the token")
		}
	}
	return w
}

// stateWritable reports why `dirsync sync` could not write the snapshot at
// path: its directory is missing and cannot be created (sync creates it),
// nothing can be created in it (the snapshot's -wal, -shm and .lock files
// are), or one of the snapshot's files is read-only. It leaves nothing behind.
func stateWritable(path string) error {
	abs, err := filepath.Abs(path)
	if err != nil {
		return fmt.Errorf("state.path: %w", err)
	}
	dir := filepath.Dir(abs)
	existing := dir // the nearest directory that exists
	for {
		fi, err := os.Stat(existing)
		if err == nil {
			if !fi.IsDir() {
				return fmt.Errorf("state.path: %s is not a directory", existing)
			}
			break
		}
		parent := filepath.Dir(existing)
		if !errors.Is(err, fs.ErrNotExist) || parent == existing {
			return fmt.Errorf("state.path: %w", err)
		}
		existing = parent
	}
	f, err := os.CreateTemp(existing, ".dirsync-check-*")
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		if existing != dir {
			return fmt.Errorf("state.path: directory %s does not exist and cannot be created in %s: %w", dir, existing, err)
		}
		return fmt.Errorf("state.path: cannot create files in %s: %w", dir, err)
	}
	f.Close()
	if err := os.Remove(f.Name()); err != nil {
		return fmt.Errorf("state.path: %w", err)
	}
	for _, suffix := range []string{"", "-wal", "-shm", ".lock"} {
		f, err := os.OpenFile(abs+suffix, os.O_WRONLY, 0)
		switch {
		case errors.Is(err, fs.ErrNotExist):
		case err != nil:
			return fmt.Errorf("state.path: %s is not writable: %w", abs+suffix, err)
		default:
			f.Close()
		}
	}
	return nil
}

// boundAs says which account check bound as, and in which form.
func boundAs(cfg Config) string {
	if cfg.LDAP.BindDN == "" {
		return ", bound anonymously"
	}
	form, _ := ldapsource.BindNameForm(cfg.LDAP.BindDN) // validated with the config
	return fmt.Sprintf(", bound as %s (%s)", cfg.LDAP.BindDN, form)
}

// checkWatch tries the change stream ldap.watch asks for (not with off).
func checkWatch(ctx context.Context, out io.Writer, cfg Config, src *ldapsource.Source, step func(error, string, string)) {
	if cfg.LDAP.Watch == "" || cfg.LDAP.Watch == ldapsource.WatchOff {
		return
	}
	mode, problems, err := src.CheckWatch(ctx)
	if err != nil {
		step(fmt.Errorf("watch: %w", err), "", "check that the directory is reachable")
		return
	}
	for _, p := range problems {
		if errors.Is(p, ldapsource.ErrFallingBack) {
			fmt.Fprintf(out, "! watch: auto falls back to poll (deletes wait for the scheduled runs): %v\n", p)
			continue
		}
		step(fmt.Errorf("watch: %w", p), "", "change the directory server as the error says, or set ldap.watch: poll (or off)")
	}
	if len(problems) == 0 {
		step(nil, fmt.Sprintf("watch: ldap.watch %s resolves to %s; the directory accepts the change stream", cfg.LDAP.Watch, mode), "")
	}
}

func baseDNs(cfg Config) string {
	return cfg.LDAP.BaseDN
}

// targetType is a target.type in force (scim when unset).
func targetType(typ string) string {
	if typ == "" {
		return "scim"
	}
	return typ
}
