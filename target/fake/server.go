// Package fake is an in-memory SCIM 2.0 platform served over real HTTP, for
// tests, the bench and the `dirsync demo` command. It implements the User
// endpoints a SCIM client uses (POST/GET/PUT/PATCH/DELETE /Users, filters on
// externalId, userName and emails, startIndex/count paging,
// /ServiceProviderConfig) and SCIM Groups (groups.go: RFC 7644 create, get, list,
// replace, PATCH of members and displayName, delete), lets tests
// inspect and edit its users directly, and injects faults on demand: latency,
// 5xx at a rate, scripted failures such as a 429 burst with Retry-After,
// failures for one userName, connection resets, oversized and malformed
// bodies.
//
// It also plays vendor REST User Management APIs for target/rest, in the
// styles of RESTOptions.Style (rest.go, rest_styles*.go).
//
// Everything random (ids, fault rolls) comes from a generator seeded by
// Options.Seed, so runs are repeatable.
package fake

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"slices"
	"strings"
	gosync "sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/dirsync/dirsync/user"
)

// BasePath is where the fake serves SCIM: Start's URL ends with it.
const BasePath = "/scim/v2"

// Options configure a Server.
type Options struct {
	// Token is the bearer token the fake accepts. "" accepts any request, with or
	// without credentials.
	Token string
	// NoPatch makes /ServiceProviderConfig advertise patch as unsupported and
	// PATCH requests fail with 501 Not Implemented.
	NoPatch bool
	// NoServiceProviderConfig makes /ServiceProviderConfig answer 404.
	NoServiceProviderConfig bool
	// MaxPageSize caps the resources in one page of a list, whatever count asks.
	// 0: no cap.
	MaxPageSize int
	// Seed seeds the ids and the fault rolls.
	Seed uint64
	// Now tells the time for meta timestamps. Default time.Now.
	Now func() time.Time
}

// Request is one request the fake received.
type Request struct {
	Method string
	// Path is relative to BasePath, e.g. "/Users/0b4e…".
	Path  string
	Query string
	// Status is what the fake answered; 0 when the connection was reset.
	Status int
	// At is when the request arrived (Options.Now).
	At time.Time
}

// Server is the fake platform. Its methods are safe for concurrent use.
type Server struct {
	opts Options

	mu    gosync.Mutex
	rng   *rand.Rand
	users map[string]*Resource
	// groups holds the SCIM groups (see groups.go), created on first use;
	// groupOrder their ids in creation order.
	groups     map[string]*group
	groupOrder []string
	names      map[string]int // users by nameKey(userName), for takenLocked
	order      []string       // ids in creation order, for stable listing
	log        []Request

	latency     time.Duration
	errorRate   float64
	failNext    []failure
	failUsers   map[string]int // lower-cased userName → status
	resetNext   int
	padding     int
	corruptNext int
	slowBodies  time.Duration
	throttle    *rate.Limiter // nil: no throttling
	throttled   int
	// refusedFilters holds the lower-cased attributes a filter may not name
	// (see RefuseFilter).
	refusedFilters map[string]bool
	nextIDs        []string // ids for the next resources created (see NextIDs)
	listing        ListFaults
}

// ListFaults are ways a SCIM server's unfiltered listing of /Users goes wrong
// (see SetListFaults). Filtered lookups are not affected.
type ListFaults struct {
	// OmitTotal leaves totalResults out of every page.
	OmitTotal bool
	// IgnoreStartIndex answers every page from the first account, whatever
	// startIndex asks.
	IgnoreStartIndex bool
	// Endless follows the real accounts with made-up ones, a page of new
	// ones at every startIndex: the listing never ends.
	Endless bool
	// StopAfter, when positive, answers empty pages past that many accounts,
	// while totalResults still counts them all.
	StopAfter int
}

// SetListFaults makes the unfiltered listing misbehave as f says.
func (s *Server) SetListFaults(f ListFaults) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.listing = f
}

type failure struct {
	status     int
	retryAfter string
}

// New returns a fake platform with no users.
func New(opts Options) *Server {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Server{
		opts:      opts,
		rng:       rand.New(rand.NewPCG(opts.Seed, opts.Seed^0x9e3779b97f4a7c15)),
		users:     map[string]*Resource{},
		names:     map[string]int{},
		failUsers: map[string]int{},
	}
}

// Start serves the fake on a free port of 127.0.0.1 and returns its SCIM base URL
// (http://127.0.0.1:PORT/scim/v2) and a function that stops it. It panics when
// it cannot listen; Listen returns the error instead.
func (s *Server) Start() (url string, stop func()) {
	url, stop, err := s.Listen()
	if err != nil {
		panic(err)
	}
	return url, stop
}

