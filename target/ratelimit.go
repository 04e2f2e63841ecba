package target

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	gosync "sync"
	"time"
)

// Formats of a rate-limit reset header (target.rate_limit_headers.reset_format).
const (
	// ResetAuto reads a value of 10^12 or more as Unix epoch milliseconds, of
	// 10^9 or more as Unix epoch seconds, and a smaller one as seconds from
	// now: no delay in seconds is that long (10^9 s is 31 years), and no
	// epoch time that short.
	ResetAuto    = "auto"
	ResetEpoch   = "epoch"    // Unix time, seconds (GitHub, Okta, Twitter)
	ResetEpochMS = "epoch_ms" // Unix time, milliseconds
	ResetDelta   = "delta"    // seconds from now (IETF RateLimit-Reset, Discord's X-RateLimit-Reset-After)
)

// RateLimitHeaders says where the platform's answers report its rate limit
// (the target.rate_limit_headers section). The client heeds them besides
// Retry-After:
//
//   - a remaining count with a reset time (on any answer) is the platform's
//     quota for its current window: once the requests sent since that answer
//     have spent it, every request waits for the reset instead of being sent
//     to be refused, so the client slows down before the platform answers 429;
//   - a reset time on a throttled answer without Retry-After is when to send
//     again, and holds every request, not only the throttled one, until then.
//
// By default the usual fields are read: X-RateLimit-Remaining/-Reset/-Limit
// (GitHub, Zendesk, many gateways), X-Rate-Limit-Remaining/-Reset/-Limit
// (Okta, Twitter), RateLimit-Remaining/-Reset/-Limit (IETF drafts up to -06)
// and the IETF RateLimit field ("default";r=50;t=30, draft -08 on; and
// limit=, remaining=, reset=, draft -07).
type RateLimitHeaders struct {
	// Remaining is the header holding the requests left in the current
	// window. Default: the usual ones above.
	Remaining string `mapstructure:"remaining" json:"remaining,omitempty"`
	// Reset is the header holding when the window resets. Default: the usual
	// ones above.
	Reset string `mapstructure:"reset" json:"reset,omitempty"`
	// Limit is the header holding the requests allowed per window; it lets
	// the client spend a new window's quota before the first answer of that
	// window tells it. Default: the usual ones above.
	Limit string `mapstructure:"limit" json:"limit,omitempty"`
	// ResetFormat is how Reset (and the X- headers) tell the time: auto
	// (default), epoch, epoch_ms or delta (seconds from now, fractions
	// allowed). The IETF fields are always delta seconds.
	ResetFormat string `mapstructure:"reset_format" json:"reset_format,omitempty"`
	// Ignore turns the rate-limit headers off: only Retry-After and the
	// adaptive rate (AIMD) slow the client down.
	Ignore bool `mapstructure:"ignore" json:"ignore,omitempty"`
}

// validate reports the section's problems, each named by its key.
func (h RateLimitHeaders) validate() []error {
	switch h.ResetFormat {
	case "", ResetAuto, ResetEpoch, ResetEpochMS, ResetDelta:
		return nil
	}
	return []error{fmt.Errorf("target.rate_limit_headers.reset_format: unknown format %q (want auto, epoch, epoch_ms or delta)", h.ResetFormat)}
}

// The usual names of the rate-limit fields, tried in order.
var (
	remainingHeaders = []string{"X-RateLimit-Remaining", "X-Rate-Limit-Remaining", "RateLimit-Remaining"}
	resetHeaders     = []string{"X-RateLimit-Reset", "X-Rate-Limit-Reset", "RateLimit-Reset"}
	limitHeaders     = []string{"X-RateLimit-Limit", "X-Rate-Limit-Limit", "RateLimit-Limit"}
)

// limitInfo is what one answer's headers tell of the platform's quota.
type limitInfo struct {
	remaining    int64
	hasRemaining bool
	reset        time.Time
	hasReset     bool
	limit        int64
	hasLimit     bool
	// header names the field the reset came from, for messages.
	header string
}

