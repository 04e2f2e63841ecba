// Package jsontpl renders JSON request bodies from a template safely.
//
// A template is JSON text. A string leaf that is exactly one reference, such as
// "{{email}}", is replaced by the referenced value with its own JSON type (a
// string, a bool, a list); a reference inside a longer string, such as
// "{{given_name}} {{family_name}}", is interpolated into that string. Values are
// placed into the decoded structure and the whole is encoded again, so a value
// holding quotes, backslashes or newlines can never change the body's shape.
package jsontpl

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
)

// refRE matches one reference; its group is the name.
var refRE = regexp.MustCompile(`\{\{\s*([A-Za-z0-9_.\-]*)\s*\}\}`)

// Template is a parsed body template.
type Template struct {
	root any
	refs []string
}

// Parse parses a JSON template and checks that every reference is a name that
// valid accepts.
func Parse(text string, valid func(name string) bool) (*Template, error) {
	dec := json.NewDecoder(strings.NewReader(text))
	dec.UseNumber()
	var root any
	if err := dec.Decode(&root); err != nil {
		return nil, fmt.Errorf("not valid JSON: %w", err)
	}
	if dec.More() {
		return nil, errors.New("not valid JSON: more than one value")
	}
	t := &Template{root: root}
	var bad []string
	walkStrings(root, func(s string) {
		for _, m := range refRE.FindAllStringSubmatch(s, -1) {
			name := m[1]
			if !slices.Contains(t.refs, name) {
				t.refs = append(t.refs, name)
			}
			if !valid(name) && !slices.Contains(bad, name) {
				bad = append(bad, name)
			}
		}
	})
	if len(bad) > 0 {
		slices.Sort(bad)
		return nil, fmt.Errorf("refers to unknown field(s) %s", strings.Join(quoteAll(bad), ", "))
	}
	return t, nil
}

// Refs lists the names the template refers to, in order of first use.
func (t *Template) Refs() []string { return slices.Clone(t.refs) }

// Render returns the body with every reference replaced by lookup's value. A
// value for a reference inside a longer string is formatted with fmt's %v.
func (t *Template) Render(lookup func(name string) any) ([]byte, error) {
	out := render(t.root, lookup)
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(out); err != nil {
		return nil, fmt.Errorf("encode body: %w", err)
	}
	return bytes.TrimRight(buf.Bytes(), "\n"), nil
}

func render(v any, lookup func(string) any) any {
	switch vv := v.(type) {
	case string:
		if m := refRE.FindStringSubmatchIndex(vv); m != nil && m[0] == 0 && m[1] == len(vv) {
			return lookup(vv[m[2]:m[3]])
		}
		return refRE.ReplaceAllStringFunc(vv, func(ref string) string {
			name := refRE.FindStringSubmatch(ref)[1]
			val := lookup(name)
			if val == nil {
				return ""
			}
			if l, ok := val.([]string); ok {
				return strings.Join(l, ",")
			}
			return fmt.Sprint(val)
		})
	case map[string]any:
		out := make(map[string]any, len(vv))
		for k, e := range vv {
			out[k] = render(e, lookup)
		}
		return out
	case []any:
		out := make([]any, len(vv))
		for i, e := range vv {
			out[i] = render(e, lookup)
		}
		return out
	}
	return v
}

func walkStrings(v any, fn func(string)) {
	switch vv := v.(type) {
	case string:
		fn(vv)
	case map[string]any:
		for _, e := range vv {
			walkStrings(e, fn)
		}
	case []any:
		for _, e := range vv {
			walkStrings(e, fn)
		}
	}
}

func quoteAll(ss []string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = "{{" + s + "}}"
	}
	return out
}
