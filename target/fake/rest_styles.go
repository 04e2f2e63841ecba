package fake

import (
	"crypto/subtle"
	"fmt"
	"net/http"
	"strconv"
	"strings"
)

func (s *REST) secretOK(got string) bool {
	return s.opts.Secret == "" || subtle.ConstantTimeCompare([]byte(got), []byte(s.opts.Secret)) == 1
}

// --- style 1: PPO -------------------------------------------------------------

func ppoJSON(u *RESTUser) map[string]any {
	return map[string]any{"id": u.ID, "externalId": u.ExternalID, "userName": u.UserName, "email": u.Email,
		"firstName": u.GivenName, "lastName": u.FamilyName, "active": u.Active}
}

func ppoApply(u *RESTUser, m map[string]any) {
	setField(&u.ExternalID, m, "externalId")
	setField(&u.UserName, m, "userName")
	setField(&u.Email, m, "email")
	setField(&u.GivenName, m, "firstName")
	setField(&u.FamilyName, m, "lastName")
	if b, ok := m["active"].(bool); ok {
		u.Active = b
	}
}

// route checks a style's credential and path prefix, answering 401 or 404 in
// the style's error shape ({msgKey: text}) when either is wrong. It returns the
// path after prefix and its segments.
func (s *REST) route(w http.ResponseWriter, r *http.Request, secret, prefix, msgKey, badSecret string) (rest string, parts []string, ok bool) {
	if !s.secretOK(secret) {
		writeJSONStatus(w, http.StatusUnauthorized, map[string]any{msgKey: badSecret})
		return "", nil, false
	}
	rest, ok = strings.CutPrefix(r.URL.Path, prefix)
	if !ok {
		writeJSONStatus(w, http.StatusNotFound, map[string]any{msgKey: "no such endpoint"})
		return "", nil, false
	}
	return rest, strings.Split(strings.Trim(rest, "/"), "/"), true
}

func (s *REST) ppo(w http.ResponseWriter, r *http.Request) {
	rest, parts, ok := s.route(w, r, r.Header.Get("X-API-Key"), "/api/users", "message", "invalid API key")
	if !ok {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case rest == "" && r.Method == http.MethodGet:
		page, size := atoi(r.URL.Query().Get("page"), 1), atoi(r.URL.Query().Get("pageSize"), 50)
		size = min(max(size, 1), s.opts.PageSize)
		if s.loop {
			page = 1
		}
		items := []any{}
		for _, u := range s.pageLocked((max(page, 1)-1)*size, size) {
			items = append(items, ppoJSON(u))
		}
		writeJSONStatus(w, http.StatusOK, map[string]any{"items": items, "page": page, "totalPages": (len(s.order) + size - 1) / size})
	case rest == "" && r.Method == http.MethodPost:
		var m map[string]any
		if err := readJSON(r, &m); err != nil {
			writeJSONStatus(w, http.StatusBadRequest, map[string]any{"message": err.Error()})
			return
		}
		u := &RESTUser{Active: true}
		ppoApply(u, m)
		if s.failEmail[strings.ToLower(u.Email)] {
			writeJSONStatus(w, http.StatusUnprocessableEntity, map[string]any{"message": "email rejected: " + u.Email})
			return
		}
		if s.emailTakenLocked(u.Email, "") {
			writeJSONStatus(w, http.StatusConflict, map[string]any{"message": "a user with this email exists"})
			return
		}
		u.ID = s.newIDLocked()
		s.insertLocked(u)
		writeJSONStatus(w, http.StatusCreated, ppoJSON(u))
	case len(parts) >= 1:
		u := s.users[parts[0]]
		if u == nil {
			writeJSONStatus(w, http.StatusNotFound, map[string]any{"message": "no user " + parts[0]})
			return
		}
		switch {
		case len(parts) == 1 && r.Method == http.MethodPut:
			var m map[string]any
			if err := readJSON(r, &m); err != nil {
				writeJSONStatus(w, http.StatusBadRequest, map[string]any{"message": err.Error()})
				return
			}
			next := *u
			ppoApply(&next, m)
			if s.failEmail[strings.ToLower(next.Email)] {
				writeJSONStatus(w, http.StatusUnprocessableEntity, map[string]any{"message": "email rejected: " + next.Email})
				return
			}
			*u = next
			writeJSONStatus(w, http.StatusOK, ppoJSON(u))
		case len(parts) == 2 && r.Method == http.MethodPost && (parts[1] == "deactivate" || parts[1] == "activate"):
			u.Active = parts[1] == "activate"
			w.WriteHeader(http.StatusNoContent)
		case len(parts) == 2 && r.Method == http.MethodPost && parts[1] == "reset-password":
			w.WriteHeader(http.StatusNoContent)
		default:
			writeJSONStatus(w, http.StatusMethodNotAllowed, map[string]any{"message": "method not allowed"})
		}
	}
}

