package service

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"embed"
	"fmt"
	"html/template"
	"net"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/dirsync/dirsync/state"
	dsync "github.com/dirsync/dirsync/sync"
	"github.com/dirsync/dirsync/user"
)

// PageRuns is how many of a target's latest runs the status page charts.
const PageRuns = 100

// pageTableRuns is how many of them it lists.
const pageTableRuns = 20

// pageReadTimeout bounds the reading of the snapshots for one page.
const pageReadTimeout = 10 * time.Second

//go:embed page.html
var pageFiles embed.FS

var pageTemplate = template.Must(template.ParseFS(pageFiles, "page.html"))

// StatusSource is what the status page reads of one target's snapshot.
// *state.DB is one; SnapshotFile opens a SQLite snapshot for each read.
type StatusSource interface {
	// Runs returns the latest limit runs, newest first.
	Runs(ctx context.Context, limit int) ([]state.Run, error)
	// Unsettled returns the records whose change is pending or failed.
	Unsettled(ctx context.Context) ([]user.Record, error)
}

// SnapshotFile is the StatusSource of the SQLite snapshot at its path: each
// read opens it read-only (without locking it, so that it reads while a run
// writes), as `dirsync status` does.
type SnapshotFile string

// Runs returns the latest limit runs of the snapshot, newest first.
func (f SnapshotFile) Runs(ctx context.Context, limit int) ([]state.Run, error) {
	db, err := state.OpenReadOnly(ctx, string(f))
	if err != nil {
		return nil, err
	}
	defer db.Close()
	return db.Runs(ctx, limit)
}

// Unsettled returns the snapshot's pending and failing records.
func (f SnapshotFile) Unsettled(ctx context.Context) ([]user.Record, error) {
	db, err := state.OpenReadOnly(ctx, string(f))
	if err != nil {
		return nil, err
	}
	defer db.Close()
	return db.Unsettled(ctx)
}

// PageTarget is one target as the status page shows it.
type PageTarget struct {
	// Name is the target's name (target.type, or "default").
	Name string
	// QuarantineAfter is the target's sync.quarantine_after.
	QuarantineAfter int
	// Source reads the target's snapshot.
	Source StatusSource
}

// Page is the status page (`GET /` of the listener, status_page: true): a
// read-only HTML page, refreshing itself, of every target's runs, pending,
// failed and quarantined changes, skipped entries, and of the service's
// watch, leadership and schedule. It shows names and emails, so it requires
// its token, or, with no token, a listener on a loopback address.
type Page struct {
	token   string
	targets []PageTarget
	refresh time.Duration
}

// PageOptions configure a Page.
type PageOptions struct {
	// Token is the bearer token the page requires (status_page_token);
	// with none, only a listener on a loopback address serves the page.
	Token string
	// Targets are the targets shown, in order.
	Targets []PageTarget
	// Refresh is how often the page reloads itself; default 30s.
	Refresh time.Duration
}

// NewPage returns the status page of o.
func NewPage(o PageOptions) *Page {
	if o.Refresh <= 0 {
		o.Refresh = 30 * time.Second
	}
	return &Page{token: o.Token, targets: o.Targets, refresh: o.Refresh}
}

// handler serves the page with the service's status and clock; loopback
// tells whether the listener's address is a loopback one.
func (p *Page) handler(status func() Status, now func() time.Time, loopback bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Cache-Control", "no-store")
		h.Set("X-Content-Type-Options", "nosniff")
		// The token may be in the URL: no page it links to learns it.
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'")
		if why, ok := p.authorize(r, loopback); !ok {
			h.Set("WWW-Authenticate", `Bearer realm="dirsync status page"`)
			http.Error(w, "401 unauthorized: "+why, http.StatusUnauthorized)
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), pageReadTimeout)
		defer cancel()
		var buf bytes.Buffer
		if err := pageTemplate.Execute(&buf, p.view(ctx, status(), now())); err != nil {
			http.Error(w, "status page: "+err.Error(), http.StatusInternalServerError)
			return
		}
		h.Set("Content-Type", "text/html; charset=utf-8")
		w.Write(buf.Bytes()) //nolint:errcheck // the client went away
	})
}

// authorize reports whether r may see the page, and why not.
func (p *Page) authorize(r *http.Request, loopback bool) (string, bool) {
	if p.token == "" {
		if loopback {
			return "", true
		}
		return "status_page_token is not set and the listener is not on a loopback address", false
	}
	got := ""
	if scheme, cred, ok := strings.Cut(r.Header.Get("Authorization"), " "); ok && strings.EqualFold(scheme, "Bearer") {
		got = strings.TrimSpace(cred)
	} else {
		got = r.URL.Query().Get("token")
	}
	if got == "" {
		return "give status_page_token as a bearer token (Authorization: Bearer ...) or as ?token=", false
	}
	// Hashed first: the comparison takes the same time whatever the lengths.
	a, b := sha256.Sum256([]byte(got)), sha256.Sum256([]byte(p.token))
	if subtle.ConstantTimeCompare(a[:], b[:]) != 1 {
		return "wrong token", false
	}
	return "", true
}

// LoopbackAddr reports whether addr is a loopback address (127.0.0.0/8,
// ::1) or the name localhost.
func LoopbackAddr(addr net.Addr) bool {
	if a, ok := addr.(*net.TCPAddr); ok {
		return a.IP.IsLoopback()
	}
	host, _, err := net.SplitHostPort(addr.String())
	return err == nil && LoopbackHost(host)
}

