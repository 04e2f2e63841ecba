package service

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/dirsync/dirsync/state"
	dsync "github.com/dirsync/dirsync/sync"
	"github.com/dirsync/dirsync/user"
)

// pageListener serves a listener on a loopback port until the test ends,
// with page when it is not nil, and returns its base URL.
func pageListener(t *testing.T, page *Page, status Status) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l := NewListener(ln, NewMetrics("test"), func() Status { return status }, DefaultListenerLimits)
	if page != nil {
		l.ServePage(page)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- l.Start(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("listener: %v", err)
		}
	})
	return "http://" + ln.Addr().String()
}

// fetch GETs url with the Authorization header auth ("" for none).
func fetch(t *testing.T, url, auth string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(b)
}

// snapshotWith writes a real snapshot holding runs finished runs (the i-th
// taking i+1 seconds and creating i users), a pending intent, a failing
// update and a quarantined create, and returns its path.
func snapshotWith(t *testing.T, runs int, displayName string) string {
	t.Helper()
	ctx := context.Background()
	now := time.Date(2026, 3, 4, 5, 0, 0, 0, time.UTC)
	path := filepath.Join(t.TempDir(), "state.db")
	db, err := state.Open(ctx, path, state.WithClock(func() time.Time { return now }))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var last int64
	for i := range runs {
		id, err := db.BeginRun(ctx, "sync")
		if err != nil {
			t.Fatal(err)
		}
		now = now.Add(time.Duration(i+1) * time.Second)
		if err := db.FinishRun(ctx, id, dsync.OutcomeSuccess, map[string]int{"in_scope": 10, "create": i}, ""); err != nil {
			t.Fatal(err)
		}
		now = now.Add(time.Minute)
		last = id
	}
	rec := func(id, name string) user.Record {
		return user.Record{User: user.User{ID: id, Username: name, Email: name + "@example.com", DisplayName: displayName, Active: true}}
	}
	intent := rec("id-pending", "pat")
	intent.Status = user.StatusPending
	if err := db.SaveIntent(ctx, &intent); err != nil {
		t.Fatal(err)
	}
	failing := rec("id-failing", "fay")
	failing.Status, failing.PlatformID = user.StatusActive, "p-fay"
	failing.Attempts, failing.LastError, failing.FailedOp = 1, "HTTP 500 from the platform", user.OpUpdate
	quarantined := rec("id-quarantined", "quinn")
	quarantined.Status = user.StatusPending
	quarantined.Attempts, quarantined.LastError, quarantined.FailedOp = 5, "HTTP 400: userName taken", user.OpCreate
	for _, r := range []*user.Record{&failing, &quarantined} {
		if err := db.Save(ctx, last, user.Entry{Op: r.FailedOp, UserID: r.User.ID, Error: r.LastError}, r); err != nil {
			t.Fatal(err)
		}
	}
	return path
}

// section returns the part of body from the first match of start to the
// next match of end after it.
func section(t *testing.T, body, start, end string) string {
	t.Helper()
	i := strings.Index(body, start)
	if i < 0 {
		t.Fatalf("no %q in the page:\n%s", start, body)
	}
	j := strings.Index(body[i:], end)
	if j < 0 {
		t.Fatalf("no %q after %q in the page", end, start)
	}
	return body[i : i+j]
}

func TestStatusPage_IsOffByDefault(t *testing.T) {
	base := pageListener(t, nil, Status{})
	resp, _ := fetch(t, base+"/", "")
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("GET / without the page = %d, want 404", resp.StatusCode)
	}
	if resp, _ := fetch(t, base+"/healthz", ""); resp.StatusCode != http.StatusOK {
		t.Errorf("GET /healthz = %d", resp.StatusCode)
	}
}