// --- style 2: partner platform -----------------------------------------------

func (s *REST) partnerToken(w http.ResponseWriter, r *http.Request) {
	id, secret, ok := r.BasicAuth()
	if r.Method != http.MethodPost || r.ParseForm() != nil || r.PostForm.Get("grant_type") != "client_credentials" {
		writeJSONStatus(w, http.StatusBadRequest, map[string]any{"error": "unsupported_grant_type"})
		return
	}
	if !ok {
		id, secret = r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
	}
	want := PartnerClientID
	if s.opts.Style == StyleOData {
		want = ODataClientID
	}
	if id != want || !s.secretOK(secret) {
		writeJSONStatus(w, http.StatusUnauthorized, map[string]any{"error": "invalid_client"})
		return
	}
	s.mu.Lock()
	s.fetches++
	tok := fmt.Sprintf("tok-%d-%x", s.fetches, s.rng.Uint64())
	s.tokens[tok] = true
	s.mu.Unlock()
	writeJSONStatus(w, http.StatusOK, map[string]any{"access_token": tok, "token_type": "Bearer", "expires_in": 3600})
}

func partnerJSON(u *RESTUser) map[string]any {
	state := "Active"
	if !u.Active {
		state = "Disabled"
	}
	return map[string]any{"Id": u.ID, "Email": u.Email, "FirstName": u.GivenName, "LastName": u.FamilyName,
		"AccountState": state, "Accessible": u.Active, "CreatedAt": "2026-01-01T00:00:00Z", "RoleId": u.Role, "OrganizationIds": u.Orgs}
}

func (s *REST) partner(w http.ResponseWriter, r *http.Request) {
	tok, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	s.mu.Lock()
	valid := s.tokens[tok]
	s.mu.Unlock()
	if !valid {
		writeJSONStatus(w, http.StatusUnauthorized, map[string]any{"error": "invalid_token"})
		return
	}
	switch r.URL.Path {
	case "/v1/roles":
		writeJSONStatus(w, http.StatusOK, []any{map[string]any{"Id": "r-admin", "Name": "Admin", "Weight": 100}, map[string]any{"Id": "r-user", "Name": "User", "Weight": 10}})
		return
	case "/v1/identity-providers":
		writeJSONStatus(w, http.StatusOK, []any{map[string]any{"Id": "idp-1", "Name": "Corporate SSO", "Prefix": "corp", "Enabled": true}})
		return
	}
	rest, ok := strings.CutPrefix(r.URL.Path, "/v1/customers/"+PartnerCustomer+"/users")
	if !ok {
		writeJSONStatus(w, http.StatusNotFound, map[string]any{"Message": "no such endpoint"})
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case rest == "" && r.Method == http.MethodGet:
		offset, limit := atoi(r.URL.Query().Get("offset"), 0), atoi(r.URL.Query().Get("limit"), 50)
		items := []any{}
		for _, u := range s.pageLocked(offset, limit) {
			items = append(items, partnerJSON(u))
		}
		writeJSONStatus(w, http.StatusOK, map[string]any{"Items": items, "TotalCount": len(s.order) + s.overstate})
	case rest == "/invite" && r.Method == http.MethodPost:
		var body struct {
			Users []map[string]any `json:"Users"`
		}
		if err := readJSON(r, &body); err != nil || len(body.Users) == 0 {
			writeJSONStatus(w, http.StatusBadRequest, map[string]any{"Message": "body must hold a non-empty Users array"})
			return
		}
		results := []any{}
		for _, m := range body.Users {
			u := &RESTUser{Active: true}
			setField(&u.Email, m, "Email")
			setField(&u.GivenName, m, "FirstName")
			setField(&u.FamilyName, m, "LastName")
			setField(&u.Role, m, "RoleId")
			setList(&u.Orgs, m, "OrganizationIds")
			setField(&u.IdentityProvider, m, "IdentityProviderId")
			res := map[string]any{"Email": u.Email}
			switch {
			case u.Email == "":
				res["Status"], res["Error"] = "Failed", "Email is required"
			case s.failEmail[strings.ToLower(u.Email)]:
				res["Status"], res["Error"] = "Failed", "invitation rejected for "+u.Email
			case s.emailTakenLocked(u.Email, ""):
				res["Status"], res["Error"] = "Failed", "UserAlreadyExists"
			default:
				u.ID = s.newIDLocked()
				s.insertLocked(u)
				res["Status"], res["UserId"] = "Invited", u.ID
			}
			results = append(results, res)
		}
		writeJSONStatus(w, http.StatusOK, map[string]any{"Results": results})
	case strings.Count(rest, "/") == 1 && r.Method == http.MethodPatch:
		u := s.users[strings.TrimPrefix(rest, "/")]
		if u == nil {
			writeJSONStatus(w, http.StatusNotFound, map[string]any{"Message": "no such user"})
			return
		}
		var m map[string]any
		if err := readJSON(r, &m); err != nil {
			writeJSONStatus(w, http.StatusBadRequest, map[string]any{"Message": err.Error()})
			return
		}
		next := *u
		setField(&next.Email, m, "Email")
		setField(&next.GivenName, m, "FirstName")
		setField(&next.FamilyName, m, "LastName")
		setField(&next.Role, m, "RoleId")
		setList(&next.Orgs, m, "OrganizationIds")
		if st, ok := field(m, "AccountState"); ok {
			switch st {
			case "Active", "Disabled":
				next.Active = st == "Active"
			default:
				writeJSONStatus(w, http.StatusBadRequest, map[string]any{"Message": "AccountState must be Active or Disabled"})
				return
			}
		}
		if s.failEmail[strings.ToLower(next.Email)] {
			writeJSONStatus(w, http.StatusBadRequest, map[string]any{"Message": "update rejected for " + next.Email})
			return
		}
		*u = next
		writeJSONStatus(w, http.StatusOK, partnerJSON(u))
	default:
		writeJSONStatus(w, http.StatusMethodNotAllowed, map[string]any{"Message": "method not allowed"})
	}
}

