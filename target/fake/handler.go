package fake

import (
	"bytes"
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"
)

const defaultPageSize = 100

// recorder logs the request as soon as its status is known, before the answer
// reaches the client: a client that got its answer finds it in the log.
type recorder struct {
	http.ResponseWriter
	s      *Server
	entry  Request
	logged bool
}

// Unwrap lets http.ResponseController reach the connection's Flush.
func (r *recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

func (r *recorder) record(status int) {
	if r.logged {
		return
	}
	r.logged = true
	r.entry.Status = status
	r.s.mu.Lock()
	r.s.log = append(r.s.log, r.entry)
	r.s.mu.Unlock()
}

func (r *recorder) WriteHeader(code int) {
	r.record(code)
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(b []byte) (int, error) {
	r.record(http.StatusOK)
	return r.ResponseWriter.Write(b)
}

// ServeHTTP serves the SCIM API under BasePath.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	entry := Request{Method: r.Method, Path: strings.TrimPrefix(r.URL.Path, BasePath), Query: r.URL.RawQuery, At: s.opts.Now()}
	rec := &recorder{ResponseWriter: w, s: s, entry: entry}
	defer rec.record(0) // no answer: reset, or the client went away

	s.mu.Lock()
	if s.throttle != nil && !s.throttle.Allow() {
		s.throttled++
		s.mu.Unlock()
		rec.Header().Set("Retry-After", "1")
		s.writeError(rec, &scimError{status: http.StatusTooManyRequests, detail: "rate limit exceeded (simulated)"})
		return
	}
	latency := s.latency
	reset := s.resetNext > 0
	if reset {
		s.resetNext--
	}
	var fail *failure
	if !reset && len(s.failNext) > 0 {
		fail = &s.failNext[0]
		s.failNext = s.failNext[1:]
	}
	flaky := !reset && fail == nil && s.errorRate > 0 && s.rng.Float64() < s.errorRate
	s.mu.Unlock()

	if latency > 0 {
		t := time.NewTimer(latency)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			return
		}
	}
	switch {
	case reset:
		if hj, ok := w.(http.Hijacker); ok {
			if conn, _, err := hj.Hijack(); err == nil {
				rec.record(0)
				if tc, ok := conn.(*net.TCPConn); ok {
					tc.SetLinger(0) // RST, not FIN
				}
				conn.Close()
				return
			}
		}
		s.writeError(rec, &scimError{status: http.StatusBadGateway, detail: "connection reset (simulated)"})
		return
	case fail != nil:
		if fail.retryAfter != "" {
			rec.Header().Set("Retry-After", fail.retryAfter)
		}
		s.writeError(rec, &scimError{status: fail.status, detail: fmt.Sprintf("injected failure (HTTP %d)", fail.status)})
		return
	case flaky:
		s.writeError(rec, &scimError{status: http.StatusServiceUnavailable, detail: "service unavailable (injected)"})
		return
	}

	if !strings.HasPrefix(r.URL.Path, BasePath+"/") {
		s.writeError(rec, &scimError{status: http.StatusNotFound, detail: "no such endpoint: " + r.URL.Path})
		return
	}
	path := entry.Path
	if path == "/ServiceProviderConfig" {
		s.serviceProviderConfig(rec, r)
		return
	}
	if !s.authorized(r) {
		rec.Header().Set("WWW-Authenticate", `Bearer realm="fake"`)
		s.writeError(rec, &scimError{status: http.StatusUnauthorized, detail: "invalid bearer token"})
		return
	}
	base := "http://" + r.Host + BasePath
	switch {
	case path == "/Users":
		switch r.Method {
		case http.MethodGet:
			s.list(rec, r, base)
		case http.MethodPost:
			s.create(rec, r, base)
		default:
			s.writeError(rec, &scimError{status: http.StatusMethodNotAllowed, detail: r.Method + " not allowed on /Users"})
		}
	case strings.HasPrefix(path, "/Users/") && len(path) > len("/Users/"):
		id := strings.TrimPrefix(path, "/Users/")
		switch r.Method {
		case http.MethodGet:
			s.get(rec, id, base)
		case http.MethodPut:
			s.replace(rec, r, id, base)
		case http.MethodPatch:
			s.patch(rec, r, id, base)
		case http.MethodDelete:
			s.delete(rec, id)
		default:
			s.writeError(rec, &scimError{status: http.StatusMethodNotAllowed, detail: r.Method + " not allowed on /Users/{id}"})
		}
	case path == "/Groups" || (strings.HasPrefix(path, "/Groups/") && len(path) > len("/Groups/")):
		s.serveGroups(rec, r, path, base)
	default:
		s.writeError(rec, &scimError{status: http.StatusNotFound, detail: "no such endpoint: " + r.URL.Path})
	}
}

