package fake

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	gosync "sync"
)

// REST API styles the fake can play (RESTOptions.Style); platform-apis.md
// describes them and examples/targets/ holds a profile for each.
const (
	// StylePPO: one /api/users resource, page/pageSize paging, X-API-Key,
	// deactivate/activate actions.
	StylePPO = "ppo"
	// StylePartner: OAuth2 client credentials, offset/limit paging, bulk invite
	// with per-user results, PATCH AccountState.
	StylePartner = "partner"
	// StyleArchive: bearer token, cursor paging, archive/unarchive, no
	// externalId (matching by email).
	StyleArchive = "archive"
	// StyleUsersV2: GUID ids, CompanyId and IntegrationKey query parameters on
	// every call, errors as HTTP 200 with ResponseStatus.ErrorCode.
	StyleUsersV2 = "usersv2"
	// StyleLifecycle, modelled on Okta's Users API: "Authorization: SSWS
	// token", the next page only in the Link header (rel="next", absolute),
	// lifecycle actions, and errors {errorCode, errorSummary, errorCauses}
	// where a duplicate login is a 400 E0000001 told only by its text and
	// activating an active user is a 403 E0000016.
	StyleLifecycle = "lifecycle"
	// StyleOData, modelled on Microsoft Graph's users API: OAuth2 client
	// credentials, the next page in the body's @odata.nextLink (absolute),
	// PATCH accountEnabled, and errors {"error": {code, message}} where a
	// duplicate is a 400 Request_BadRequest told only by its message.
	StyleOData = "odata"
)

// Partner-style constants.
const (
	PartnerCustomer = "cust-1"
	PartnerClientID = "dirsync"
	UsersV2Company  = "42"
	ODataClientID   = "dirsync"
)

// RESTOptions configure a REST fake.
type RESTOptions struct {
	// Style selects the platform played: StylePPO, StylePartner, StyleArchive or
	// StyleUsersV2.
	Style string
	// Secret is the credential accepted: the API key (ppo), the OAuth2 client
	// secret (partner), the bearer token (archive) or the IntegrationKey
	// (usersv2). "" accepts anything.
	Secret string
	// PageSize caps a list page; default 2, so that listings page.
	PageSize int
	// Seed seeds the ids.
	Seed uint64
	// CursorHeader, when set, makes the archive style send its next cursor
	// in this response header instead of in the body.
	CursorHeader string
}

// RESTUser is a user held by a REST fake, whatever its style.
type RESTUser struct {
	ID         string
	ExternalID string
	UserName   string
	Email      string
	GivenName  string
	FamilyName string
	Active     bool
	// Role and Orgs are the role id and organization ids (partner style), or
	// the WebsiteRole and Groups (usersv2 style).
	Role string
	Orgs []string
	// IdentityProvider is the identity provider id an invite named (partner).
	IdentityProvider string
}

// RESTRequest is one request a REST fake received.
type RESTRequest struct {
	Method   string
	Path     string
	RawQuery string
	Status   int
}

// REST is an in-memory platform speaking one of the REST API styles over real
// HTTP. Its methods are safe for concurrent use.
type REST struct {
	opts RESTOptions

	mu        gosync.Mutex
	rng       *rand.Rand
	users     map[string]*RESTUser
	order     []string
	log       []RESTRequest
	tokens    map[string]bool // valid OAuth2 tokens
	fetches   int
	failNext  []int
	failEmail map[string]bool
	hold      *hold
	loop      bool
	overstate int
	// groups are the lifecycle style's groups (rest_groups.go).
	groups     map[string]*restGroup
	groupOrder []string
}

type hold struct {
	arrived, release chan struct{}
}

// NewREST returns a REST fake for opts.Style.
func NewREST(opts RESTOptions) *REST {
	if opts.PageSize <= 0 {
		opts.PageSize = 2
	}
	return &REST{
		opts:      opts,
		rng:       rand.New(rand.NewPCG(opts.Seed, opts.Seed^0x5eed)),
		users:     map[string]*RESTUser{},
		tokens:    map[string]bool{},
		failEmail: map[string]bool{},
	}
}

// StartT serves the fake on 127.0.0.1 until the test ends and returns its base URL.
func (s *REST) StartT(t interface {
	Cleanup(func())
	Fatalf(string, ...any)
}) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("fake rest: listen: %v", err)
	}
	srv := &http.Server{Handler: s}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return "http://" + ln.Addr().String()
}

// Users returns the users in creation order.
func (s *REST) Users() []RESTUser {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]RESTUser, 0, len(s.order))
	for _, id := range s.order {
		out = append(out, *s.users[id])
	}
	return out
}

// ByEmail returns the user with email (case-insensitive).
func (s *REST) ByEmail(email string) (RESTUser, bool) {
	for _, u := range s.Users() {
		if strings.EqualFold(u.Email, email) {
			return u, true
		}
	}
	return RESTUser{}, false
}

// Add puts a user on the platform directly (an account made by hand) and returns
// its id.
func (s *REST) Add(u RESTUser) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	u.ID = s.newIDLocked()
	s.insertLocked(&u)
	return u.ID
}

// Requests returns the requests received.
func (s *REST) Requests() []RESTRequest {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.log)
}

// TokenFetches counts OAuth2 tokens issued (partner style).
func (s *REST) TokenFetches() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.fetches
}

// RevokeTokens invalidates every OAuth2 token issued, as a platform does when a
// token expires early: the next request carrying one gets 401.
func (s *REST) RevokeTokens() {
	s.mu.Lock()
	defer s.mu.Unlock()
	clear(s.tokens)
}