// parse reads the rate-limit fields of an answer received at now.
func (h RateLimitHeaders) parse(hdr http.Header, now time.Time) limitInfo {
	var li limitInfo
	if h.Ignore {
		return li
	}
	first := func(custom string, defaults []string) (string, string) {
		if custom != "" {
			return custom, strings.TrimSpace(hdr.Get(custom))
		}
		for _, name := range defaults {
			if v := strings.TrimSpace(hdr.Get(name)); v != "" {
				return name, v
			}
		}
		return "", ""
	}
	if _, v := first(h.Remaining, remainingHeaders); v != "" {
		li.remaining, li.hasRemaining = parseCount(v)
	}
	if _, v := first(h.Limit, limitHeaders); v != "" {
		li.limit, li.hasLimit = parseCount(v)
	}
	if name, v := first(h.Reset, resetHeaders); v != "" {
		format := h.ResetFormat
		if strings.EqualFold(name, "RateLimit-Reset") && h.Reset == "" {
			format = ResetDelta // the IETF field is delta-seconds
		}
		li.reset, li.hasReset = parseReset(v, format, now, hdr.Get("Date"))
		li.header = name
	}
	if !li.hasRemaining || !li.hasReset {
		if r, t, ok := parseIETF(hdr.Values("RateLimit")); ok {
			li.remaining, li.hasRemaining = r, true
			li.reset, li.hasReset = now.Add(t), true
			li.header = "RateLimit"
		}
	}
	return li
}

// parseCount reads a non-negative count (a few platforms send "12.0").
func parseCount(v string) (int64, bool) {
	f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
	if err != nil || f < 0 || math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, false
	}
	return int64(f), true
}

// maxReset bounds how far ahead a reset is believed: a longer one is a
// misread format (a delta read as epoch, a clock years off).
const maxReset = 48 * time.Hour

// parseReset reads a reset time in format (auto when ""), relative to now.
// An epoch time is corrected by the platform's clock when its Date header
// differs from ours by more than a few seconds.
func parseReset(v, format string, now time.Time, date string) (time.Time, bool) {
	f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
	if err != nil || f < 0 || math.IsNaN(f) || math.IsInf(f, 0) {
		return time.Time{}, false
	}
	if format == "" || format == ResetAuto {
		switch {
		case f >= 1e12:
			format = ResetEpochMS
		case f >= 1e9:
			format = ResetEpoch
		default:
			format = ResetDelta
		}
	}
	var t time.Time
	switch format {
	case ResetDelta:
		t = now.Add(time.Duration(f * float64(time.Second)))
	case ResetEpoch, ResetEpochMS:
		if format == ResetEpochMS {
			f /= 1000
		}
		sec, frac := math.Modf(f)
		t = time.Unix(int64(sec), int64(frac*1e9))
		if d, err := http.ParseTime(date); err == nil {
			if skew := d.Sub(now); skew > 2*time.Second || skew < -2*time.Second {
				t = t.Add(-skew)
			}
		}
	default:
		return time.Time{}, false
	}
	if t.Sub(now) > maxReset {
		return time.Time{}, false
	}
	return t, true
}

// parseIETF reads the IETF RateLimit field: the structured form of
// draft-ietf-httpapi-ratelimit-headers-08 on, a list of quota policies
// ("default";r=50;t=30, where r is the quota left and t the seconds until it
// resets; the lowest r wins), or the dictionary of draft -07
// (limit=100, remaining=50, reset=30).
func parseIETF(values []string) (remaining int64, reset time.Duration, ok bool) {
	dict := map[string]int64{}
	for _, v := range values {
		for member := range strings.SplitSeq(v, ",") {
			params := strings.Split(strings.TrimSpace(member), ";")
			if k, val, isDict := strings.Cut(params[0], "="); isDict && !strings.HasPrefix(strings.TrimSpace(params[0]), `"`) {
				if n, good := parseCount(val); good {
					dict[strings.ToLower(strings.TrimSpace(k))] = n
				}
				continue
			}
			var r, t int64
			var hasR, hasT bool
			for _, p := range params[1:] {
				k, val, _ := strings.Cut(strings.TrimSpace(p), "=")
				switch strings.ToLower(k) {
				case "r":
					r, hasR = parseCount(val)
				case "t":
					t, hasT = parseCount(val)
				}
			}
			if hasR && hasT && (!ok || r < remaining) {
				remaining, reset, ok = r, time.Duration(t)*time.Second, true
			}
		}
	}
	if ok {
		return remaining, reset, true
	}
	r, hasR := dict["remaining"]
	t, hasT := dict["reset"]
	if hasR && hasT {
		return r, time.Duration(t) * time.Second, true
	}
	return 0, 0, false
}

