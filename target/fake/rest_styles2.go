package fake

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// --- style 5: lifecycle (modelled on Okta's Users API) ------------------------

func lifecycleJSON(u *RESTUser) map[string]any {
	status := "ACTIVE"
	if !u.Active {
		status = "DEPROVISIONED"
	}
	return map[string]any{"id": u.ID, "status": status, "created": "2026-01-01T00:00:00.000Z",
		"profile": map[string]any{"login": u.UserName, "email": u.Email, "firstName": u.GivenName, "lastName": u.FamilyName,
			"employeeNumber": u.ExternalID}}
}

// lifecycleError answers in this style's error shape.
func lifecycleError(w http.ResponseWriter, status int, code, summary string, causes ...string) {
	cs := []any{}
	for _, c := range causes {
		cs = append(cs, map[string]any{"errorSummary": c})
	}
	writeJSONStatus(w, status, map[string]any{"errorCode": code, "errorSummary": summary, "errorLink": code,
		"errorId": "oae" + strconv.Itoa(len(summary)), "errorCauses": cs})
}

func lifecycleApply(u *RESTUser, m map[string]any) {
	p, _ := m["profile"].(map[string]any)
	if p == nil {
		return
	}
	setField(&u.UserName, p, "login")
	setField(&u.Email, p, "email")
	setField(&u.GivenName, p, "firstName")
	setField(&u.FamilyName, p, "lastName")
	setField(&u.ExternalID, p, "employeeNumber")
}

func (s *REST) loginTakenLocked(login, except string) bool {
	for id, u := range s.users {
		if id != except && login != "" && strings.EqualFold(u.UserName, login) {
			return true
		}
	}
	return false
}

// absURL is the absolute URL of path and query on the server r reached.
func absURL(r *http.Request, path string, q url.Values) string {
	return (&url.URL{Scheme: "http", Host: r.Host, Path: path, RawQuery: q.Encode()}).String()
}