func (s *Server) authorized(r *http.Request) bool {
	if s.opts.Token == "" {
		return true
	}
	h := r.Header.Get("Authorization")
	const prefix = "Bearer "
	if len(h) < len(prefix) || !strings.EqualFold(h[:len(prefix)], prefix) {
		return false
	}
	return subtle.ConstantTimeCompare([]byte(h[len(prefix):]), []byte(s.opts.Token)) == 1
}

func (s *Server) serviceProviderConfig(w http.ResponseWriter, r *http.Request) {
	if s.opts.NoServiceProviderConfig || r.Method != http.MethodGet {
		s.writeError(w, &scimError{status: http.StatusNotFound, detail: "no such endpoint: /ServiceProviderConfig"})
		return
	}
	maxResults := s.opts.MaxPageSize
	if maxResults == 0 {
		maxResults = 1000
	}
	s.writeJSON(w, http.StatusOK, map[string]any{
		"schemas":        []string{schemaSPC},
		"patch":          map[string]any{"supported": !s.opts.NoPatch},
		"bulk":           map[string]any{"supported": false, "maxOperations": 0, "maxPayloadSize": 0},
		"filter":         map[string]any{"supported": true, "maxResults": maxResults},
		"changePassword": map[string]any{"supported": false},
		"sort":           map[string]any{"supported": false},
		"etag":           map[string]any{"supported": false},
		"authenticationSchemes": []any{map[string]any{
			"type": "oauthbearertoken", "name": "OAuth Bearer Token", "description": "Authentication with a bearer token",
		}},
	})
}

func (s *Server) list(w http.ResponseWriter, r *http.Request, base string) {
	q := r.URL.Query()
	match := func(*Resource) bool { return true }
	if f := q.Get("filter"); f != "" {
		s.mu.Lock()
		refused := s.filterRefusedLocked(f)
		s.mu.Unlock()
		if refused != nil {
			s.writeError(w, refused)
			return
		}
		m, err := parseFilter(f)
		if err != nil {
			s.writeError(w, err)
			return
		}
		match = m
	}
	start, count := 1, defaultPageSize
	if v := q.Get("startIndex"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			s.writeError(w, badRequest("invalidValue", "startIndex must be an integer"))
			return
		}
		start = max(n, 1)
	}
	if v := q.Get("count"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			s.writeError(w, badRequest("invalidValue", "count must be an integer"))
			return
		}
		count = max(n, 0)
	}
	if s.opts.MaxPageSize > 0 {
		count = min(count, s.opts.MaxPageSize)
	}

	s.mu.Lock()
	faults := ListFaults{}
	if q.Get("filter") == "" {
		faults = s.listing
	}
	if faults.IgnoreStartIndex {
		start = 1
	}
	var hits []map[string]any
	total := 0
	if q.Get("filter") == "" {
		// Every user matches: the page is a slice of the creation order, so
		// a page costs its own users, not a pass over all of them.
		total = len(s.order)
		last := total
		if faults.StopAfter > 0 {
			last = min(last, faults.StopAfter)
		}
		for i := start - 1; i < last && len(hits) < count; i++ {
			hits = append(hits, s.users[s.order[i]].json(base))
		}
	} else {
		for _, id := range s.order {
			u := s.users[id]
			if !match(u) {
				continue
			}
			total++
			if total >= start && len(hits) < count {
				hits = append(hits, u.json(base))
			}
		}
	}
	if faults.Endless {
		for i := max(start, total+1); len(hits) < count; i++ {
			hits = append(hits, endlessUser(i).json(base))
		}
		total = max(total, start+count-1) + count
	}
	s.mu.Unlock()
	if hits == nil {
		hits = []map[string]any{}
	}
	page := map[string]any{
		"schemas":      []string{schemaList},
		"totalResults": total,
		"startIndex":   start,
		"itemsPerPage": len(hits),
		"Resources":    hits,
	}
	if faults.OmitTotal {
		delete(page, "totalResults")
	}
	s.writeJSON(w, http.StatusOK, page)
}