// quotaMargin is how long after a reported reset the held requests go: the
// platform's clock and its rounding of the reset are not ours.
const quotaMargin = 20 * time.Millisecond

// quota is the platform's rate limit as its answers report it: the requests
// the client may still send in the platform's current window, and when that
// window resets. An answer saying that r requests remain leaves r minus the
// requests still in flight (the platform may not have counted them yet) to
// the requests sent from then on; an answer of the same window never raises
// that, since answers overtake one another. When none remain, requests wait
// for the reset.
type quota struct {
	cfg RateLimitHeaders

	mu       gosync.Mutex
	inFlight int64
	known    bool
	left     int64 // requests the client may still send before resetAt
	resetAt  time.Time
	header   string // where resetAt came from
	// limit is the platform's quota per window, when an answer told it, and
	// window the length of a window, when two answers told successive
	// resets: at a reset the client spends limit requests until an answer of
	// the new window tells more.
	limit  int64
	window time.Duration
	held   int64 // requests that waited for a reset
}

func newQuota(cfg RateLimitHeaders) *quota { return &quota{cfg: cfg} }

// errQuotaWait is returned when the quota resets later than the client waits.
type errQuotaWait struct {
	wait   time.Duration
	header string
	max    time.Duration
}

func (e *errQuotaWait) Error() string {
	return fmt.Sprintf("the platform's rate limit is spent for %s more (%s), more than %s; the change is retried on the next run",
		e.wait.Round(time.Second), e.header, e.max)
}

// take waits until the quota allows one more request and counts it in
// flight; the caller calls observe when it is answered (or failed). It waits
// at most maxWait for a reset; longer fails at once.
func (q *quota) take(ctx context.Context, now func() time.Time, sleep func(context.Context, time.Duration) error, maxWait time.Duration) error {
	for {
		q.mu.Lock()
		t := now()
		q.expireLocked(t)
		if q.known && q.left <= 0 {
			wait := q.resetAt.Sub(t) + quotaMargin
			header := q.header
			q.held++
			q.mu.Unlock()
			if wait > maxWait {
				return &errQuotaWait{wait: wait, header: header, max: maxWait}
			}
			if err := sleep(ctx, wait); err != nil {
				return err
			}
			continue
		}
		q.left--
		q.inFlight++
		q.mu.Unlock()
		return nil
	}
}

// expireLocked forgets a quota whose window has reset. When the platform told
// its limit per window, the new window starts with that quota, until an
// answer of it tells more (or one more window passes).
func (q *quota) expireLocked(t time.Time) {
	if !q.known || t.Before(q.resetAt.Add(quotaMargin)) {
		return
	}
	if q.limit <= 0 {
		q.known = false
		return
	}
	w := q.window
	if w <= 0 {
		w = time.Second
	}
	q.resetAt = q.resetAt.Add(w * (t.Sub(q.resetAt)/w + 1))
	q.left = q.limit - q.inFlight
}

// observe ends a request taken from the quota and heeds the rate-limit
// fields of its answer (hdr; nil when there was none). On a throttled answer,
// a reset without a remaining count means none remain. It returns the time
// the platform resets, when the answer told one.
func (q *quota) observe(hdr http.Header, throttled bool, now time.Time) (resetAt time.Time, ok bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.inFlight--
	if hdr == nil {
		return time.Time{}, false
	}
	li := q.cfg.parse(hdr, now)
	if throttled && li.hasReset {
		li.remaining, li.hasRemaining = 0, true
	}
	if !li.hasReset || !li.reset.After(now) {
		return time.Time{}, false
	}
	if li.hasLimit && li.limit > 0 {
		q.limit = li.limit
	}
	if !li.hasRemaining {
		return li.reset, true
	}
	left := li.remaining - q.inFlight
	switch {
	case !q.known:
		q.known, q.left, q.resetAt, q.header = true, left, li.reset, li.header
	case li.reset.Sub(q.resetAt) >= time.Second/2:
		// A later window (or a later estimate of a delta reset): the fresh
		// count replaces the old one.
		if d := li.reset.Sub(q.resetAt); left > q.left && (q.window == 0 || d < q.window) {
			q.window = d
		}
		q.left, q.resetAt, q.header = left, li.reset, li.header
	default:
		q.left = min(q.left, left)
		q.resetAt = maxTime(q.resetAt, li.reset)
	}
	return li.reset, true
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// heldCount returns how many times requests waited for a reset.
func (q *quota) heldCount() int64 {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.held
}