func (s *REST) lifecycle(w http.ResponseWriter, r *http.Request) {
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "SSWS ")
	if !ok || !s.secretOK(tok) {
		lifecycleError(w, http.StatusUnauthorized, "E0000011", "Invalid token provided")
		return
	}
	if rest, found := strings.CutPrefix(r.URL.Path, "/api/v1/groups"); found {
		s.mu.Lock()
		defer s.mu.Unlock()
		s.lifecycleGroups(w, r, rest)
		return
	}
	rest, found := strings.CutPrefix(r.URL.Path, "/api/v1/users")
	if !found {
		lifecycleError(w, http.StatusNotFound, "E0000022", "The endpoint does not support the provided HTTP method")
		return
	}
	parts := strings.Split(strings.Trim(rest, "/"), "/")
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case rest == "" && r.Method == http.MethodGet:
		q := r.URL.Query()
		limit := min(max(atoi(q.Get("limit"), 200), 1), s.opts.PageSize)
		offset := 0
		if after := q.Get("after"); after != "" {
			offset = -1
			for i, id := range s.order {
				if id == after {
					offset = i + 1
				}
			}
			if offset < 0 {
				lifecycleError(w, http.StatusBadRequest, "E0000031", "Invalid search criteria.", "after: unknown cursor")
				return
			}
		}
		page := s.pageLocked(offset, limit)
		items := []any{}
		for _, u := range page {
			items = append(items, lifecycleJSON(u))
		}
		self := url.Values{"limit": {strconv.Itoa(limit)}}
		if a := q.Get("after"); a != "" {
			self.Set("after", a)
		}
		links := []string{fmt.Sprintf("<%s>; rel=\"self\"", absURL(r, "/api/v1/users", self))}
		if offset+len(page) < len(s.order) {
			next := url.Values{"limit": {strconv.Itoa(limit)}, "after": {page[len(page)-1].ID}}
			if s.loop {
				next = self
			}
			links = append(links, fmt.Sprintf("<%s>; rel=\"next\"", absURL(r, "/api/v1/users", next)))
		}
		// Two Link header lines, as the platform sends them.
		for _, l := range links {
			w.Header().Add("Link", l)
		}
		writeJSONStatus(w, http.StatusOK, items)
	case rest == "" && r.Method == http.MethodPost:
		var m map[string]any
		if err := readJSON(r, &m); err != nil {
			lifecycleError(w, http.StatusBadRequest, "E0000003", "The request body was not well-formed.")
			return
		}
		u := &RESTUser{Active: r.URL.Query().Get("activate") != "false"}
		lifecycleApply(u, m)
		switch {
		case u.UserName == "":
			lifecycleError(w, http.StatusBadRequest, "E0000001", "Api validation failed: login", "login: The field cannot be left blank")
			return
		case s.failEmail[strings.ToLower(u.Email)]:
			lifecycleError(w, http.StatusBadRequest, "E0000001", "Api validation failed: email", "email: Does not match required pattern")
			return
		case s.loginTakenLocked(u.UserName, ""):
			lifecycleError(w, http.StatusBadRequest, "E0000001", "Api validation failed: login",
				"login: An object with this field already exists in the current organization")
			return
		}
		u.ID = "00u" + s.newIDLocked()
		s.insertLocked(u)
		writeJSONStatus(w, http.StatusOK, lifecycleJSON(u))
	default:
		u := s.users[parts[0]]
		if u == nil {
			lifecycleError(w, http.StatusNotFound, "E0000007", "Not found: Resource not found: "+parts[0]+" (User)")
			return
		}
		switch {
		case len(parts) == 1 && r.Method == http.MethodPost:
			var m map[string]any
			if err := readJSON(r, &m); err != nil {
				lifecycleError(w, http.StatusBadRequest, "E0000003", "The request body was not well-formed.")
				return
			}
			next := *u
			lifecycleApply(&next, m)
			switch {
			case s.failEmail[strings.ToLower(next.Email)]:
				lifecycleError(w, http.StatusBadRequest, "E0000001", "Api validation failed: email", "email: Does not match required pattern")
				return
			case s.loginTakenLocked(next.UserName, u.ID):
				lifecycleError(w, http.StatusBadRequest, "E0000001", "Api validation failed: login",
					"login: An object with this field already exists in the current organization")
				return
			}
			*u = next
			writeJSONStatus(w, http.StatusOK, lifecycleJSON(u))
		case len(parts) == 3 && parts[1] == "lifecycle" && r.Method == http.MethodPost && parts[2] == "deactivate":
			u.Active = false
			writeJSONStatus(w, http.StatusOK, map[string]any{})
		case len(parts) == 3 && parts[1] == "lifecycle" && r.Method == http.MethodPost && parts[2] == "activate":
			if u.Active {
				lifecycleError(w, http.StatusForbidden, "E0000016", "Activation failed because the user is already active")
				return
			}
			u.Active = true
			writeJSONStatus(w, http.StatusOK, map[string]any{"activationUrl": absURL(r, "/welcome/"+u.ID, nil)})
		default:
			lifecycleError(w, http.StatusMethodNotAllowed, "E0000022", "The endpoint does not support the provided HTTP method")
		}
	}
}

// --- style 6: odata (modelled on Microsoft Graph's users API) -----------------

func odataJSON(u *RESTUser) map[string]any {
	return map[string]any{"id": u.ID, "userPrincipalName": u.Email, "mail": u.Email, "mailNickname": u.UserName,
		"givenName": u.GivenName, "surname": u.FamilyName, "displayName": strings.TrimSpace(u.GivenName + " " + u.FamilyName),
		"accountEnabled": u.Active, "employeeId": u.ExternalID}
}

func odataError(w http.ResponseWriter, status int, code, msg string) {
	writeJSONStatus(w, status, map[string]any{"error": map[string]any{"code": code, "message": msg,
		"innerError": map[string]any{"date": "2026-01-01T00:00:00", "request-id": "0000"}}})
}