func TestStatusPage_RequiresItsTokenAsBearerOrQuery(t *testing.T) {
	const token = "s3cret-page-token"
	page := NewPage(PageOptions{Token: token, Targets: []PageTarget{{Name: "default", Source: SnapshotFile(snapshotWith(t, 1, "Ada"))}}})
	base := pageListener(t, page, Status{})
	for _, tc := range []struct {
		name, path, auth string
		want             int
	}{
		{"no token", "/", "", http.StatusUnauthorized},
		{"wrong bearer", "/", "Bearer nope", http.StatusUnauthorized},
		{"a prefix of the token", "/", "Bearer s3cret", http.StatusUnauthorized},
		{"another scheme", "/", "Basic " + token, http.StatusUnauthorized},
		{"wrong query token", "/?token=nope", "", http.StatusUnauthorized},
		{"empty query token", "/?token=", "", http.StatusUnauthorized},
		{"bearer", "/", "Bearer " + token, http.StatusOK},
		{"bearer, any case", "/", "bearer " + token, http.StatusOK},
		{"query", "/?token=" + token, "", http.StatusOK},
	} {
		resp, body := fetch(t, base+tc.path, tc.auth)
		if resp.StatusCode != tc.want {
			t.Errorf("%s: GET %s = %d, want %d: %s", tc.name, tc.path, resp.StatusCode, tc.want, body)
			continue
		}
		if tc.want == http.StatusUnauthorized {
			if !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Bearer") {
				t.Errorf("%s: WWW-Authenticate %q, want a Bearer challenge", tc.name, resp.Header.Get("WWW-Authenticate"))
			}
			if strings.Contains(body, "Ada") || strings.Contains(body, "pat@example.com") {
				t.Errorf("%s: the refusal shows the snapshot's data: %s", tc.name, body)
			}
		}
		if tc.want == http.StatusOK && !strings.Contains(body, "pat@example.com") {
			t.Errorf("%s: the page does not show the pending user", tc.name)
		}
	}
	// Nothing of the page is cached or leaks the token in a Referer.
	resp, _ := fetch(t, base+"/?token="+token, "")
	for h, want := range map[string]string{"Cache-Control": "no-store", "Referrer-Policy": "no-referrer", "Content-Type": "text/html; charset=utf-8"} {
		if got := resp.Header.Get(h); got != want {
			t.Errorf("%s: %q, want %q", h, got, want)
		}
	}
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") {
		t.Errorf("Content-Security-Policy %q: want default-src 'none' (no script runs)", csp)
	}
}

func TestStatusPage_OnALoopbackListenerNeedsNoToken(t *testing.T) {
	page := NewPage(PageOptions{Targets: []PageTarget{{Name: "default", Source: SnapshotFile(snapshotWith(t, 1, "Ada"))}}})
	resp, body := fetch(t, pageListener(t, page, Status{})+"/", "")
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, "pat@example.com") {
		t.Errorf("GET / on 127.0.0.1 without a token = %d, want 200 and the page:\n%s", resp.StatusCode, body)
	}
}

// fixedAddrListener is a listener whose address is addr: the page decides
// from the listener's address whether it may go without a token.
type fixedAddrListener struct {
	net.Listener
	addr net.Addr
}

func (l fixedAddrListener) Addr() net.Addr { return l.addr }

func TestStatusPage_OffLoopbackWithoutATokenIsRefused(t *testing.T) {
	page := NewPage(PageOptions{Targets: []PageTarget{{Name: "default", Source: SnapshotFile(snapshotWith(t, 1, "Ada"))}}})
	for _, ip := range []string{"10.1.2.3", "0.0.0.0", "::"} {
		ln := fixedAddrListener{addr: &net.TCPAddr{IP: net.ParseIP(ip), Port: 9464}}
		l := NewListener(ln, NewMetrics("test"), func() Status { return Status{} }, DefaultListenerLimits)
		l.ServePage(page)
		rec := httptest.NewRecorder()
		l.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
		if rec.Code != http.StatusUnauthorized || strings.Contains(rec.Body.String(), "pat@example.com") {
			t.Errorf("GET / without a token on %s = %d, want 401 and no data: %s", ip, rec.Code, rec.Body)
		}
	}
}

