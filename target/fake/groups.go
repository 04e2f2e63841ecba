package fake

import (
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// SchemaGroup is the core Group schema (RFC 7643 §4.2).
const SchemaGroup = "urn:ietf:params:scim:schemas:core:2.0:Group"

// group is a SCIM Group (RFC 7643 §4.2): displayName (required, unique
// here, case-insensitively, as most platforms make it), externalId, and
// members referring to users by id.
type group struct {
	ID          string
	ExternalID  string
	DisplayName string
	Members     map[string]bool
	Created     time.Time
	Version     int
}

// GroupInfo is a group as a test sees it.
type GroupInfo struct {
	ID, ExternalID, DisplayName string
	// Members are the member user ids, sorted.
	Members []string
}

func (g *group) info() GroupInfo {
	members := make([]string, 0, len(g.Members))
	for m := range g.Members {
		members = append(members, m)
	}
	slices.Sort(members)
	return GroupInfo{ID: g.ID, ExternalID: g.ExternalID, DisplayName: g.DisplayName, Members: members}
}

func (g *group) json(base string) map[string]any {
	members := []map[string]any{}
	for _, id := range g.info().Members {
		members = append(members, map[string]any{"value": id, "$ref": base + "/Users/" + id, "type": "User"})
	}
	m := map[string]any{
		"schemas":     []string{SchemaGroup},
		"id":          g.ID,
		"displayName": g.DisplayName,
		"members":     members,
		"meta": map[string]any{
			"resourceType": "Group",
			"created":      g.Created.UTC().Format(time.RFC3339),
			"location":     base + "/Groups/" + g.ID,
			"version":      fmt.Sprintf("W/\"%d\"", g.Version),
		},
	}
	if g.ExternalID != "" {
		m["externalId"] = g.ExternalID
	}
	return m
}

// AddGroup creates an empty SCIM group with id (its displayName too), for
// PATCH /Groups/{id}.
func (s *Server) AddGroup(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.groups == nil {
		s.groups = map[string]*group{}
	}
	if s.groups[id] == nil {
		s.groups[id] = &group{ID: id, DisplayName: id, Members: map[string]bool{}, Created: s.opts.Now(), Version: 1}
		s.groupOrder = append(s.groupOrder, id)
	}
}

// PutGroup creates a group as a person would on the platform, with members
// (user ids, which need not exist), and returns its id.
func (s *Server) PutGroup(displayName, externalID string, members ...string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	g := s.insertGroupLocked(displayName, externalID)
	for _, m := range members {
		g.Members[m] = true
	}
	return g.ID
}

// Group returns group id, and whether it exists.
func (s *Server) Group(id string) (GroupInfo, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	g, ok := s.groups[id]
	if !ok {
		return GroupInfo{}, false
	}
	return g.info(), true
}

// Groups returns every group, in creation order.
func (s *Server) Groups() []GroupInfo {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]GroupInfo, 0, len(s.groupOrder))
	for _, id := range s.groupOrder {
		out = append(out, s.groups[id].info())
	}
	return out
}

// GroupByName returns the group named displayName (case-insensitively).
func (s *Server) GroupByName(displayName string) (GroupInfo, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, id := range s.groupOrder {
		if g := s.groups[id]; strings.EqualFold(g.DisplayName, displayName) {
			return g.info(), true
		}
	}
	return GroupInfo{}, false
}

// EditGroup changes group id as a person would on the platform: a new
// displayName when not "", members added and removed. It reports whether
// the group exists.
func (s *Server) EditGroup(id, displayName string, add, remove []string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	g, ok := s.groups[id]
	if !ok {
		return false
	}
	if displayName != "" {
		g.DisplayName = displayName
	}
	for _, m := range add {
		g.Members[m] = true
	}
	for _, m := range remove {
		delete(g.Members, m)
	}
	g.Version++
	return true
}

// DeleteGroup deletes group id as a person would on the platform.
func (s *Server) DeleteGroup(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.deleteGroupLocked(id)
}

