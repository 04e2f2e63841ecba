package transform

import (
	"os"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// TestREADME_TransformExampleCompiles keeps the README's example valid.
func TestREADME_TransformExampleCompiles(t *testing.T) {
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, block, ok := strings.Cut(string(readme), "```yaml\ntransform:\n")
	if !ok {
		t.Fatal("README.md: no transform example")
	}
	block, _, _ = strings.Cut(block, "```")
	var doc map[string]string
	if err := yaml.Unmarshal([]byte(block), &doc); err != nil {
		t.Fatalf("README.md's transform example is not YAML: %v", err)
	}
	cfg := Config{Extra: map[string]string{}}
	for k, v := range doc {
		switch k {
		case "username":
			cfg.Username = v
		case "display_name":
			cfg.DisplayName = v
		case "active":
			cfg.Active = v
		default:
			name, ok := strings.CutPrefix(k, "extra.")
			if !ok {
				t.Fatalf("README.md's transform example has key %q this test does not know", k)
			}
			cfg.Extra[name] = v
		}
	}
	p, err := cfg.Compile()
	if err != nil {
		t.Fatalf("README.md's transform example: %v", err)
	}
	if len(p.Keys()) != len(doc) {
		t.Errorf("compiled %d keys of %d", len(p.Keys()), len(doc))
	}
}