func TestStatusPage_ShowsDirectoryDataAsText(t *testing.T) {
	const evil = `<script>alert("x")</script><img src=x onerror=alert(1)>`
	path := snapshotWith(t, 2, evil)
	st := Status{Targets: []TargetStatus{{Name: "default", Run: 2, Finished: time.Now(),
		Skipped: []dsync.Skip{{DN: `uid=<b>x</b>,ou=people`, Reason: `mail "<script>alert(2)</script>" is not an email`}}}}}
	page := NewPage(PageOptions{Targets: []PageTarget{{Name: "default", QuarantineAfter: 5, Source: SnapshotFile(path)}}})
	resp, body := fetch(t, pageListener(t, page, st)+"/", "")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET / = %d: %s", resp.StatusCode, body)
	}
	if strings.Contains(strings.ToLower(body), "<script") || strings.Contains(body, "<img") || strings.Contains(body, "<b>") {
		t.Errorf("the page holds markup from the directory:\n%s", body)
	}
	for _, want := range []string{
		`&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;&lt;img src=x onerror=alert(1)&gt;`,
		`uid=&lt;b&gt;x&lt;/b&gt;,ou=people`,
		`mail &#34;&lt;script&gt;alert(2)&lt;/script&gt;&#34; is not an email`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("the page does not show %q as text", want)
		}
	}
}

func TestStatusPage_ShowsRunsChartsChangesQuarantineSkipsAndTheService(t *testing.T) {
	const runs = 7
	path := snapshotWith(t, runs, "Pat Doe")
	now := time.Now()
	st := Status{
		Started: now.Add(-time.Hour), LastOutcome: dsync.OutcomeSuccess, Watch: "syncrepl",
		NextRun: now.Add(10 * time.Minute),
		Targets: []TargetStatus{{Name: "default", Run: runs, Finished: now,
			Skipped: []dsync.Skip{{DN: "uid=nomail,ou=people,dc=example,dc=com", ID: "id-nomail", Reason: "no mail attribute"}}}},
	}
	page := NewPage(PageOptions{Refresh: 15 * time.Second, Targets: []PageTarget{{Name: "default", QuarantineAfter: 5, Source: SnapshotFile(path)}}})
	_, body := fetch(t, pageListener(t, page, st)+"/", "")

	if !strings.Contains(body, `<meta http-equiv="refresh" content="15">`) {
		t.Errorf("the page does not refresh itself every 15s")
	}
	runRows := section(t, body, `<table class="runs">`, `</table>`)
	if got := strings.Count(runRows, "<tr>") - 1; got != runs {
		t.Errorf("%d runs listed, want %d", got, runs)
	}
	if !strings.Contains(runRows, "<td>7s</td>") || !strings.Contains(runRows, "<td>create=6</td>") {
		t.Errorf("the last run's duration (7s) or counts (create=6) are not listed:\n%s", runRows)
	}
	for _, name := range []string{"duration", "changes"} {
		svg := section(t, body, fmt.Sprintf(`data-chart="%s"`, name), `</svg>`)
		if got := strings.Count(svg, `<circle class="point"`); got != runs {
			t.Errorf("%s chart: %d points, want one per run (%d)", name, got, runs)
		}
	}
	// The changes chart rises from 0 (run 1) to its top (run 7, 6 creates).
	ys := regexp.MustCompile(`<circle class="point" cx="[0-9.]+" cy="([0-9.]+)"`).FindAllStringSubmatch(section(t, body, `data-chart="changes"`, `</svg>`), -1)
	if len(ys) != runs || ys[0][1] != fmt.Sprint(chartHeight-chartBottom)+".0" || ys[runs-1][1] != fmt.Sprint(chartTop)+".0" {
		t.Errorf("changes chart points %v: want the first on the axis (y %d), the last at the top (y %d)", ys, chartHeight-chartBottom, chartTop)
	}
	unsettled := section(t, body, `<table class="unsettled">`, `</table>`)
	for _, want := range []string{"pat", "create (pending)", "fay", "HTTP 500 from the platform"} {
		if !strings.Contains(unsettled, want) {
			t.Errorf("pending and failed changes lack %q:\n%s", want, unsettled)
		}
	}
	quarantined := section(t, body, `<table class="quarantined">`, `</table>`)
	if !strings.Contains(quarantined, "quinn") || strings.Contains(unsettled, "quinn") || strings.Contains(quarantined, "fay") {
		t.Errorf("quinn (5 failed creates) should be quarantined, and only there:\nquarantined %s\nunsettled %s", quarantined, unsettled)
	}
	skipped := section(t, body, `<table class="skipped">`, `</table>`)
	if !strings.Contains(skipped, "uid=nomail,ou=people,dc=example,dc=com") || !strings.Contains(skipped, "no mail attribute") {
		t.Errorf("the skipped entry and its reason are not shown:\n%s", skipped)
	}
	for id, want := range map[string]string{
		"watch":    "following the directory&#39;s changes (ldap.watch: syncrepl)",
		"leader":   "not elected",
		"next-run": pageTime(st.NextRun),
		"ready":    "ok: last run success",
	} {
		if !strings.Contains(section(t, body, `id="`+id+`"`, `</td>`), want) {
			t.Errorf("%s: want %q in %s", id, want, section(t, body, `id="`+id+`"`, `</td>`))
		}
	}
}

