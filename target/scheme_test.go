package target_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/dirsync/dirsync/target"
)

func TestHTTPClient_HTTPSToAPlainHTTPServerFailsAtOnceSayingSo(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t.Errorf("the plain HTTP server got a request: %s %s", r.Method, r.URL)
	}))
	t.Cleanup(srv.Close)
	cfg := target.Default()
	cfg.URL = "https://" + strings.TrimPrefix(srv.URL, "http://") + "/scim/v2"
	cfg.Token = "T0KEN"
	cfg.RateLimit = 0
	clk := newFakeClock()
	c, err := target.NewHTTPClient(cfg, target.Bearer(cfg.Token), target.WithClock(clk.Now, clk.Sleep))
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Do(context.Background(), target.Request{Op: "scim check", Method: "GET", Path: "ServiceProviderConfig"})
	var he *target.HTTPError
	if !errors.As(err, &he) {
		t.Fatalf("err = %v, want an *HTTPError", err)
	}
	if he.Attempts != 1 || len(clk.Slept()) != 0 || he.Temporary() {
		t.Errorf("%d attempts, waits %v, temporary %v: want one attempt, not retried", he.Attempts, clk.Slept(), he.Temporary())
	}
	for _, want := range []string{"plain HTTP", "target.url", "HTTPS port"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not contain %q", err, want)
		}
	}
}