// Members returns the sorted member ids of group id.
func (s *Server) Members(id string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	g, ok := s.groups[id]
	if !ok {
		return nil
	}
	m := g.info().Members
	if len(m) == 0 {
		return nil
	}
	return m
}

// RemoveMember takes member id out of group id, as a platform does by itself
// (some drop a deactivated account's memberships). It reports whether id was
// a member.
func (s *Server) RemoveMember(group, id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	g, ok := s.groups[group]
	if !ok || !g.Members[id] {
		return false
	}
	delete(g.Members, id)
	return true
}

func (s *Server) insertGroupLocked(displayName, externalID string) *group {
	if s.groups == nil {
		s.groups = map[string]*group{}
	}
	id := s.newIDLocked()
	for s.groups[id] != nil {
		id = s.newIDLocked()
	}
	g := &group{ID: id, ExternalID: externalID, DisplayName: displayName, Members: map[string]bool{}, Created: s.opts.Now(), Version: 1}
	s.groups[id] = g
	s.groupOrder = append(s.groupOrder, id)
	return g
}

func (s *Server) deleteGroupLocked(id string) bool {
	if _, ok := s.groups[id]; !ok {
		return false
	}
	delete(s.groups, id)
	s.groupOrder = slices.DeleteFunc(s.groupOrder, func(x string) bool { return x == id })
	return true
}

// groupNameTakenLocked reports whether displayName is held by a group other
// than except.
func (s *Server) groupNameTakenLocked(displayName, except string) bool {
	for id, g := range s.groups {
		if id != except && strings.EqualFold(g.DisplayName, displayName) {
			return true
		}
	}
	return false
}

// serveGroups serves /Groups and /Groups/{id} (RFC 7644 §3.3–3.6): list
// with filters on id, externalId and displayName and startIndex/count
// paging, create, get, replace, patch (members added and removed, the
// displayName replaced), delete.
func (s *Server) serveGroups(w http.ResponseWriter, r *http.Request, path, base string) {
	if path == "/Groups" {
		switch r.Method {
		case http.MethodGet:
			s.listGroups(w, r, base)
		case http.MethodPost:
			s.createGroup(w, r, base)
		default:
			s.writeError(w, &scimError{status: http.StatusMethodNotAllowed, detail: r.Method + " not allowed on /Groups"})
		}
		return
	}
	id := strings.TrimPrefix(path, "/Groups/")
	switch r.Method {
	case http.MethodGet:
		s.mu.Lock()
		g, ok := s.groups[id]
		var body map[string]any
		if ok {
			body = g.json(base)
		}
		s.mu.Unlock()
		if !ok {
			s.writeError(w, notFound(id))
			return
		}
		s.writeJSON(w, http.StatusOK, body)
	case http.MethodPatch:
		s.patchGroup(w, r, id)
	case http.MethodPut:
		s.replaceGroup(w, r, id, base)
	case http.MethodDelete:
		s.mu.Lock()
		ok := s.deleteGroupLocked(id)
		s.mu.Unlock()
		if !ok {
			s.writeError(w, notFound(id))
			return
		}
		w.WriteHeader(http.StatusNoContent)
	default:
		s.writeError(w, &scimError{status: http.StatusMethodNotAllowed, detail: r.Method + " not allowed on /Groups/{id}"})
	}
}