// LoopbackHost reports whether host, of a listen address, is a loopback
// address or the name localhost.
func LoopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// pageView is what the template shows.
type pageView struct {
	Refresh   int
	Generated string
	Started   string
	Ready     bool
	ReadyWhy  string
	Leader    string
	NextRun   string
	Watch     string
	WatchOK   bool
	Targets   []targetView
}

// targetView is one target on the page.
type targetView struct {
	Name            string
	Error           string
	Runs            []runView
	RunsShown       int
	Charted         int
	Duration        chart
	Changes         chart
	Unsettled       []recordView
	Quarantined     []recordView
	QuarantineAfter int
	SkipsKnown      bool
	SkipsRun        int64
	SkipsAt         string
	Skipped         []dsync.Skip
}

type runView struct {
	ID                                       int64
	Mode, Started, Duration, Outcome, Counts string
	Error                                    string
}

type recordView struct {
	ID, Username, Email, DisplayName, Status, Op, Error string
	Attempts                                            int
}

// view reads every target's snapshot and puts the page together.
func (p *Page) view(ctx context.Context, st Status, now time.Time) pageView {
	v := pageView{
		Refresh:   int(p.refresh.Round(time.Second) / time.Second),
		Generated: pageTime(now),
		Started:   pageTime(st.Started),
		Leader:    leaderText(st),
		NextRun:   "none scheduled",
		WatchOK:   st.WatchRefused == "",
	}
	v.Ready, v.ReadyWhy = st.Ready(now)
	if !st.NextRun.IsZero() {
		v.NextRun = fmt.Sprintf("%s (in %s)", pageTime(st.NextRun), st.NextRun.Sub(now).Round(time.Second))
	}
	switch {
	case st.WatchRefused != "":
		v.Watch = "REFUSED by the directory: " + st.WatchRefused + "; changes wait for the scheduled runs"
	case st.Watch != "":
		v.Watch = "following the directory's changes (ldap.watch: " + st.Watch + ")"
	default:
		v.Watch = "off (ldap.watch is not set): changes wait for the scheduled runs"
	}
	for _, t := range p.targets {
		v.Targets = append(v.Targets, targetPage(ctx, t, st))
	}
	return v
}

// targetPage reads t's snapshot for the page.
func targetPage(ctx context.Context, t PageTarget, st Status) targetView {
	tv := targetView{Name: t.Name, QuarantineAfter: t.QuarantineAfter}
	if ts, ok := st.Target(t.Name); ok && !ts.Finished.IsZero() {
		tv.SkipsKnown, tv.SkipsRun, tv.SkipsAt, tv.Skipped = true, ts.Run, pageTime(ts.Finished), ts.Skipped
	}
	runs, err := t.Source.Runs(ctx, PageRuns)
	if err != nil {
		tv.Error = err.Error()
		return tv
	}
	recs, err := t.Source.Unsettled(ctx)
	if err != nil {
		tv.Error = err.Error()
		return tv
	}
	for i, r := range runs {
		if i == pageTableRuns {
			break
		}
		tv.Runs = append(tv.Runs, runRow(r))
	}
	tv.RunsShown = len(tv.Runs)
	tv.Duration, tv.Changes, tv.Charted = runCharts(runs)
	for _, r := range recs {
		rv := recordView{
			ID: r.User.ID, Username: r.User.Username, Email: r.User.Email, DisplayName: r.User.DisplayName,
			Status: string(r.Status), Op: string(r.FailedOp), Error: r.LastError, Attempts: r.Attempts,
		}
		if r.Status == user.StatusPending && rv.Op == "" {
			rv.Op = "create (pending)"
		}
		if dsync.Quarantined(r, t.QuarantineAfter) {
			tv.Quarantined = append(tv.Quarantined, rv)
		} else {
			tv.Unsettled = append(tv.Unsettled, rv)
		}
	}
	return tv
}

// runRow is a run as the page lists it.
func runRow(r state.Run) runView {
	rv := runView{ID: r.ID, Mode: r.Mode, Started: pageTime(r.Started), Outcome: r.Outcome, Counts: countsText(r.Counts), Error: r.Error}
	switch {
	case !r.Finished.IsZero():
		rv.Duration = r.Duration().Round(time.Millisecond).String()
	case r.Outcome == "":
		rv.Duration, rv.Outcome = "-", "running (or its process died)"
	default:
		rv.Duration = "-"
	}
	return rv
}

// changeCount is how many changes a run applied: the counts of its kinds of
// change (creates, updates, ...), not of the users it read.
func changeCount(counts map[string]int) int {
	n := 0
	for _, op := range []user.Op{user.OpCreate, user.OpAdopt, user.OpUpdate, user.OpReactivate, user.OpArchive, user.OpDelete} {
		n += counts[string(op)]
	}
	return n
}

// countsText prints the non-zero counts of a run but those of users read.
func countsText(m map[string]int) string {
	keys := make([]string, 0, len(m))
	for k, n := range m {
		if n != 0 && k != "in_scope" && k != "unchanged" {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s=%d", k, m[k]))
	}
	if len(parts) == 0 {
		return fmt.Sprintf("none (%d in scope)", m["in_scope"])
	}
	return strings.Join(parts, " ")
}

// leaderText says the instance's part.
func leaderText(st Status) string {
	switch st.Leader {
	case RoleLeader:
		return "leader"
	case RoleStandby:
		if st.LeaderID != "" {
			return "standby (the leader is " + st.LeaderID + ")"
		}
		return "standby"
	}
	return "not elected (no leader election: this instance runs alone)"
}

// pageTime prints t in UTC to the second; "-" when zero.
func pageTime(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format("2006-01-02 15:04:05 UTC")
}