// Hold makes the next request (token requests excepted) wait until release is
// called; arrived is closed when that request has arrived.
func (s *REST) Hold() (arrived <-chan struct{}, release func()) {
	h := &hold{arrived: make(chan struct{}), release: make(chan struct{})}
	s.mu.Lock()
	s.hold = h
	s.mu.Unlock()
	var once gosync.Once
	return h.arrived, func() { once.Do(func() { close(h.release) }) }
}

// FailNext makes the next n requests (token requests excepted) answer status.
func (s *REST) FailNext(n, status int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for range n {
		s.failNext = append(s.failNext, status)
	}
}

// LoopPaging makes the listing never end (on) or behave again (off): the next
// link or cursor points back to the page just served, and the page and offset
// parameters are ignored.
func (s *REST) LoopPaging(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.loop = on
}

// OverstateTotal makes the listing's total count (partner and usersv2 styles)
// n more than the accounts served, as a platform whose pages end early does.
func (s *REST) OverstateTotal(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.overstate = n
}

// FailEmail makes every create or update of the user with email fail (fail
// true) or succeed again (false), the way the style reports a per-user error (a
// 4xx, a "Failed" invite result, an HTTP 200 error envelope).
func (s *REST) FailEmail(email string, fail bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if fail {
		s.failEmail[strings.ToLower(email)] = true
	} else {
		delete(s.failEmail, strings.ToLower(email))
	}
}

func (s *REST) newIDLocked() string {
	if s.opts.Style == StyleUsersV2 || s.opts.Style == StyleOData {
		b := make([]byte, 16)
		for i := range b {
			b[i] = byte(s.rng.Uint32())
		}
		return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
	}
	return strconv.FormatUint(s.rng.Uint64()%1e12, 36)
}

func (s *REST) insertLocked(u *RESTUser) {
	s.users[u.ID] = u
	s.order = append(s.order, u.ID)
}

func (s *REST) deleteLocked(id string) bool {
	if _, ok := s.users[id]; !ok {
		return false
	}
	delete(s.users, id)
	s.order = slices.DeleteFunc(s.order, func(x string) bool { return x == id })
	return true
}

func (s *REST) emailTakenLocked(email, except string) bool {
	for id, u := range s.users {
		if id != except && email != "" && strings.EqualFold(u.Email, email) {
			return true
		}
	}
	return false
}

// page returns the users from offset, at most the page size.
func (s *REST) pageLocked(offset, size int) []*RESTUser {
	size = min(max(size, 1), s.opts.PageSize)
	var out []*RESTUser
	for i := offset; i < len(s.order) && len(out) < size; i++ {
		out = append(out, s.users[s.order[i]])
	}
	return out
}

type restRecorder struct {
	http.ResponseWriter
	status int
}

func (r *restRecorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *restRecorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.ResponseWriter.Write(b)
}

// ServeHTTP serves the style's API.
func (s *REST) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rec := &restRecorder{ResponseWriter: w}
	defer func() {
		s.mu.Lock()
		s.log = append(s.log, RESTRequest{Method: r.Method, Path: r.URL.Path, RawQuery: r.URL.RawQuery, Status: rec.status})
		s.mu.Unlock()
	}()
	if (r.URL.Path == "/oauth/token" && s.opts.Style == StylePartner) || (r.URL.Path == "/oauth2/v2.0/token" && s.opts.Style == StyleOData) {
		s.partnerToken(rec, r)
		return
	}
	s.mu.Lock()
	if h := s.hold; h != nil {
		s.hold = nil
		s.mu.Unlock()
		close(h.arrived)
		select {
		case <-h.release:
		case <-r.Context().Done():
			return
		}
		s.mu.Lock()
	}
	if len(s.failNext) > 0 {
		st := s.failNext[0]
		s.failNext = s.failNext[1:]
		s.mu.Unlock()
		writeJSONStatus(rec, st, map[string]any{"message": "injected failure"})
		return
	}
	s.mu.Unlock()
	switch s.opts.Style {
	case StylePPO:
		s.ppo(rec, r)
	case StylePartner:
		s.partner(rec, r)
	case StyleArchive:
		s.archive(rec, r)
	case StyleUsersV2:
		s.usersV2(rec, r)
	case StyleLifecycle:
		s.lifecycle(rec, r)
	case StyleOData:
		s.odata(rec, r)
	default:
		http.Error(rec, "unknown style "+s.opts.Style, http.StatusInternalServerError)
	}
}

func writeJSONStatus(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func readJSON(r *http.Request, v any) error {
	if err := json.NewDecoder(http.MaxBytesReader(nil, r.Body, 1<<20)).Decode(v); err != nil {
		return fmt.Errorf("body is not valid JSON: %w", err)
	}
	return nil
}

func atoi(s string, def int) int {
	if n, err := strconv.Atoi(s); err == nil && n >= 0 {
		return n
	}
	return def
}

// field reads a string field of a decoded body; ok is false when absent.
func field(m map[string]any, name string) (string, bool) {
	v, ok := m[name]
	if !ok {
		return "", false
	}
	s, _ := v.(string)
	return s, true
}

// setList reads a list of strings of a decoded body, when present.
func setList(dst *[]string, m map[string]any, name string) {
	v, ok := m[name]
	if !ok {
		return
	}
	l, _ := v.([]any)
	out := []string{}
	for _, e := range l {
		if s, ok := e.(string); ok {
			out = append(out, s)
		}
	}
	*dst = out
}

func setField(dst *string, m map[string]any, name string) {
	if v, ok := field(m, name); ok {
		*dst = v
	}
}
