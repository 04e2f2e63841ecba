package fake

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
)

// RESTGroup is a group held by a REST fake (lifecycle style: Okta's Groups
// API, /api/v1/groups, with the directory group's ID kept in
// profile.externalId).
type RESTGroup struct {
	ID, Name, ExternalID string
	// Members are the member user ids, sorted.
	Members []string
}

type restGroup struct {
	RESTGroup
	members map[string]bool
}

func (g *restGroup) snapshot() RESTGroup {
	out := g.RESTGroup
	out.Members = nil
	for m := range g.members {
		out.Members = append(out.Members, m)
	}
	slices.Sort(out.Members)
	return out
}

func (g *restGroup) json() map[string]any {
	return map[string]any{"id": g.ID, "type": "OKTA_GROUP",
		"profile": map[string]any{"name": g.Name, "description": nil, "externalId": g.ExternalID}}
}

// Groups returns the fake's groups, in creation order.
func (s *REST) Groups() []RESTGroup {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []RESTGroup
	for _, id := range s.groupOrder {
		out = append(out, s.groups[id].snapshot())
	}
	return out
}

// PutGroup creates a group as a person would, and returns its id.
func (s *REST) PutGroup(name, externalID string, members ...string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	g := s.insertGroupLocked(name, externalID)
	for _, m := range members {
		g.members[m] = true
	}
	return g.ID
}

// EditGroup changes group id as a person would: a new name when not "",
// members added and removed.
func (s *REST) EditGroup(id, name string, add, remove []string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	g, ok := s.groups[id]
	if !ok {
		return false
	}
	if name != "" {
		g.Name = name
	}
	for _, m := range add {
		g.members[m] = true
	}
	for _, m := range remove {
		delete(g.members, m)
	}
	return true
}

func (s *REST) insertGroupLocked(name, externalID string) *restGroup {
	if s.groups == nil {
		s.groups = map[string]*restGroup{}
	}
	g := &restGroup{RESTGroup: RESTGroup{ID: "00g" + s.newIDLocked(), Name: name, ExternalID: externalID}, members: map[string]bool{}}
	s.groups[g.ID] = g
	s.groupOrder = append(s.groupOrder, g.ID)
	return g
}

// lifecycleGroups serves /api/v1/groups in the lifecycle style: list (one
// page), create (a name held by another group is a 400 E0000001), replace
// the profile, delete, the members listed a page at a time (limit, after,
// Link rel="next"), a member added (PUT) and removed (DELETE). s.mu is held.
func (s *REST) lifecycleGroups(w http.ResponseWriter, r *http.Request, rest string) {
	parts := strings.Split(strings.Trim(rest, "/"), "/")
	profile := func() (name, ext string, ok bool) {
		var m map[string]any
		if err := readJSON(r, &m); err != nil {
			return "", "", false
		}
		p, _ := m["profile"].(map[string]any)
		name, _ = p["name"].(string)
		ext, _ = p["externalId"].(string)
		return name, ext, name != ""
	}
	taken := func(name, except string) bool {
		for id, g := range s.groups {
			if id != except && strings.EqualFold(g.Name, name) {
				return true
			}
		}
		return false
	}
	switch {
	case rest == "" && r.Method == http.MethodGet:
		items := []any{}
		for _, id := range s.groupOrder {
			items = append(items, s.groups[id].json())
		}
		writeJSONStatus(w, http.StatusOK, items)
		return
	case rest == "" && r.Method == http.MethodPost:
		name, ext, ok := profile()
		switch {
		case !ok:
			lifecycleError(w, http.StatusBadRequest, "E0000001", "Api validation failed: name", "name: The field cannot be left blank")
		case taken(name, ""):
			lifecycleError(w, http.StatusBadRequest, "E0000001", "Api validation failed: name",
				"name: An object with this field already exists in the current organization")
		default:
			writeJSONStatus(w, http.StatusOK, s.insertGroupLocked(name, ext).json())
		}
		return
	}
	g := s.groups[parts[0]]
	if g == nil {
		lifecycleError(w, http.StatusNotFound, "E0000007", "Not found: Resource not found: "+parts[0]+" (UserGroup)")
		return
	}
	switch {
	case len(parts) == 1 && r.Method == http.MethodPut:
		name, ext, ok := profile()
		switch {
		case !ok:
			lifecycleError(w, http.StatusBadRequest, "E0000001", "Api validation failed: name", "name: The field cannot be left blank")
		case taken(name, g.ID):
			lifecycleError(w, http.StatusBadRequest, "E0000001", "Api validation failed: name",
				"name: An object with this field already exists in the current organization")
		default:
			g.Name, g.ExternalID = name, ext
			writeJSONStatus(w, http.StatusOK, g.json())
		}
	case len(parts) == 1 && r.Method == http.MethodDelete:
		delete(s.groups, g.ID)
		s.groupOrder = slices.DeleteFunc(s.groupOrder, func(id string) bool { return id == g.ID })
		w.WriteHeader(http.StatusNoContent)
	case len(parts) == 2 && parts[1] == "users" && r.Method == http.MethodGet:
		ids := g.snapshot().Members
		q := r.URL.Query()
		limit := min(max(atoi(q.Get("limit"), 200), 1), s.opts.PageSize)
		start := 0
		if after := q.Get("after"); after != "" {
			start = slices.Index(ids, after) + 1
			if start == 0 {
				lifecycleError(w, http.StatusBadRequest, "E0000031", "Invalid search criteria.", "after: unknown cursor")
				return
			}
		}
		end := min(start+limit, len(ids))
		items := []any{}
		for _, id := range ids[start:end] {
			if u := s.users[id]; u != nil {
				items = append(items, lifecycleJSON(u))
			} else {
				items = append(items, map[string]any{"id": id})
			}
		}
		if end < len(ids) {
			next := url.Values{"limit": {strconv.Itoa(limit)}, "after": {ids[end-1]}}
			w.Header().Add("Link", fmt.Sprintf("<%s>; rel=\"next\"", absURL(r, r.URL.Path, next)))
		}
		writeJSONStatus(w, http.StatusOK, items)
	case len(parts) == 3 && parts[1] == "users" && r.Method == http.MethodPut:
		if s.users[parts[2]] == nil {
			lifecycleError(w, http.StatusNotFound, "E0000007", "Not found: Resource not found: "+parts[2]+" (User)")
			return
		}
		g.members[parts[2]] = true
		w.WriteHeader(http.StatusNoContent)
	case len(parts) == 3 && parts[1] == "users" && r.Method == http.MethodDelete:
		delete(g.members, parts[2])
		w.WriteHeader(http.StatusNoContent)
	default:
		lifecycleError(w, http.StatusMethodNotAllowed, "E0000022", "The endpoint does not support the provided HTTP method")
	}
}
