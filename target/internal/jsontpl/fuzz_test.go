package jsontpl

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
)

// FuzzRender renders templates of any text with values of any bytes. It must
// never panic; a rendered body is valid JSON whose shape (objects, keys,
// arrays) does not depend on the values: no value can inject structure.
func FuzzRender(f *testing.F) {
	f.Add(`{"email": "{{email}}", "name": "{{given_name}} {{family_name}}", "tags": ["{{x}}", 1, true, null]}`, `a"b`, "}\\\n{")
	f.Add(`"{{v}}"`, `", "admin": true, "x": "`, "")
	f.Add(`[{"a": {"b": "pre {{ v }} post"}}]`, "\xff\xfe", "\u2028")
	f.Add(`{"{{k}}": 1}`, "{{v}}", "{{")
	f.Fuzz(func(t *testing.T, text, v1, v2 string) {
		tpl, err := Parse(text, func(string) bool { return true })
		if err != nil {
			return
		}
		var shapes []string
		for _, v := range []string{v1, v2} {
			body, err := tpl.Render(func(string) any { return v })
			if err != nil {
				return // unencodable values are reported, not rendered
			}
			// UseNumber: a template's literal number may be any valid JSON
			// number (1E1000 is one), not only what a float64 holds.
			dec := json.NewDecoder(bytes.NewReader(body))
			dec.UseNumber()
			var out any
			if err := dec.Decode(&out); err != nil {
				t.Fatalf("rendered body is not JSON: %v\n%s", err, body)
			}
			if dec.More() {
				t.Fatalf("rendered body has data after its JSON value:\n%s", body)
			}
			shapes = append(shapes, shape(out))
		}
		if shapes[0] != shapes[1] {
			t.Fatalf("the body's shape depends on the values:\n%q → %s\n%q → %s", v1, shapes[0], v2, shapes[1])
		}
	})
}

// shape describes v's structure: objects with their keys, arrays with their
// elements, and "v" for every leaf.
func shape(v any) string {
	switch x := v.(type) {
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		var b strings.Builder
		b.WriteString("{")
		for _, k := range keys {
			fmt.Fprintf(&b, "%q:%s,", k, shape(x[k]))
		}
		return b.String() + "}"
	case []any:
		parts := make([]string, len(x))
		for i, e := range x {
			parts[i] = shape(e)
		}
		return "[" + strings.Join(parts, ",") + "]"
	}
	return "v"
}