// endlessUser is the made-up account at position i of an endless listing.
func endlessUser(i int) *Resource {
	return &Resource{ID: fmt.Sprintf("endless-%d", i), UserName: fmt.Sprintf("endless%d", i), Active: true}
}

func (s *Server) get(w http.ResponseWriter, id, base string) {
	s.mu.Lock()
	u, ok := s.users[id]
	var body map[string]any
	var err *scimError
	if !ok {
		err = notFound(id)
	} else if err = s.userFaultLocked(u.UserName); err == nil {
		body = u.json(base)
	}
	s.mu.Unlock()
	if err != nil {
		s.writeError(w, err)
		return
	}
	s.writeJSON(w, http.StatusOK, body)
}

func (s *Server) create(w http.ResponseWriter, r *http.Request, base string) {
	m, err := readObject(r)
	if err == nil {
		err = checkSchemas(m)
	}
	if err != nil {
		s.writeError(w, err)
		return
	}
	res, err := decodeResource(m)
	if err != nil {
		s.writeError(w, err)
		return
	}
	s.mu.Lock()
	if err = s.userFaultLocked(res.UserName); err == nil {
		if s.takenLocked(res.UserName, "") {
			err = &scimError{status: http.StatusConflict, scimType: "uniqueness", detail: fmt.Sprintf("userName %q is already taken", res.UserName)}
		} else {
			s.insertLocked(&res)
		}
	}
	var body map[string]any
	if err == nil {
		body = res.json(base)
	}
	s.mu.Unlock()
	if err != nil {
		s.writeError(w, err)
		return
	}
	w.Header().Set("Location", base+"/Users/"+res.ID)
	s.writeJSON(w, http.StatusCreated, body)
}

func (s *Server) replace(w http.ResponseWriter, r *http.Request, id, base string) {
	m, err := readObject(r)
	if err == nil {
		err = checkSchemas(m)
	}
	if err != nil {
		s.writeError(w, err)
		return
	}
	res, err := decodeResource(m)
	if err != nil {
		s.writeError(w, err)
		return
	}
	s.store(w, id, base, func(*Resource) (Resource, *scimError) { return res, nil })
}

func (s *Server) patch(w http.ResponseWriter, r *http.Request, id, base string) {
	if s.opts.NoPatch {
		s.writeError(w, &scimError{status: http.StatusNotImplemented, detail: "PATCH is not supported"})
		return
	}
	b, err := readBody(r)
	if err != nil {
		s.writeError(w, err)
		return
	}
	var req struct {
		Schemas    []string
		Operations []struct {
			Op    string
			Path  string
			Value any
		}
	}
	if e := json.Unmarshal(b, &req); e != nil {
		s.writeError(w, badRequest("invalidSyntax", "malformed PatchOp: %v", e))
		return
	}
	if !containsFold(req.Schemas, schemaPatchOp) {
		s.writeError(w, badRequest("invalidSyntax", "schemas must hold %s", schemaPatchOp))
		return
	}
	if len(req.Operations) == 0 {
		s.writeError(w, badRequest("invalidSyntax", "Operations is empty"))
		return
	}
	s.store(w, id, base, func(cur *Resource) (Resource, *scimError) {
		m := cur.attrs()
		for _, op := range req.Operations {
			if err := applyOp(m, strings.ToLower(op.Op), op.Path, op.Value); err != nil {
				return Resource{}, err
			}
		}
		return decodeResource(m)
	})
}

// store replaces user id by what change makes of it, checking faults and
// uniqueness, and answers with the result.
func (s *Server) store(w http.ResponseWriter, id, base string, change func(*Resource) (Resource, *scimError)) {
	s.mu.Lock()
	var body map[string]any
	err := func() *scimError {
		cur, ok := s.users[id]
		if !ok {
			return notFound(id)
		}
		if err := s.userFaultLocked(cur.UserName); err != nil {
			return err
		}
		next, err := change(cur)
		if err != nil {
			return err
		}
		if err := s.userFaultLocked(next.UserName); err != nil {
			return err
		}
		if s.takenLocked(next.UserName, id) {
			return &scimError{status: http.StatusConflict, scimType: "uniqueness", detail: fmt.Sprintf("userName %q is already taken", next.UserName)}
		}
		next.ID, next.Created, next.Version, next.LastModified = id, cur.Created, cur.Version+1, s.opts.Now()
		s.renameLocked(cur.UserName, next.UserName)
		*cur = next
		body = cur.json(base)
		return nil
	}()
	s.mu.Unlock()
	if err != nil {
		s.writeError(w, err)
		return
	}
	s.writeJSON(w, http.StatusOK, body)
}

