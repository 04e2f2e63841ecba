package jsontpl

import (
	"encoding/json"
	"strings"
	"testing"
)

func known(name string) bool { return name == "name" || name == "active" || name == "groups" }

func TestRender_ValuesCannotBreakOrInjectIntoTheBody(t *testing.T) {
	tpl, err := Parse(`{"user": {"name": "{{name}}", "label": "Hi {{ name }}!", "active": "{{active}}", "groups": "{{groups}}", "fixed": 3}}`, known)
	if err != nil {
		t.Fatal(err)
	}
	evil := "O\"Brien\\\n\", \"admin\": true, \"x\": \"</script>"
	body, err := tpl.Render(func(n string) any {
		switch n {
		case "name":
			return evil
		case "active":
			return false
		}
		return []string{"a", "b"}
	})
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		User map[string]any `json:"user"`
	}
	if err := json.Unmarshal(body, &got); err != nil {
		t.Fatalf("body is not JSON: %v\n%s", err, body)
	}
	if len(got.User) != 5 {
		t.Fatalf("body has keys %v, want exactly name, label, active, groups, fixed", got.User)
	}
	if got.User["name"] != evil || got.User["label"] != "Hi "+evil+"!" {
		t.Fatalf("value altered: %q / %q", got.User["name"], got.User["label"])
	}
	if got.User["active"] != false {
		t.Fatalf("active is %#v, want the JSON bool false", got.User["active"])
	}
	if g, ok := got.User["groups"].([]any); !ok || len(g) != 2 {
		t.Fatalf("groups is %#v, want a JSON list", got.User["groups"])
	}
	if got.User["fixed"] != float64(3) {
		t.Fatalf("constant altered: %#v", got.User["fixed"])
	}
}

func TestParse_UnknownReferenceIsAnError(t *testing.T) {
	_, err := Parse(`{"a": "{{name}}", "b": ["{{emial}}"], "c": "x {{ nope }}"}`, known)
	if err == nil || !strings.Contains(err.Error(), "{{emial}}") || !strings.Contains(err.Error(), "{{nope}}") {
		t.Fatalf("got %v, want both unknown references named", err)
	}
}

func TestParse_InvalidJSONIsAnError(t *testing.T) {
	for _, text := range []string{`{"a": "{{name}}"`, `{"a": 1} {"b": 2}`, ``} {
		if _, err := Parse(text, known); err == nil {
			t.Errorf("Parse(%q) accepted invalid JSON", text)
		}
	}
}
