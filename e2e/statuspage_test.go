package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/dirsync/dirsync/internal/slapdtest"
)

// chromiumPath is where Debian's chromium package puts the browser
// (scripts/install-test-deps.sh installs it).
const chromiumPath = "/usr/bin/chromium"

// artifactsEnv names a directory the browser tests save their screenshots
// in; without it they go to the test's temporary directory.
const artifactsEnv = "DIRSYNC_TEST_ARTIFACTS"

// newBrowser starts a headless Chromium, private to the test (driven over a
// pipe: it opens no port; the pages it opens are on 127.0.0.1), and returns
// a context of its first tab. Without Chromium the test is skipped, or
// fails under CI=true.
func newBrowser(t *testing.T) context.Context {
	t.Helper()
	if _, err := os.Stat(chromiumPath); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("chromium: %v (run scripts/install-test-deps.sh)", err)
		}
		t.Skipf("chromium: %v (run scripts/install-test-deps.sh)", err)
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromiumPath),
		chromedp.Headless,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.WindowSize(1280, 1000),
	)
	if os.Geteuid() == 0 {
		opts = append(opts, chromedp.NoSandbox) // Chromium refuses to sandbox as root
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	tab, cancelTab := chromedp.NewContext(actx)
	t.Cleanup(func() {
		cancelTab()
		cancelAlloc()
	})
	if err := chromedp.Do(tab); err != nil { // starts the browser
		t.Fatalf("start chromium: %v", err)
	}
	// Bounds a test that hangs; a passing test is done long before. (Set
	// after the start: a timeout on the first run would bound the browser.)
	ctx, cancelTimeout := context.WithTimeout(tab, 2*time.Minute)
	t.Cleanup(cancelTimeout)
	return ctx
}

// setHeaders makes the browser send h with every request.
func setHeaders(h network.Headers) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		if _, err := cdp.Call(ctx, t, network.Enable, network.EnableParams{}); err != nil {
			return err
		}
		_, err := cdp.Call(ctx, t, network.SetExtraHTTPHeaders, network.SetExtraHTTPHeadersParams{Headers: h})
		return err
	})
}

// run runs a reading action, failing the test on an error.
func run[T any](t *testing.T, ctx context.Context, what string, a chromedp.Action[T]) T {
	t.Helper()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	return v
}

// open navigates the browser to url and returns the HTTP status of the page.
func open(t *testing.T, ctx context.Context, url string) int64 {
	t.Helper()
	resp, err := chromedp.RunResponse(ctx, chromedp.Navigate(url))
	if err != nil {
		t.Fatalf("open %s: %v", url, err)
	}
	return resp.Status
}