func TestStatusPage_ShowsTheLeaderRoleFromTheStatus(t *testing.T) {
	page := NewPage(PageOptions{Targets: []PageTarget{{Name: "default", Source: SnapshotFile(filepath.Join(t.TempDir(), "none.db"))}}})
	for role, want := range map[Role]string{
		RoleUnknown: "not elected",
		RoleLeader:  "leader",
		RoleStandby: "standby (the leader is host-a)",
	} {
		_, body := fetch(t, pageListener(t, page, Status{Leader: role, LeaderID: "host-a"})+"/", "")
		if got := section(t, body, `id="leader"`, `</td>`); !strings.Contains(got, want) {
			t.Errorf("role %q: %s, want %q", role, got, want)
		}
		if !strings.Contains(body, "No runs yet.") {
			t.Errorf("a snapshot not written yet should show no runs")
		}
	}
}

func TestLoopbackHost(t *testing.T) {
	for host, want := range map[string]bool{
		"127.0.0.1": true, "127.1.2.3": true, "::1": true, "localhost": true, "LocalHost": true,
		"0.0.0.0": false, "::": false, "": false, "10.0.0.1": false, "example.com": false,
	} {
		if got := LoopbackHost(host); got != want {
			t.Errorf("LoopbackHost(%q) = %t, want %t", host, got, want)
		}
	}
}

func TestStatusPage_ShowsEveryTargetAndATargetThatCannotBeReadAlone(t *testing.T) {
	notAFile := t.TempDir() // a directory: the snapshot cannot be opened
	page := NewPage(PageOptions{Targets: []PageTarget{
		{Name: "helpdesk", Source: SnapshotFile(snapshotWith(t, 2, "Ada"))},
		{Name: "crm", Source: SnapshotFile(notAFile)},
	}})
	resp, body := fetch(t, pageListener(t, page, Status{})+"/", "")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET / = %d: %s", resp.StatusCode, body)
	}
	helpdesk := section(t, body, `data-target="helpdesk"`, `</section>`)
	if got := strings.Count(section(t, helpdesk, `data-chart="duration"`, `</svg>`), `<circle class="point"`); got != 2 {
		t.Errorf("helpdesk: %d points, want 2", got)
	}
	crm := section(t, body, `data-target="crm"`, `</section>`)
	if !strings.Contains(crm, "Cannot read this target's snapshot") || !strings.Contains(crm, notAFile) {
		t.Errorf("crm: want the read error naming %s:\n%s", notAFile, crm)
	}
}