// Listen is Start returning an error when 127.0.0.1 has no free port.
func (s *Server) Listen() (url string, stop func(), err error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, fmt.Errorf("fake: listen on 127.0.0.1: %w", err)
	}
	// Cancelled on stop, so that handlers waiting out an injected latency end.
	base, cancelBase := context.WithCancel(context.Background())
	srv := &http.Server{
		Handler:           s,
		ReadHeaderTimeout: 10 * time.Second,
		BaseContext:       func(net.Listener) context.Context { return base },
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		srv.Serve(ln) // returns when stopped
	}()
	var once gosync.Once
	return "http://" + ln.Addr().String() + BasePath, func() {
		once.Do(func() {
			// Close, not Shutdown: a client's spare connections that never carried
			// a request would hold Shutdown for seconds. Handlers still running
			// see their request's context cancelled.
			cancelBase()
			srv.Close()
			<-done
		})
	}, nil
}

// StartT is Start for tests: the server stops when t's test ends.
func (s *Server) StartT(t interface{ Cleanup(func()) }) string {
	url, stop := s.Start()
	t.Cleanup(stop)
	return url
}

// ---- inspection and direct edits ----

// Users returns a copy of every user, in creation order.
func (s *Server) Users() []Resource {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Resource, 0, len(s.order))
	for _, id := range s.order {
		out = append(out, s.users[id].clone())
	}
	return out
}

// Accounts returns every user as a user.Account, in creation order.
func (s *Server) Accounts() []user.Account {
	rs := s.Users()
	out := make([]user.Account, len(rs))
	for i, r := range rs {
		out[i] = r.Account()
	}
	return out
}

// Get returns a copy of the user with platform id id.
func (s *Server) Get(id string) (Resource, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.users[id]
	if !ok {
		return Resource{}, false
	}
	return r.clone(), true
}

// FindByUserName returns the user whose userName is name (case-insensitively).
func (s *Server) FindByUserName(name string) (Resource, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, id := range s.order {
		if strings.EqualFold(s.users[id].UserName, name) {
			return s.users[id].clone(), true
		}
	}
	return Resource{}, false
}

// Seed creates users directly, as a SCIM client would have created them from
// us, and returns their ids. It fails, creating none, if a userName is taken.
func (s *Server) Seed(us ...user.User) ([]string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	seen := map[string]bool{}
	for _, u := range us {
		k := strings.ToLower(u.Username)
		if u.Username == "" {
			return nil, errors.New("fake: seed: userName is required")
		}
		if seen[k] || s.takenLocked(u.Username, "") {
			return nil, fmt.Errorf("fake: seed: userName %q is taken", u.Username)
		}
		seen[k] = true
	}
	ids := make([]string, len(us))
	for i, u := range us {
		r := fromUser(u)
		s.insertLocked(&r)
		ids[i] = r.ID
	}
	return ids, nil
}

// Edit changes user id directly, as an administrator would on the platform (for
// drift tests). fn must not change the ID.
func (s *Server) Edit(id string, fn func(*Resource)) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.users[id]
	if !ok {
		return fmt.Errorf("fake: edit: no user %s", id)
	}
	c := r.clone()
	fn(&c)
	c.ID = id
	c.Version = r.Version + 1
	c.LastModified = s.opts.Now()
	s.renameLocked(r.UserName, c.UserName)
	*r = c
	return nil
}

// SetActive activates or deactivates user id directly.
func (s *Server) SetActive(id string, active bool) error {
	return s.Edit(id, func(r *Resource) { r.Active = active })
}

// Remove deletes user id directly.
func (s *Server) Remove(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.deleteLocked(id)
}

// Requests returns the requests received so far, in order.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.log)
}

// Count returns how many requests with method (all methods when "") were received.
func (s *Server) Count(method string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, r := range s.log {
		if method == "" || r.Method == method {
			n++
		}
	}
	return n
}

// Writes returns how many POST, PUT, PATCH and DELETE requests were received,
// failed ones included.
func (s *Server) Writes() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, r := range s.log {
		switch r.Method {
		case http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete:
			n++
		}
	}
	return n
}

// ResetLog forgets the requests received so far.
func (s *Server) ResetLog() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.log = nil
}

// ---- fault knobs ----

// SetLatency delays every answer by d (0: none).
func (s *Server) SetLatency(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.latency = d
}

// SetErrorRate answers that fraction (0..1) of requests with 503, rolled with
// the seeded generator.
func (s *Server) SetErrorRate(p float64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.errorRate = p
}

// FailNext answers the next n requests with status and, when retryAfter is not
// "", a Retry-After header: FailNext(3, 429, "2") is a 429 burst. Calls queue up.
func (s *Server) FailNext(n, status int, retryAfter string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for range n {
		s.failNext = append(s.failNext, failure{status: status, retryAfter: retryAfter})
	}
}

