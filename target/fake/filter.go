package fake

import (
	"encoding/json"
	"strings"
)

// parseFilter supports the filters a provisioning client sends (RFC 7644
// §3.4.2.2, "eq" only): id, externalId (case-exact), userName (case-insensitive),
// emails.value and emails[value eq "…"] (case-insensitive). Values are JSON
// strings, with their escapes.
func parseFilter(f string) (func(*Resource) bool, *scimError) {
	f = strings.TrimSpace(f)
	lower := strings.ToLower(f)
	if strings.HasPrefix(lower, "emails[") && strings.HasSuffix(f, "]") {
		attr, val, err := parseEq(f[len("emails[") : len(f)-1])
		if err != nil {
			return nil, err
		}
		if !strings.EqualFold(attr, "value") {
			return nil, badRequest("invalidFilter", "unsupported filter: %s", f)
		}
		return emailMatch(val), nil
	}
	attr, val, err := parseEq(f)
	if err != nil {
		return nil, err
	}
	if len(attr) > len(SchemaUser)+1 && strings.EqualFold(attr[:len(SchemaUser)+1], SchemaUser+":") {
		attr = attr[len(SchemaUser)+1:]
	}
	switch strings.ToLower(attr) {
	case "id":
		return func(r *Resource) bool { return r.ID == val }, nil
	case "externalid":
		return func(r *Resource) bool { return r.ExternalID == val }, nil
	case "username":
		return func(r *Resource) bool { return strings.EqualFold(r.UserName, val) }, nil
	case "emails", "emails.value":
		return emailMatch(val), nil
	}
	return nil, badRequest("invalidFilter", "unsupported filter attribute %q", attr)
}

func emailMatch(val string) func(*Resource) bool {
	return func(r *Resource) bool {
		for _, e := range r.Emails {
			if strings.EqualFold(e.Value, val) {
				return true
			}
		}
		return false
	}
}

// parseEq parses `attr eq "value"`.
func parseEq(s string) (attr, val string, err *scimError) {
	s = strings.TrimSpace(s)
	i := strings.IndexAny(s, " \t")
	if i < 0 {
		return "", "", badRequest("invalidFilter", "unsupported filter: %s", s)
	}
	attr, rest := s[:i], strings.TrimSpace(s[i:])
	j := strings.IndexAny(rest, " \t")
	if j < 0 || !strings.EqualFold(rest[:j], "eq") {
		return "", "", badRequest("invalidFilter", "unsupported filter (only eq): %s", s)
	}
	lit := strings.TrimSpace(rest[j:])
	if !strings.HasPrefix(lit, `"`) || json.Unmarshal([]byte(lit), &val) != nil {
		return "", "", badRequest("invalidFilter", "filter value must be one JSON string: %s", lit)
	}
	return attr, val, nil
}

// applyOp applies one PATCH operation (RFC 7644 §3.5.2) to a resource's
// attributes. Paths are an attribute, attr.subAttr, or either prefixed by a
// schema URN; value filters in paths are not supported.
func applyOp(m map[string]any, op, path string, value any) *scimError {
	switch op {
	case "add", "replace", "remove":
	default:
		return badRequest("invalidSyntax", "unknown PATCH op %q", op)
	}
	if path == "" {
		if op == "remove" {
			return badRequest("noTarget", "remove needs a path")
		}
		obj, ok := value.(map[string]any)
		if !ok {
			return badRequest("invalidValue", "an operation without path needs an object value")
		}
		for k, v := range obj {
			if strings.EqualFold(k, SchemaEnterprise) {
				ext, ok := v.(map[string]any)
				if !ok {
					return badRequest("invalidValue", "%s must be an object", SchemaEnterprise)
				}
				for ek, ev := range ext {
					if err := applyOp(m, op, SchemaEnterprise+":"+ek, ev); err != nil {
						return err
					}
				}
				continue
			}
			if err := applyOp(m, op, k, v); err != nil {
				return err
			}
		}
		return nil
	}
	if strings.ContainsAny(path, "[]") {
		return badRequest("invalidPath", "value filters in paths are not supported: %s", path)
	}
	top, sub := splitPath(path)
	key := keyOf(m, top)
	if sub == "" {
		switch {
		case op == "remove":
			delete(m, key)
		case op == "add":
			if arr, ok := m[key].([]any); ok {
				if add, ok := value.([]any); ok {
					m[key] = append(arr, add...)
					return nil
				}
			}
			fallthrough
		default:
			if cur, ok := m[key].(map[string]any); ok {
				if obj, ok := value.(map[string]any); ok {
					for k, v := range obj {
						cur[keyOf(cur, k)] = v
					}
					return nil
				}
			}
			m[key] = value
		}
		return nil
	}
	parent, ok := m[key].(map[string]any)
	if !ok {
		if op == "remove" {
			return nil
		}
		parent = map[string]any{}
		m[key] = parent
	}
	if op == "remove" {
		delete(parent, keyOf(parent, sub))
		return nil
	}
	parent[keyOf(parent, sub)] = value
	return nil
}

// splitPath splits a PATCH path into a top-level attribute and an optional
// sub-attribute. The enterprise extension's attributes are sub-attributes of the
// extension's URN.
func splitPath(p string) (top, sub string) {
	if strings.EqualFold(p, SchemaEnterprise) {
		return SchemaEnterprise, ""
	}
	if len(p) > len(SchemaEnterprise)+1 && strings.EqualFold(p[:len(SchemaEnterprise)+1], SchemaEnterprise+":") {
		return SchemaEnterprise, p[len(SchemaEnterprise)+1:]
	}
	if len(p) > len(SchemaUser)+1 && strings.EqualFold(p[:len(SchemaUser)+1], SchemaUser+":") {
		p = p[len(SchemaUser)+1:]
	}
	if i := strings.IndexByte(p, '.'); i >= 0 {
		return p[:i], p[i+1:]
	}
	return p, ""
}

// keyOf returns m's key equal to name case-insensitively, or name.
func keyOf(m map[string]any, name string) string {
	if _, ok := m[name]; ok {
		return name
	}
	for k := range m {
		if strings.EqualFold(k, name) {
			return k
		}
	}
	return name
}