func (s *Server) listGroups(w http.ResponseWriter, r *http.Request, base string) {
	q := r.URL.Query()
	match := func(*group) bool { return true }
	if f := q.Get("filter"); f != "" {
		attr, val, err := parseEq(f)
		if err != nil {
			s.writeError(w, err)
			return
		}
		switch strings.ToLower(attr) {
		case "id":
			match = func(g *group) bool { return g.ID == val }
		case "externalid":
			match = func(g *group) bool { return g.ExternalID == val }
		case "displayname":
			match = func(g *group) bool { return strings.EqualFold(g.DisplayName, val) }
		default:
			s.writeError(w, badRequest("invalidFilter", "unsupported filter attribute %q", attr))
			return
		}
	}
	start, count := 1, defaultPageSize
	if v, err := strconv.Atoi(q.Get("startIndex")); err == nil {
		start = max(v, 1)
	}
	if v, err := strconv.Atoi(q.Get("count")); err == nil {
		count = max(v, 0)
	}
	if s.opts.MaxPageSize > 0 {
		count = min(count, s.opts.MaxPageSize)
	}
	noMembers := strings.EqualFold(q.Get("excludedAttributes"), "members")
	s.mu.Lock()
	hits := []map[string]any{}
	total := 0
	for _, id := range s.groupOrder {
		g := s.groups[id]
		if !match(g) {
			continue
		}
		total++
		if total >= start && len(hits) < count {
			j := g.json(base)
			if noMembers {
				delete(j, "members")
			}
			hits = append(hits, j)
		}
	}
	s.mu.Unlock()
	s.writeJSON(w, http.StatusOK, map[string]any{
		"schemas": []string{schemaList}, "totalResults": total, "startIndex": start,
		"itemsPerPage": len(hits), "Resources": hits,
	})
}

// decodeGroup reads displayName, externalId and members from a Group body.
func decodeGroup(m map[string]any) (name, externalID string, members []string, serr *scimError) {
	for k, v := range m {
		switch strings.ToLower(k) {
		case "displayname":
			name, serr = str(k, v)
		case "externalid":
			externalID, serr = str(k, v)
		case "members":
			members, serr = memberIDs(v)
		}
		if serr != nil {
			return "", "", nil, serr
		}
	}
	if name == "" {
		return "", "", nil, badRequest("invalidValue", "displayName is required")
	}
	return name, externalID, members, nil
}

// memberIDs reads a members value: a list of {"value": user id}.
func memberIDs(v any) ([]string, *scimError) {
	list, ok := v.([]any)
	if !ok {
		return nil, badRequest("invalidValue", "members must be a list of {\"value\": id}")
	}
	ids := make([]string, 0, len(list))
	for _, x := range list {
		m, _ := x.(map[string]any)
		id, _ := m["value"].(string)
		if id == "" {
			return nil, badRequest("invalidValue", "a member has no value")
		}
		ids = append(ids, id)
	}
	return ids, nil
}

func (s *Server) checkUsersLocked(ids []string) *scimError {
	for _, id := range ids {
		if _, ok := s.users[id]; !ok {
			return badRequest("invalidValue", "no user %s", id)
		}
	}
	return nil
}

func (s *Server) createGroup(w http.ResponseWriter, r *http.Request, base string) {
	m, serr := readObject(r)
	if serr != nil {
		s.writeError(w, serr)
		return
	}
	name, ext, members, serr := decodeGroup(m)
	if serr != nil {
		s.writeError(w, serr)
		return
	}
	s.mu.Lock()
	var body map[string]any
	switch {
	case s.groupNameTakenLocked(name, ""):
		serr = &scimError{status: http.StatusConflict, scimType: "uniqueness", detail: "displayName " + name + " is taken"}
	default:
		serr = s.checkUsersLocked(members)
	}
	if serr == nil {
		g := s.insertGroupLocked(name, ext)
		for _, id := range members {
			g.Members[id] = true
		}
		body = g.json(base)
	}
	s.mu.Unlock()
	if serr != nil {
		s.writeError(w, serr)
		return
	}
	s.writeJSON(w, http.StatusCreated, body)
}

func (s *Server) replaceGroup(w http.ResponseWriter, r *http.Request, id, base string) {
	m, serr := readObject(r)
	if serr != nil {
		s.writeError(w, serr)
		return
	}
	name, ext, members, serr := decodeGroup(m)
	if serr != nil {
		s.writeError(w, serr)
		return
	}
	s.mu.Lock()
	g, ok := s.groups[id]
	var body map[string]any
	switch {
	case !ok:
		serr = notFound(id)
	case s.groupNameTakenLocked(name, id):
		serr = &scimError{status: http.StatusConflict, scimType: "uniqueness", detail: "displayName " + name + " is taken"}
	default:
		serr = s.checkUsersLocked(members)
	}
	if serr == nil {
		g.DisplayName, g.ExternalID, g.Members = name, ext, map[string]bool{}
		for _, m := range members {
			g.Members[m] = true
		}
		g.Version++
		body = g.json(base)
	}
	s.mu.Unlock()
	if serr != nil {
		s.writeError(w, serr)
		return
	}
	s.writeJSON(w, http.StatusOK, body)
}

