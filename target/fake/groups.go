package fake

import (
	"net/http"
	"regexp"
	"slices"
)

// AddGroup creates an empty SCIM group with id, for PATCH /Groups/{id}.
func (s *Server) AddGroup(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.groups == nil {
		s.groups = map[string]map[string]bool{}
	}
	if s.groups[id] == nil {
		s.groups[id] = map[string]bool{}
	}
}

// Members returns the sorted member ids of group id.
func (s *Server) Members(id string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for m := range s.groups[id] {
		out = append(out, m)
	}
	slices.Sort(out)
	return out
}

// RemoveMember takes member id out of group id, as a platform does by itself
// (some drop a deactivated account's memberships). It reports whether id was
// a member.
func (s *Server) RemoveMember(group, id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.groups[group][id] {
		return false
	}
	delete(s.groups[group], id)
	return true
}

var memberFilter = regexp.MustCompile(`^members\[value eq "([^"]*)"\]$`)

// patchGroup applies a PatchOp adding members (path "members", value a list of
// {"value": id}) or removing one (path `members[value eq "id"]`) to group id.
func (s *Server) patchGroup(w http.ResponseWriter, r *http.Request, id string) {
	if r.Method != http.MethodPatch {
		s.writeError(w, &scimError{status: http.StatusMethodNotAllowed, detail: r.Method + " not allowed on /Groups/{id}"})
		return
	}
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
	members, ok := s.groups[id]
	if !ok {
		return &scimError{status: http.StatusNotFound, detail: "no group " + id}
	}
	for _, o := range ops {
		op, _ := o.(map[string]any)
		path, _ := op["path"].(string)
		switch op["op"] {
		case "add":
			vals, _ := op["value"].([]any)
			for _, v := range vals {
				vm, _ := v.(map[string]any)
				uid, _ := vm["value"].(string)
				if _, exists := s.users[uid]; !exists {
					return badRequest("invalidValue", "no user %s", uid)
				}
				members[uid] = true
			}
		case "remove":
			sm := memberFilter.FindStringSubmatch(path)
			if sm == nil {
				return badRequest("invalidPath", "unsupported path %q", path)
			}
			delete(members, sm[1])
		default:
			return badRequest("invalidSyntax", "unsupported op %v", op["op"])
		}
	}
	return nil
}