// --- style 3: archive ---------------------------------------------------------

func archiveJSON(u *RESTUser) map[string]any {
	status := "active"
	if !u.Active {
		status = "archived"
	}
	return map[string]any{"id": u.ID, "email": u.Email, "name": strings.TrimSpace(u.GivenName + " " + u.FamilyName), "status": status}
}

func (s *REST) archive(w http.ResponseWriter, r *http.Request) {
	tok, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	rest, parts, ok := s.route(w, r, tok, "/api/v1/users", "error", "invalid token")
	if !ok {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case rest == "" && r.Method == http.MethodGet:
		offset := 0
		if c := r.URL.Query().Get("cursor"); c != "" {
			n, err := strconv.Atoi(strings.TrimPrefix(c, "c"))
			if err != nil || !strings.HasPrefix(c, "c") {
				writeJSONStatus(w, http.StatusBadRequest, map[string]any{"error": "invalid cursor"})
				return
			}
			offset = n
		}
		data := []any{}
		page := s.pageLocked(offset, s.opts.PageSize)
		for _, u := range page {
			data = append(data, archiveJSON(u))
		}
		var next any
		if offset+len(page) < len(s.order) {
			next = "c" + strconv.Itoa(offset+len(page))
			if s.loop {
				next = "c" + strconv.Itoa(offset)
			}
		}
		if h := s.opts.CursorHeader; h != "" {
			if next != nil {
				w.Header().Set(h, next.(string))
			}
			next = nil
		}
		writeJSONStatus(w, http.StatusOK, map[string]any{"data": data, "next_cursor": next})
	case rest == "" && r.Method == http.MethodPost:
		var m map[string]any
		if err := readJSON(r, &m); err != nil {
			writeJSONStatus(w, http.StatusBadRequest, map[string]any{"error": err.Error()})
			return
		}
		u := &RESTUser{Active: true}
		setField(&u.Email, m, "email")
		name, _ := field(m, "name")
		u.GivenName, u.FamilyName, _ = strings.Cut(name, " ")
		switch {
		case u.Email == "" || s.failEmail[strings.ToLower(u.Email)]:
			writeJSONStatus(w, http.StatusBadRequest, map[string]any{"error": "invalid email " + u.Email})
			return
		case s.emailTakenLocked(u.Email, ""):
			writeJSONStatus(w, http.StatusConflict, map[string]any{"error": "email already registered"})
			return
		}
		u.ID = s.newIDLocked()
		s.insertLocked(u)
		writeJSONStatus(w, http.StatusCreated, archiveJSON(u))
	case len(parts) == 2 && r.Method == http.MethodPost && (parts[1] == "archive" || parts[1] == "unarchive"):
		u := s.users[parts[0]]
		if u == nil {
			writeJSONStatus(w, http.StatusNotFound, map[string]any{"error": "no such user"})
			return
		}
		u.Active = parts[1] == "unarchive"
		writeJSONStatus(w, http.StatusOK, archiveJSON(u))
	default:
		writeJSONStatus(w, http.StatusMethodNotAllowed, map[string]any{"error": "method not allowed"})
	}
}

