package fake

import (
	"fmt"
	"math"
	"net/http"
	"strconv"
	gosync "sync"
	"time"
)

// Rate-limit header styles of a RateLimiter (RateLimitOptions.Headers): how a
// platform tells its limit.
const (
	// LimitRetryAfter answers a request over the limit 429 with Retry-After
	// (the seconds until the window resets, rounded up), and tells nothing on
	// other answers.
	LimitRetryAfter = "retry-after"
	// LimitReset answers a request over the limit 429 with X-RateLimit-Reset
	// only: no Retry-After, nothing on other answers.
	LimitReset = "reset"
	// LimitRemaining sends X-RateLimit-Limit, -Remaining and -Reset on every
	// answer (GitHub, Okta, Zendesk); a 429 has no Retry-After.
	LimitRemaining = "remaining"
	// LimitIETF sends the IETF fields of
	// draft-ietf-httpapi-ratelimit-headers-08 on: RateLimit-Policy
	// ("default";q=N;w=W) and RateLimit ("default";r=R;t=T) on every answer.
	LimitIETF = "ietf"
	// LimitIETF06 sends the fields of the drafts up to -06: RateLimit-Limit,
	// RateLimit-Remaining and RateLimit-Reset (delta seconds).
	LimitIETF06 = "ietf-06"
)

// RateLimitOptions configure a RateLimiter.
type RateLimitOptions struct {
	// Limit is the requests admitted per window.
	Limit int
	// Window is the length of a window; windows are fixed, aligned on the
	// Unix epoch (a 1s window resets at every whole second). Default 1s.
	Window time.Duration
	// Headers is the style of the rate-limit fields; default LimitRemaining.
	Headers string
	// Prefix names the X- fields: "X-RateLimit-" (default) or "X-Rate-Limit-"
	// (Okta).
	Prefix string
	// ResetDelta sends the X- reset field as the seconds until the reset
	// (rounded up) instead of the Unix epoch seconds of the reset.
	ResetDelta bool
	// Now tells the time; default time.Now.
	Now func() time.Time
}

// RateLimiter is a platform's API gateway in front of a fake: it admits
// RateLimitOptions.Limit requests per fixed window, answers every other one
// 429 at once, and tells its limit in the response headers of the chosen
// style. Its methods are safe for concurrent use.
type RateLimiter struct {
	next http.Handler
	opts RateLimitOptions

	mu        gosync.Mutex
	window    int64 // the window's number since the epoch
	count     int   // requests that arrived in it
	served    int64
	throttled int64
}

// NewRateLimiter puts a rate limit in front of next.
func NewRateLimiter(next http.Handler, opts RateLimitOptions) *RateLimiter {
	if opts.Window <= 0 {
		opts.Window = time.Second
	}
	if opts.Headers == "" {
		opts.Headers = LimitRemaining
	}
	if opts.Prefix == "" {
		opts.Prefix = "X-RateLimit-"
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &RateLimiter{next: next, opts: opts}
}

// Served returns how many requests were admitted.
func (l *RateLimiter) Served() int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.served
}

// Throttled returns how many requests were answered 429.
func (l *RateLimiter) Throttled() int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.throttled
}

// ServeHTTP admits r or answers 429.
func (l *RateLimiter) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	now := l.opts.Now()
	win := now.UnixNano() / int64(l.opts.Window)
	reset := time.Unix(0, (win+1)*int64(l.opts.Window))
	l.mu.Lock()
	if win > l.window {
		l.window, l.count = win, 0
	}
	l.count++
	admitted := l.count <= l.opts.Limit
	remaining := max(l.opts.Limit-l.count, 0)
	if admitted {
		l.served++
	} else {
		l.throttled++
	}
	l.mu.Unlock()

	h := w.Header()
	untilReset := reset.Sub(now)
	deltaSecs := strconv.FormatInt(int64(math.Ceil(untilReset.Seconds())), 10)
	resetField := strconv.FormatInt(int64(math.Ceil(float64(reset.UnixNano())/1e9)), 10)
	if l.opts.ResetDelta {
		resetField = deltaSecs
	}
	switch l.opts.Headers {
	case LimitRetryAfter:
		if !admitted {
			h.Set("Retry-After", deltaSecs)
		}
	case LimitReset:
		if !admitted {
			h.Set(l.opts.Prefix+"Reset", resetField)
		}
	case LimitRemaining:
		h.Set(l.opts.Prefix+"Limit", strconv.Itoa(l.opts.Limit))
		h.Set(l.opts.Prefix+"Remaining", strconv.Itoa(remaining))
		h.Set(l.opts.Prefix+"Reset", resetField)
	case LimitIETF:
		h.Set("RateLimit-Policy", fmt.Sprintf(`"default";q=%d;w=%d`, l.opts.Limit, int64(math.Ceil(l.opts.Window.Seconds()))))
		h.Set("RateLimit", fmt.Sprintf(`"default";r=%d;t=%s`, remaining, deltaSecs))
	case LimitIETF06:
		h.Set("RateLimit-Limit", strconv.Itoa(l.opts.Limit))
		h.Set("RateLimit-Remaining", strconv.Itoa(remaining))
		h.Set("RateLimit-Reset", deltaSecs)
	}
	if !admitted {
		writeJSONStatus(w, http.StatusTooManyRequests, map[string]any{"status": "429", "detail": "rate limit exceeded (simulated)"})
		return
	}
	l.next.ServeHTTP(w, r)
}