func (s *Server) delete(w http.ResponseWriter, id string) {
	s.mu.Lock()
	var err *scimError
	if cur, ok := s.users[id]; !ok {
		err = notFound(id)
	} else if err = s.userFaultLocked(cur.UserName); err == nil {
		s.deleteLocked(id)
	}
	s.mu.Unlock()
	if err != nil {
		s.writeError(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) userFaultLocked(userName string) *scimError {
	if st, ok := s.failUsers[strings.ToLower(userName)]; ok {
		return &scimError{status: st, detail: fmt.Sprintf("injected failure for userName %q", userName)}
	}
	return nil
}

func notFound(id string) *scimError {
	return &scimError{status: http.StatusNotFound, detail: fmt.Sprintf("resource %s not found", id)}
}

func readBody(r *http.Request) ([]byte, *scimError) {
	b, err := io.ReadAll(io.LimitReader(r.Body, 1<<20+1))
	if err != nil {
		return nil, badRequest("invalidSyntax", "reading the body: %v", err)
	}
	if len(b) > 1<<20 {
		return nil, &scimError{status: http.StatusRequestEntityTooLarge, detail: "body larger than 1 MiB"}
	}
	return b, nil
}

func readObject(r *http.Request) (map[string]any, *scimError) {
	b, err := readBody(r)
	if err != nil {
		return nil, err
	}
	var m map[string]any
	if e := json.Unmarshal(b, &m); e != nil || m == nil {
		return nil, badRequest("invalidSyntax", "body is not a JSON object")
	}
	return m, nil
}

// checkSchemas insists on the core User schema, and on the enterprise one when
// its attributes are present.
func checkSchemas(m map[string]any) *scimError {
	var schemas []string
	for k, v := range m {
		if strings.EqualFold(k, "schemas") {
			arr, _ := v.([]any)
			for _, x := range arr {
				if s, ok := x.(string); ok {
					schemas = append(schemas, s)
				}
			}
		}
	}
	if !containsFold(schemas, SchemaUser) {
		return badRequest("invalidSyntax", "schemas must hold %s", SchemaUser)
	}
	for k := range m {
		if strings.EqualFold(k, SchemaEnterprise) && !containsFold(schemas, SchemaEnterprise) {
			return badRequest("invalidSyntax", "enterprise attributes sent without %s in schemas", SchemaEnterprise)
		}
	}
	return nil
}

func containsFold(list []string, s string) bool {
	for _, x := range list {
		if strings.EqualFold(x, s) {
			return true
		}
	}
	return false
}

func (s *Server) writeError(w http.ResponseWriter, e *scimError) {
	body := map[string]any{
		"schemas": []string{schemaError},
		"status":  strconv.Itoa(e.status),
		"detail":  e.detail,
	}
	if e.scimType != "" {
		body["scimType"] = e.scimType
	}
	s.writeJSON(w, e.status, body)
}

func (s *Server) writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	s.mu.Lock()
	pad := s.padding
	slow := s.slowBodies
	corrupt := status < 300 && s.corruptNext > 0
	if corrupt {
		s.corruptNext--
	}
	s.mu.Unlock()
	if corrupt {
		b = b[:len(b)/2]
	}
	if pad > 0 {
		b = append(b, bytes.Repeat([]byte(" "), pad)...)
	}
	w.Header().Set("Content-Type", "application/scim+json")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	if slow > 0 {
		trickle(w, b, slow)
		return
	}
	w.Write(b)
}

// trickle writes b in 10 parts spread over d, flushing each; it stops when the
// client has gone.
func trickle(w http.ResponseWriter, b []byte, d time.Duration) {
	const parts = 10
	rc := http.NewResponseController(w)
	step := (len(b) + parts - 1) / parts
	for i := 0; i < len(b); i += step {
		if _, err := w.Write(b[i:min(i+step, len(b))]); err != nil {
			return
		}
		if err := rc.Flush(); err != nil {
			return
		}
		if i+step < len(b) {
			time.Sleep(d / parts)
		}
	}
}
