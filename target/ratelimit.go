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
	limitHeaders     = []string{"X-RateLimit-Limit", "X-Rate-Limit-Limit", "RateLimit-Limit", "X-Rate-Limit"}
)

// limitInfo is what one answer's headers tell of the platform's quota.
type limitInfo struct {
	remaining    int64
	hasRemaining bool
	reset        time.Time
	hasReset     bool
	limit        int64
	hasLimit     bool
	// exact is set for an epoch reset: the same for every answer of a
	// window (a delta moves with the clock and its rounding).
	exact bool
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
		li.reset, li.exact, li.hasReset = parseReset(v, format, now, hdr.Get("Date"))
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
func parseReset(v, format string, now time.Time, date string) (reset time.Time, exact, ok bool) {
	f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
	if err != nil || f < 0 || math.IsNaN(f) || math.IsInf(f, 0) {
		return time.Time{}, false, false
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
		return time.Time{}, false, false
	}
	if t.Sub(now) > maxReset {
		return time.Time{}, false, false
	}
	return t, format != ResetDelta, true
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
// window resets. Requests are numbered as they are sent; an answer to
// request number n saying that r requests remain leaves r minus the requests
// sent after n to the ones sent from then on — but for those the platform
// counted before n (their answers told more than r remained: requests sent
// together reach the platform in any order). Of the answers of a window, the
// one leaving the least wins. When none remain, requests wait for the reset.
//
// A platform that tells only when it resets, on its 429s, still tells
// enough to learn its quota: once two throttled answers gave the resets of
// two successive windows (the window's length), the requests the platform
// admitted in a whole window that ended throttled are its quota per window,
// and from then on each window starts with that quota, spent before any 429.
// Every learnedProbe windows that spent it all without a 429, the quota
// grows by one, so that a platform raising its limit is followed. Until the
// window's length is known, the window after a throttled one spends what the
// platform admitted in that one, then probes: one request at a time, until
// the platform answers 429 (telling the second reset) or admits twice as
// many (it was no quota).
type quota struct {
	cfg RateLimitHeaders

	mu       gosync.Mutex
	sent     uint64 // requests numbered so far
	inFlight int64  // requests taken and not yet answered
	known    bool
	left     int64        // requests the client may still send before resetAt
	seen     []seenAnswer // the last answers of the window, for left
	resetAt  time.Time
	header   string // where resetAt came from
	// limit is the platform's quota per window, when an answer told it (or
	// learned, when learned), and window the length of a window, when
	// answers told two successive resets: at a reset the client spends limit
	// requests until an answer of the new window tells more.
	limit   int64
	learned bool
	window  time.Duration
	// gen counts the windows the client saw reset; admitted counts the
	// answers other than 429 to requests sent in window gen, and throttled
	// whether one was answered 429. genStart is the reset gen started at
	// (zero: not at a reset). calm counts windows that spent a learned
	// quota without a 429.
	gen       uint64
	genStart  time.Time
	admitted  int64
	throttled bool
	calm      int
	// probing is set while the quota is probed (see above): probe is set
	// while a probe is in flight, probeEnd is the admitted count that ends
	// the probing, and changed is closed when a probe is answered.
	probing  bool
	probe    bool
	probeEnd int64
	changed  chan struct{}
}

// seenAnswer is an answer to request number n telling that r remain.
type seenAnswer struct{ n, r int64 }

// maxSeen bounds the answers of a window the quota keeps: the recent ones
// tell the most.
const maxSeen = 64

// leftLocked computes the requests left from the answers seen: the least of
// what each leaves (see quota).
func (q *quota) leftLocked() int64 {
	left := int64(math.MaxInt64)
	for i, a := range q.seen {
		v := a.r - (int64(q.sent) - a.n)
		for j, b := range q.seen {
			if j != i && b.n > a.n && b.r > a.r {
				v++ // sent after n, but counted before it
			}
		}
		left = min(left, v)
	}
	return left
}

// learnedProbe is how many windows spend a learned quota without a 429
// before the quota grows by one.
const learnedProbe = 10

func newQuota(cfg RateLimitHeaders) *quota {
	return &quota{cfg: cfg, changed: make(chan struct{})}
}

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

// ticket is a request taken from the quota: its number and window.
type ticket struct {
	n, gen uint64
	probe  bool
}

// take waits until the quota allows one more request and returns its
// ticket. It waits at most maxWait for a reset; longer fails at once.
func (q *quota) take(ctx context.Context, now func() time.Time, sleep func(context.Context, time.Duration) error, maxWait time.Duration) (ticket, error) {
	for {
		q.mu.Lock()
		t := now()
		q.expireLocked(t)
		if q.known && q.left <= 0 && q.probing {
			if !q.probe {
				q.probe = true
				q.sent++
				q.inFlight++
				tk := ticket{n: q.sent, gen: q.gen, probe: true}
				q.mu.Unlock()
				return tk, nil
			}
			ch := q.changed
			q.mu.Unlock()
			select {
			case <-ch:
			case <-ctx.Done():
				return ticket{}, ctx.Err()
			}
			continue
		}
		if q.known && q.left <= 0 {
			wait := q.resetAt.Sub(t) + quotaMargin
			header := q.header
			q.mu.Unlock()
			if wait > maxWait {
				return ticket{}, &errQuotaWait{wait: wait, header: header, max: maxWait}
			}
			if err := sleep(ctx, wait); err != nil {
				return ticket{}, err
			}
			continue
		}
		q.left--
		q.sent++
		q.inFlight++
		tk := ticket{n: q.sent, gen: q.gen}
		q.mu.Unlock()
		return tk, nil
	}
}

// expireLocked starts a new window when the current one has reset: with the
// quota per window when the platform told it or it was learned and the
// window's length is known (until an answer of the new window tells more),
// else with no quota known.
func (q *quota) expireLocked(t time.Time) {
	if !q.known || t.Before(q.resetAt.Add(quotaMargin)) {
		return
	}
	whole := !q.genStart.IsZero() && q.window > 0 && q.resetAt.Sub(q.genStart) < q.window*3/2
	if whole && q.limit <= 0 || q.learned {
		switch {
		case whole && q.throttled && q.admitted > 0:
			q.limit, q.learned, q.calm = q.admitted, true, 0
		case whole && !q.throttled && q.left <= 0:
			if q.calm++; q.calm >= learnedProbe {
				q.limit, q.calm = q.limit+1, 0
			}
		}
	}
	w := q.window
	if q.limit <= 0 || w <= 0 {
		q.genStart = q.resetAt
		q.known = false
		if ended := q.admitted; q.throttled && q.limit <= 0 {
			// A throttled window, its length unknown: spend what it
			// admitted, then probe.
			q.known, q.probing, q.probeEnd = true, true, 2*ended+1
			q.left = ended
			q.resetAt = q.resetAt.Add(maxReset)
		}
		q.gen++
		q.admitted, q.throttled = 0, false
		return
	}
	q.gen++
	q.admitted, q.throttled = 0, false
	next := q.resetAt.Add(w * (t.Sub(q.resetAt)/w + 1))
	q.genStart = next.Add(-w)
	// The requests in flight may reach the platform in the new window.
	q.resetAt, q.left = next, q.limit-q.inFlight
	q.seen = append(q.seen[:0], seenAnswer{n: int64(q.sent), r: q.left})
}

// observe heeds the rate-limit fields of the answer to the request of tk. On
// a throttled answer, a reset without a remaining count means none remain.
// It returns the time the platform resets, when the answer told one.
func (q *quota) observe(tk ticket, hdr http.Header, throttled bool, now time.Time) (resetAt time.Time, ok bool) {
	li := q.cfg.parse(hdr, now)
	q.mu.Lock()
	defer q.mu.Unlock()
	q.inFlight--
	if tk.gen == q.gen && hdr != nil {
		if throttled {
			q.throttled = true
		} else {
			q.admitted++
		}
	}
	if tk.probe {
		// Whether or not the probing still goes on: the requests waiting
		// for this probe go on.
		q.probe = false
		close(q.changed)
		q.changed = make(chan struct{})
	}
	if q.probing {
		switch {
		case throttled && li.hasReset:
			// The second reset: the window's length is known.
			q.probing, q.known, q.resetAt = false, false, q.genStart
		case q.admitted >= q.probeEnd:
			q.probing, q.known, q.resetAt = false, false, q.genStart
			close(q.changed)
			q.changed = make(chan struct{})
			return time.Time{}, false
		}
	}
	if throttled && li.hasReset {
		li.remaining, li.hasRemaining = 0, true
	}
	if !li.hasReset || !li.reset.After(now) {
		return time.Time{}, false
	}
	if li.hasLimit && li.limit > 0 {
		q.limit, q.learned = li.limit, false
	}
	if !li.hasRemaining {
		return li.reset, true
	}
	a := seenAnswer{n: int64(tk.n), r: li.remaining}
	left := li.remaining - int64(q.sent-tk.n)
	last := q.resetAt
	if !q.genStart.IsZero() && q.genStart.After(last) {
		last = q.genStart
	}
	if d := li.reset.Sub(last); li.exact && !last.IsZero() && d >= time.Second/2 && (q.window == 0 || d < q.window) {
		// Epoch resets of two windows: one window apart, or more. (A delta
		// reset moves with the clock and its rounding: it tells no window.)
		q.window = d
	}
	switch {
	case !q.known || !now.Before(q.resetAt) || li.exact && li.reset.Sub(q.resetAt) >= time.Second/2:
		// A later window: the fresh count replaces the old one. (A delta
		// reset moves with the clock and its rounding; it is a later
		// window only once the earlier reset has passed.)
		q.known, q.left, q.resetAt, q.header = true, left, li.reset, li.header
		q.seen = append(q.seen[:0], a)
	default:
		if len(q.seen) == maxSeen {
			q.seen = append(q.seen[:0], q.seen[1:]...)
		}
		q.seen = append(q.seen, a)
		q.left = q.leftLocked()
		// A delta reset is rounded up: the earliest is the closest.
		q.resetAt = minTime(q.resetAt, li.reset)
	}
	return li.reset, true
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

// refused reports whether a 403 answer is the platform refusing a request
// over its quota: none remain, and it tells when that resets (GitHub answers
// its primary rate limit so).
func (q *quota) refused(status int, hdr http.Header, now time.Time) bool {
	if status != http.StatusForbidden {
		return false
	}
	li := q.cfg.parse(hdr, now)
	return li.hasRemaining && li.remaining == 0 && li.hasReset && li.reset.After(now)
}