// TestStatusPage_InChromiumShowsARealRunChartsEachRunAndRequiresItsToken
// runs real syncs (slapd, the fake platform, the binary), then opens the
// status page of `dirsync run` in a headless Chromium.
func TestStatusPage_InChromiumShowsARealRunChartsEachRunAndRequiresItsToken(t *testing.T) {
	browser := newBrowser(t)
	e := newEnv(t)
	// A user whose last 3 changes failed is quarantined.
	e.environ = []string{"DIRSYNC_SYNC_QUARANTINE_AFTER=3"}
	e.addUser("alice", false)
	e.addUser("bob", false)
	// Directory data is shown as text: a display name that is markup stays
	// text. The platform refuses this user: the page lists him.
	const evil = `<script>document.title="pwned"</script><img src=x onerror="document.title='pwned'">`
	e.ldap.AddUser(t, e.ou, slapdtest.UserSpec{UID: "mallory", Mail: "mallory@example.com", GivenName: "Mal", SN: "Lory", DisplayName: evil})
	e.plat.FailUser("mallory", http.StatusBadRequest)
	// Two entries sharing a mail are skipped.
	dup := e.ldap.AddUser(t, e.ou, slapdtest.UserSpec{UID: "dan", Mail: "shared@example.com"})
	e.ldap.AddUser(t, e.ou, slapdtest.UserSpec{UID: "daniel", Mail: "shared@example.com"})
	e.mustRun(1, "sync") // partial: mallory failed

	e.addUser("carol", false)
	e.addUser("frank", false)
	e.plat.FailUser("frank", http.StatusBadRequest)
	e.mustRun(1, "sync") // partial: mallory and frank failed

	const pageToken = "page-token-0123456789"
	e.cfg.extra = "listen: 127.0.0.1:0\nschedule: \"@every 1h\"\nstatus_page: true\nstatus_page_token: " + pageToken + "\n"
	e.writeConfig()
	s := e.startServiceEnv(e.environ)
	s.waitLine("run finished") // the start-up run, the third: mallory is quarantined
	base := "http://" + s.addr + "/"

	// The snapshot holds the runs the page must chart, one point each.
	var status struct {
		Runs []struct {
			ID       int64     `json:"id"`
			Finished time.Time `json:"finished"`
		} `json:"runs"`
	}
	if err := json.Unmarshal([]byte(e.mustRun(0, "status", "--runs", "100", "-o", "json").stdout), &status); err != nil {
		t.Fatal(err)
	}
	if len(status.Runs) != 3 {
		t.Fatalf("%d runs recorded, want 3 (two syncs and the service's first run)", len(status.Runs))
	}

	// Without the token, or with a wrong one, nothing is shown.
	for _, url := range []string{base, base + "?token=wrong", base + "?token=" + pageToken[:10]} {
		if code := open(t, browser, url); code != http.StatusUnauthorized {
			t.Errorf("GET %s = %d, want 401", url, code)
		}
		text := run(t, browser, "the refusal's text", chromedp.Text(chromedp.CSS("body")))
		if strings.Contains(text, "alice") || !strings.Contains(text, "401 unauthorized") {
			t.Errorf("GET %s shows %q, want only the refusal", url, text)
		}
	}

	// With it as a bearer header.
	if err := chromedp.Do(browser, setHeaders(network.Headers{"Authorization": "Bearer " + pageToken})); err != nil {
		t.Fatal(err)
	}
	if code := open(t, browser, base); code != http.StatusOK {
		t.Fatalf("GET / with the bearer token = %d, want 200", code)
	}
	if err := chromedp.Do(browser, setHeaders(network.Headers{})); err != nil {
		t.Fatal(err)
	}

	// With it in the query: the page as an operator bookmarks it.
	if code := open(t, browser, base+"?token="+pageToken); code != http.StatusOK {
		t.Fatalf("GET /?token= = %d, want 200", code)
	}
	if err := chromedp.Do(browser, chromedp.WaitVisible(chromedp.CSS(`svg[data-chart="duration"]`))); err != nil {
		t.Fatalf("the duration chart: %v", err)
	}
	count := func(sel string) int {
		return run(t, browser, sel, chromedp.Evaluate[int](fmt.Sprintf("document.querySelectorAll(%q).length", sel)))
	}
	text := func(sel string) string { return run(t, browser, sel, chromedp.Text(chromedp.CSS(sel))) }
	title := run(t, browser, "title", chromedp.Title())
	durationPoints := count(`svg[data-chart="duration"] circle.point`)
	changesPoints := count(`svg[data-chart="changes"] circle.point`)
	scripts, images := count("script"), count("img")
	runsTable, unsettled, quarantined, skipped := text("table.runs"), text("table.unsettled"), text("table.quarantined"), text("table.skipped")
	leader, watch := text("#leader"), text("#watch")
	saveScreenshot(t, browser, "status-page.png")

	if title != "dirsync status" {
		t.Errorf("title %q: markup from the directory ran", title)
	}
	if durationPoints != len(status.Runs) || changesPoints != len(status.Runs) {
		t.Errorf("charts: %d duration points, %d change points; want one per run (%d)", durationPoints, changesPoints, len(status.Runs))
	}
	if scripts != 0 || images != 0 {
		t.Errorf("the page holds %d scripts and %d images: the directory's markup was not escaped", scripts, images)
	}
	for _, id := range []string{fmt.Sprint(status.Runs[0].ID), fmt.Sprint(status.Runs[2].ID)} {
		if !strings.Contains(runsTable, id) {
			t.Errorf("run %s not listed:\n%s", id, runsTable)
		}
	}
	for what, want := range map[string][]string{
		"runs":        {"partial", "create=2 failed=1", "create=1 failed=2"},
		"unsettled":   {"frank", "frank@example.com", "400"},
		"quarantined": {"mallory", evil, "400"},
		"skipped":     {dup, "shared@example.com"},
		"leader":      {"not elected"},
		"watch":       {"off"},
	} {
		got := map[string]string{"runs": runsTable, "unsettled": unsettled, "quarantined": quarantined,
			"skipped": skipped, "leader": leader, "watch": watch}[what]
		for _, w := range want {
			if !strings.Contains(got, w) {
				t.Errorf("%s: want %q in:\n%s", what, w, got)
			}
		}
	}
}

// saveScreenshot saves a full-page PNG of the browser's tab as name, in
// $DIRSYNC_TEST_ARTIFACTS or the test's temporary directory.
func saveScreenshot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	dir := os.Getenv(artifactsEnv)
	if dir == "" {
		dir = t.TempDir()
	} else if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	png := run(t, ctx, "screenshot", chromedp.FullScreenshot(100))
	if len(png) < 8 || string(png[1:4]) != "PNG" {
		t.Fatal(errors.New("screenshot: not a PNG"))
	}
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s", path)
}
