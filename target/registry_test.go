package target_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/dirsync/dirsync/target"
	_ "github.com/dirsync/dirsync/target/targets" // scim and rest, as dirsync is built
)

// ldifPlatform is a target type of its own, registered by this test alone.
type ldifPlatform struct{ cfg target.Config }

func (ldifPlatform) Check(context.Context) error { return nil }

func init() {
	target.Register(target.Kind{
		Name: "ldif",
		Validate: func(cfg target.Config) []error {
			if !strings.HasSuffix(cfg.URL, ".ldif") {
				return []error{errors.New("target.url: must name an .ldif file for target.type ldif")}
			}
			return nil
		},
		NeedsToken: func(target.Config) bool { return false },
		New: func(cfg target.Config, _ ...target.Option) (target.Platform, error) {
			if err := cfg.Validate(); err != nil {
				return nil, err
			}
			return ldifPlatform{cfg}, nil
		},
	})
}

func TestRegistry_ARegisteredTypeIsValidatedAndBuiltByName(t *testing.T) {
	c := target.Default()
	c.Type, c.URL = "ldif", "https://platform.example.com/export.ldif"
	if err := c.Validate(); err != nil {
		t.Fatalf("Validate: %v (a registered type that needs no token)", err)
	}
	p, err := target.New(c)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	if got, ok := p.(ldifPlatform); !ok || got.cfg.URL != c.URL {
		t.Fatalf("New built %#v, want the ldif type's client for %s", p, c.URL)
	}

	c.URL = "https://platform.example.com/export.csv"
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "target.url: must name an .ldif file") {
		t.Fatalf("Validate = %v, want the type's own check", err)
	}
	if _, err := target.New(c); err == nil {
		t.Fatal("New built a client from a config its type refuses")
	}
}

func TestRegistry_UnknownTypeNamesTheBuiltInOnes(t *testing.T) {
	if got := target.Types(); !slices.Equal(got[:1], []string{target.TypeSCIM}) || !slices.Contains(got, target.TypeREST) || !slices.Contains(got, "ldif") {
		t.Fatalf("Types = %v, want scim first, with rest and ldif", got)
	}
	c := target.Default()
	c.Type, c.URL, c.Token = "soap", "https://platform.example.com", "tok"
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), `target.type: unknown type "soap" (want scim, ldif or rest)`) {
		t.Fatalf("Validate = %v", err)
	}
	if _, err := target.New(c); err == nil || !strings.Contains(err.Error(), `target.type: "soap" is not supported by this version of dirsync (supported: scim, ldif, rest)`) {
		t.Fatalf("New = %v", err)
	}
}

func TestRegistry_DefaultTypeIsSCIM(t *testing.T) {
	k, ok := target.Lookup("")
	if !ok || k.Name != target.TypeSCIM {
		t.Fatalf(`Lookup("") = %q, %v; want scim`, k.Name, ok)
	}
}