// FailUser answers with status every write that names userName (a POST or PUT
// carrying it, or a PUT/PATCH/DELETE of the user holding it), and every GET of
// that user. Status 0 stops it.
func (s *Server) FailUser(userName string, status int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if status == 0 {
		delete(s.failUsers, strings.ToLower(userName))
		return
	}
	s.failUsers[strings.ToLower(userName)] = status
}

// RefuseFilter makes every list whose filter names attr (externalId,
// userName or emails; case-insensitive, whatever the filter's form) fail with
// 400 and scimType invalidFilter, as SCIM servers answer a filter they do not
// support (RFC 7644 §3.4.2.2, §3.12). Listing without a filter still works.
func (s *Server) RefuseFilter(attr string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.refusedFilters == nil {
		s.refusedFilters = map[string]bool{}
	}
	s.refusedFilters[strings.ToLower(attr)] = true
}

// filterRefusedLocked returns the error for a filter RefuseFilter refuses.
func (s *Server) filterRefusedLocked(f string) *scimError {
	lower := strings.ToLower(strings.TrimSpace(f))
	lower = strings.TrimPrefix(lower, strings.ToLower(SchemaUser)+":")
	for attr := range s.refusedFilters {
		if rest, ok := strings.CutPrefix(lower, attr); ok && (rest == "" || strings.ContainsAny(rest[:1], " .[\t")) {
			return badRequest("invalidFilter", "filtering on %s is not supported", attr)
		}
	}
	return nil
}

// NextIDs gives the next resources created (by a POST or Seed) these ids, in
// order, whatever they are: "..", "", "a/b" are how a broken platform answers.
// Calls queue up.
func (s *Server) NextIDs(ids ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.nextIDs = append(s.nextIDs, ids...)
}

// ResetNext resets the connection of the next n requests without answering.
func (s *Server) ResetNext(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.resetNext += n
}

// SetPadding appends n bytes of white space to every JSON answer (valid JSON
// still, only large): for body-size limits. 0 stops it.
func (s *Server) SetPadding(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.padding = n
}

// SetSlowBodies trickles every JSON answer's body: the status and headers go
// out at once, the body in 10 parts spread over d, as from a platform that
// stalls mid-answer. 0 stops it.
func (s *Server) SetSlowBodies(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.slowBodies = d
}

// SetThrottle makes the platform admit perSecond requests a second (a token
// bucket holding burst requests, like an API gateway) and answer every
// request over that at once with 429 and Retry-After: 1. perSecond 0 stops
// it.
func (s *Server) SetThrottle(perSecond float64, burst int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if perSecond <= 0 {
		s.throttle = nil
		return
	}
	s.throttle = rate.NewLimiter(rate.Limit(perSecond), max(burst, 1))
}

// Throttled returns how many requests SetThrottle's limit refused.
func (s *Server) Throttled() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.throttled
}

// CorruptNext makes the next n successful answers carry malformed JSON.
func (s *Server) CorruptNext(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.corruptNext += n
}

// ---- store ----

func (s *Server) newIDLocked() string {
	var b [16]byte
	for i := 0; i < 16; i += 8 {
		v := s.rng.Uint64()
		for j := range 8 {
			b[i+j] = byte(v >> (8 * j))
		}
	}
	b[6] = b[6]&0x0f | 0x40 // version 4
	b[8] = b[8]&0x3f | 0x80 // RFC 4122 variant
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

func (s *Server) insertLocked(r *Resource) {
	if len(s.nextIDs) > 0 {
		r.ID, s.nextIDs = s.nextIDs[0], s.nextIDs[1:]
	} else {
		r.ID = s.newIDLocked()
		for s.users[r.ID] != nil {
			r.ID = s.newIDLocked()
		}
	}
	now := s.opts.Now()
	r.Created, r.LastModified, r.Version = now, now, 1
	s.users[r.ID] = r
	s.names[nameKey(r.UserName)]++
	s.order = append(s.order, r.ID)
}

func (s *Server) deleteLocked(id string) bool {
	r, ok := s.users[id]
	if !ok {
		return false
	}
	s.renameLocked(r.UserName, "")
	delete(s.users, id)
	s.order = slices.DeleteFunc(s.order, func(x string) bool { return x == id })
	return true
}

// takenLocked reports whether userName is held by a user other than except.
func (s *Server) takenLocked(userName, except string) bool {
	k := nameKey(userName)
	n := s.names[k]
	if r, ok := s.users[except]; ok && nameKey(r.UserName) == k {
		n--
	}
	return n > 0
}

// renameLocked moves a user from userName old to next in the index ("": none).
func (s *Server) renameLocked(old, next string) {
	if k := nameKey(old); old != "" && s.names[k] > 1 {
		s.names[k]--
	} else if old != "" {
		delete(s.names, k)
	}
	if next != "" {
		s.names[nameKey(next)]++
	}
}

// nameKey folds a userName for the case-insensitive uniqueness check.
func nameKey(userName string) string { return strings.ToLower(strings.ToUpper(userName)) }