// --- style 4: users API v2 ----------------------------------------------------

func usersV2JSON(u *RESTUser) map[string]any {
	status := "Active"
	if !u.Active {
		status = "Inactive"
	}
	return map[string]any{"Id": u.ID, "CompanyId": 42, "ExternalId": u.ExternalID, "FirstName": u.GivenName, "LastName": u.FamilyName,
		"Email": u.Email, "Status": status, "LastActivity": nil, "Folders": []any{}, "Groups": u.Orgs, "WebsiteRole": u.Role}
}

// v2Error answers the way this style does: HTTP 200 with the error in the envelope.
func v2Error(w http.ResponseWriter, code, msg string) {
	writeJSONStatus(w, http.StatusOK, map[string]any{"ResponseStatus": map[string]any{"ErrorCode": code, "Message": msg}})
}

func (s *REST) usersV2(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if q.Get("format") != "json" {
		http.Error(w, "<error>format=json is required</error>", http.StatusBadRequest)
		return
	}
	if q.Get("CompanyId") != UsersV2Company || !s.secretOK(q.Get("IntegrationKey")) {
		v2Error(w, "InvalidIntegrationKey", "CompanyId or IntegrationKey is not valid")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	ok := map[string]any{}
	switch {
	case r.URL.Path == "/api/v2/user/search" && r.Method == http.MethodGet:
		page, size := atoi(q.Get("PageNumber"), 1), atoi(q.Get("PageSize"), 50)
		size = min(max(size, 1), s.opts.PageSize)
		users := []any{}
		for _, u := range s.pageLocked((max(page, 1)-1)*size, size) {
			users = append(users, usersV2JSON(u))
		}
		writeJSONStatus(w, http.StatusOK, map[string]any{"Users": users, "TotalRecords": len(s.order) + s.overstate, "ResponseStatus": ok})
	case r.URL.Path == "/api/v2/user" && r.Method == http.MethodGet:
		u := s.users[q.Get("Id")]
		if u == nil {
			v2Error(w, "UserNotFound", "no user with Id "+q.Get("Id"))
			return
		}
		writeJSONStatus(w, http.StatusOK, map[string]any{"User": usersV2JSON(u), "ResponseStatus": ok})
	case r.URL.Path == "/api/v2/user" && r.Method == http.MethodDelete:
		if !s.deleteLocked(q.Get("Id")) {
			v2Error(w, "UserNotFound", "no user with Id "+q.Get("Id"))
			return
		}
		writeJSONStatus(w, http.StatusOK, map[string]any{"ResponseStatus": ok})
	case r.URL.Path == "/api/v2/user" && r.Method == http.MethodPost:
		var m map[string]any
		if err := readJSON(r, &m); err != nil {
			v2Error(w, "InvalidRequest", err.Error())
			return
		}
		id, _ := field(m, "Id")
		var next RESTUser
		if id != "" {
			u := s.users[id]
			if u == nil {
				v2Error(w, "UserNotFound", "no user with Id "+id)
				return
			}
			next = *u
		} else {
			next.Active = true
		}
		setField(&next.ExternalID, m, "ExternalId")
		setField(&next.Email, m, "Email")
		setField(&next.GivenName, m, "FirstName")
		setField(&next.FamilyName, m, "LastName")
		setField(&next.Role, m, "WebsiteRole")
		setList(&next.Orgs, m, "Groups")
		if st, ok := field(m, "Status"); ok {
			switch st {
			case "Active", "Inactive":
				next.Active = st == "Active"
			default:
				v2Error(w, "InvalidStatus", "Status must be Active or Inactive")
				return
			}
		}
		switch {
		case next.Email == "":
			v2Error(w, "EmailRequired", "Email is required")
			return
		case s.failEmail[strings.ToLower(next.Email)]:
			v2Error(w, "InvalidEmail", "Email "+next.Email+" is not allowed")
			return
		case s.emailTakenLocked(next.Email, id):
			v2Error(w, "DuplicateEmail", "a user with Email "+next.Email+" exists")
			return
		}
		if id == "" {
			next.ID = s.newIDLocked()
			s.insertLocked(&next)
		} else {
			*s.users[id] = next
		}
		writeJSONStatus(w, http.StatusOK, map[string]any{"User": usersV2JSON(&next), "ResponseStatus": ok})
	default:
		v2Error(w, "NotFound", "no such endpoint")
	}
}