func odataApply(u *RESTUser, m map[string]any) {
	setField(&u.Email, m, "mail")
	setField(&u.UserName, m, "mailNickname")
	setField(&u.GivenName, m, "givenName")
	setField(&u.FamilyName, m, "surname")
	setField(&u.ExternalID, m, "employeeId")
	if b, ok := m["accountEnabled"].(bool); ok {
		u.Active = b
	}
}

func (s *REST) odata(w http.ResponseWriter, r *http.Request) {
	tok, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	s.mu.Lock()
	valid := s.tokens[tok]
	s.mu.Unlock()
	if !valid {
		odataError(w, http.StatusUnauthorized, "InvalidAuthenticationToken", "Access token is empty or not valid.")
		return
	}
	rest, found := strings.CutPrefix(r.URL.Path, "/v1.0/users")
	if !found {
		odataError(w, http.StatusNotFound, "Request_UnsupportedQuery", "Unsupported resource type for the request.")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	id := strings.Trim(rest, "/")
	switch {
	case id == "" && r.Method == http.MethodGet:
		q := r.URL.Query()
		top := min(max(atoi(q.Get("$top"), 100), 1), s.opts.PageSize)
		offset := 0
		if tok := q.Get("$skiptoken"); tok != "" {
			n, err := strconv.Atoi(strings.TrimPrefix(tok, "X"))
			if err != nil || !strings.HasPrefix(tok, "X") {
				odataError(w, http.StatusBadRequest, "Request_BadRequest", "Invalid $skiptoken.")
				return
			}
			offset = n
		}
		page := s.pageLocked(offset, top)
		items := []any{}
		for _, u := range page {
			items = append(items, odataJSON(u))
		}
		body := map[string]any{"@odata.context": absURL(r, "/v1.0/$metadata", nil) + "#users", "value": items}
		if offset+len(page) < len(s.order) {
			next := offset + len(page)
			if s.loop {
				next = offset
			}
			body["@odata.nextLink"] = absURL(r, "/v1.0/users", url.Values{"$top": {strconv.Itoa(top)}, "$skiptoken": {"X" + strconv.Itoa(next)}})
		}
		writeJSONStatus(w, http.StatusOK, body)
	case id == "" && r.Method == http.MethodPost:
		var m map[string]any
		if err := readJSON(r, &m); err != nil {
			odataError(w, http.StatusBadRequest, "BadRequest", "Unable to read JSON request payload.")
			return
		}
		u := &RESTUser{Active: true}
		odataApply(u, m)
		upn, _ := field(m, "userPrincipalName")
		switch {
		case upn == "":
			odataError(w, http.StatusBadRequest, "Request_BadRequest", "A value is required for property 'userPrincipalName' of resource 'User'.")
			return
		case s.failEmail[strings.ToLower(u.Email)]:
			odataError(w, http.StatusBadRequest, "Request_BadRequest", "Invalid value specified for property 'mail' of resource 'User'.")
			return
		case s.emailTakenLocked(upn, ""):
			odataError(w, http.StatusBadRequest, "Request_BadRequest", "Another object with the same value for property userPrincipalName already exists.")
			return
		}
		u.Email = upn
		u.ID = s.newIDLocked()
		s.insertLocked(u)
		writeJSONStatus(w, http.StatusCreated, odataJSON(u))
	case r.Method == http.MethodPatch:
		u := s.users[id]
		if u == nil {
			odataError(w, http.StatusNotFound, "Request_ResourceNotFound",
				"Resource '"+id+"' does not exist or one of its queried reference-property objects are not present.")
			return
		}
		var m map[string]any
		if err := readJSON(r, &m); err != nil {
			odataError(w, http.StatusBadRequest, "BadRequest", "Unable to read JSON request payload.")
			return
		}
		next := *u
		odataApply(&next, m)
		if s.failEmail[strings.ToLower(next.Email)] {
			odataError(w, http.StatusBadRequest, "Request_BadRequest", "Invalid value specified for property 'mail' of resource 'User'.")
			return
		}
		*u = next
		w.WriteHeader(http.StatusNoContent)
	default:
		odataError(w, http.StatusMethodNotAllowed, "Request_BadRequest", "Specified HTTP method is not allowed for the request target.")
	}
}