var memberFilter = regexp.MustCompile(`^members\[value eq "([^"]*)"\]$`)

// patchGroup applies a PatchOp (RFC 7644 §3.5.2) to group id: "add" of
// members (path "members", or no path and a value holding members),
// "remove" of one member (path `members[value eq "id"]`), of the listed
// members (path "members" with a value list) or of every member (path
// "members", no value), "replace" of displayName or externalId. The
// operations apply all or none. Removing a non-member changes nothing.
func (s *Server) patchGroup(w http.ResponseWriter, r *http.Request, id string) {
	m, serr := readObject(r)
	if serr != nil {
		s.writeError(w, serr)
		return
	}
	ops, _ := m["Operations"].([]any)
	if serr := s.applyGroupOps(id, ops); serr != nil {
		s.writeError(w, serr)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) applyGroupOps(id string, ops []any) *scimError {
	s.mu.Lock()
	defer s.mu.Unlock()
	g, ok := s.groups[id]
	if !ok {
		return &scimError{status: http.StatusNotFound, detail: "no group " + id}
	}
	// Work on a copy: a failing operation leaves the group as it was.
	next := *g
	next.Members = make(map[string]bool, len(g.Members))
	for k := range g.Members {
		next.Members[k] = true
	}
	for _, o := range ops {
		op, _ := o.(map[string]any)
		path, _ := op["path"].(string)
		opName, _ := op["op"].(string)
		switch strings.ToLower(opName) {
		case "add":
			var vals any
			switch {
			case strings.EqualFold(path, "members"):
				vals = op["value"]
			case path == "":
				v, _ := op["value"].(map[string]any)
				vals = v["members"]
			default:
				return badRequest("invalidPath", "unsupported path %q", path)
			}
			ids, serr := memberIDs(vals)
			if serr != nil {
				return serr
			}
			if serr := s.checkUsersLocked(ids); serr != nil {
				return serr
			}
			for _, uid := range ids {
				next.Members[uid] = true
			}
		case "remove":
			if sm := memberFilter.FindStringSubmatch(path); sm != nil {
				delete(next.Members, sm[1])
				continue
			}
			if !strings.EqualFold(path, "members") {
				return badRequest("invalidPath", "unsupported path %q", path)
			}
			if op["value"] == nil {
				next.Members = map[string]bool{}
				continue
			}
			ids, serr := memberIDs(op["value"])
			if serr != nil {
				return serr
			}
			for _, uid := range ids {
				delete(next.Members, uid)
			}
		case "replace":
			var attrs map[string]any
			switch {
			case path == "":
				attrs, _ = op["value"].(map[string]any)
			default:
				attrs = map[string]any{path: op["value"]}
			}
			for k, v := range attrs {
				var serr *scimError
				switch strings.ToLower(k) {
				case "displayname":
					next.DisplayName, serr = str(k, v)
					if serr == nil && (next.DisplayName == "" || s.groupNameTakenLocked(next.DisplayName, id)) {
						serr = &scimError{status: http.StatusConflict, scimType: "uniqueness", detail: "displayName " + next.DisplayName + " is empty or taken"}
					}
				case "externalid":
					next.ExternalID, serr = str(k, v)
				case "members":
					ids, err := memberIDs(v)
					if err == nil {
						err = s.checkUsersLocked(ids)
					}
					serr = err
					if serr == nil {
						next.Members = map[string]bool{}
						for _, uid := range ids {
							next.Members[uid] = true
						}
					}
				default:
					serr = badRequest("invalidPath", "unsupported path %q", k)
				}
				if serr != nil {
					return serr
				}
			}
		default:
			return badRequest("invalidSyntax", "unsupported op %v", op["op"])
		}
	}
	next.Version++
	*g = next
	return nil
}
