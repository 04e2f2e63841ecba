package target

import (
	"context"
	"math"
	gosync "sync"
	"time"

	"golang.org/x/time/rate"
)

// The adaptive rate's constants.
const (
	// paceDecrease multiplies the rate on throttling (multiplicative decrease).
	paceDecrease = 0.8
	// paceIncrease is the share of the rate before the last decrease regained
	// per second of successful answers (additive increase).
	paceIncrease = 0.15
	// paceFloor is the lowest adaptive rate, requests per second (or
	// target.rate_limit when that is lower).
	paceFloor = 0.5
	// paceCutInterval is the least time between two decreases: a gateway
	// that answers 429 at once tells of the same overload again and again
	// until its bucket refills.
	paceCutInterval = 25 * time.Millisecond
	// paceBurstShare is the share of a second's requests the limiter sends at
	// once after an idle spell: a twentieth of a second's worth, so that a
	// resumed run does not overflow a gateway's token bucket at once.
	paceBurstShare = 1.0 / 20
)

// pace is the client-side rate limit (target.rate_limit), adapted to the
// platform's throttling by additive increase, multiplicative decrease (AIMD)
// on the rate — the quantity a platform's "N requests per second" limits:
//
//   - a throttled answer (429, or a 503 with Retry-After) to a request sent
//     after the last decrease cuts the rate to paceDecrease × the rate sent
//     at (the lower of the limit and the rate measured over the last second,
//     but at most halving the limit), once per round trip and at most every
//     paceCutInterval: answers to requests sent before a decrease do not
//     decrease it again. The cut is never below paceDecrease × the rate the
//     platform answered without throttling over the last second: a gateway
//     that is still paying off an overload answers 429 to the first requests
//     after a cut, which says nothing about the rate it allows;
//   - every other answer raises it by paceIncrease × (the limit before the
//     last decrease) ÷ rate, so it regains paceIncrease of that limit per
//     second of answers, never above target.rate_limit.
//
// A nil *pace is no limit: target.rate_limit 0 turns the client-side limit
// off, the adaptive one included (the concurrency window still adapts).
type pace struct {
	lim *rate.Limiter
	now func() time.Time

	mu      gosync.Mutex
	ceiling float64 // target.rate_limit
	floor   float64
	rate    float64 // the limit now
	peak    float64 // the limit just before the last decrease
	lastCut time.Time
	sends   meter // requests sent
	served  meter // answers other than throttling
	cuts    int
	lowest  float64
}

func newPace(ceiling float64, now func() time.Time) *pace {
	if ceiling <= 0 {
		return nil
	}
	p := &pace{
		lim:     rate.NewLimiter(rate.Limit(ceiling), paceBurst(ceiling)),
		now:     now,
		ceiling: ceiling,
		floor:   min(paceFloor, ceiling),
		rate:    ceiling,
		peak:    ceiling,
		lowest:  ceiling,
	}
	return p
}

func paceBurst(r float64) int { return max(1, int(math.Ceil(r*paceBurstShare))) }

// wait waits for the limiter and returns the time the request is sent at.
func (p *pace) wait(ctx context.Context) (time.Time, error) {
	if p == nil {
		return time.Now(), ctx.Err()
	}
	if err := p.lim.Wait(ctx); err != nil {
		return time.Time{}, err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	t := p.now()
	p.sends.add(t)
	return t, nil
}

// throttled adapts the rate to a throttled answer to a request sent at sent.
// It reports whether the rate was cut, and the rate now.
func (p *pace) throttled(sent time.Time) (cut bool, now float64) {
	if p == nil {
		return false, 0
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	t := p.now()
	if !sent.After(p.lastCut) || t.Sub(p.lastCut) < paceCutInterval {
		return false, p.rate
	}
	// Cut to paceDecrease × the rate sent at, when that is measured and
	// lower than the limit (the limit was not binding); but never by more
	// than half the limit in one cut (the measure may span a spell of
	// idling, such as requests waiting out Retry-After), nor below
	// paceDecrease × the rate the platform just served.
	next := p.rate * paceDecrease
	if m, ok := p.sends.rate(t); ok && m < p.rate {
		next = max(m*paceDecrease, p.rate/2)
	}
	if m, ok := p.served.rate(t); ok {
		next = max(next, m*paceDecrease)
	}
	p.peak = p.rate
	p.rate = max(p.floor, min(next, p.rate))
	p.lowest = min(p.lowest, p.rate)
	p.lastCut = t
	p.cuts++
	p.applyLocked(t)
	return true, p.rate
}

// answered adapts the rate to an answer that was not throttled. It reports
// whether the rate is back at target.rate_limit with this answer.
func (p *pace) answered() (recovered bool) {
	if p == nil {
		return false
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	t := p.now()
	p.served.add(t)
	if p.rate >= p.ceiling {
		return false
	}
	step := max(paceIncrease*p.peak, paceFloor) / p.rate
	p.rate = min(p.ceiling, p.rate+step)
	p.applyLocked(t)
	return p.rate >= p.ceiling
}

func (p *pace) applyLocked(t time.Time) {
	p.lim.SetLimitAt(t, rate.Limit(p.rate))
	p.lim.SetBurstAt(t, paceBurst(p.rate))
}

// current returns the limit now, requests per second; 0: no limit.
func (p *pace) current() float64 {
	if p == nil {
		return 0
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.rate
}

// stats returns the decreases so far and the lowest rate reached.
func (p *pace) stats() (cuts int, lowest float64) {
	if p == nil {
		return 0, 0
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.cuts, p.lowest
}

// meterSlot is the resolution of a rate meter; it remembers meterSlots of
// them (one second), and measures nothing before meterMinAge.
const (
	meterSlot   = 100 * time.Millisecond
	meterSlots  = 10
	meterMinAge = 250 * time.Millisecond
)

// meter counts events (requests sent, answers) over the last second.
type meter struct {
	start time.Time // of the first event
	count [meterSlots]int
	slot  [meterSlots]int64 // the slot number each count is for
}

func (m *meter) index(t time.Time) int64 { return int64(t.Sub(m.start) / meterSlot) }

func (m *meter) add(t time.Time) {
	if m.start.IsZero() {
		m.start = t
	}
	i := m.index(t)
	k := i % meterSlots
	if m.slot[k] != i {
		m.slot[k], m.count[k] = i, 0
	}
	m.count[k]++
}

// rate returns the events per second over the last second (or since the
// first event, when that is shorter); ok is false until meterMinAge after the
// first event (too little to measure).
func (m *meter) rate(t time.Time) (r float64, ok bool) {
	age := t.Sub(m.start)
	if m.start.IsZero() || age < meterMinAge {
		return 0, false
	}
	i := m.index(t)
	n := 0
	for k := range meterSlots {
		if m.slot[k] > i-meterSlots && m.slot[k] <= i {
			n += m.count[k]
		}
	}
	// The last meterSlots-1 whole slots and the current one so far.
	span := min(age, time.Duration(meterSlots-1)*meterSlot+(age-time.Duration(i)*meterSlot))
	return float64(n) / span.Seconds(), true
}
