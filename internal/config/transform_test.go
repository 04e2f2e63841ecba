package config

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestLoad_TransformIsDecodedWithExtraNamesAsWritten(t *testing.T) {
	p := writeConfig(t, minimalConfig+`transform:
  username: 'lower(split(email, "@")[0])'
  extra.costCenter: 'upper(attr.departmentNumber)'
  extra:
    Title: 'trim(extra.title)'
`)
	cfg, err := Load(p, nil)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Transform.Username != `lower(split(email, "@")[0])` {
		t.Errorf("transform.username = %q", cfg.Transform.Username)
	}
	want := map[string]string{"costCenter": "upper(attr.departmentNumber)", "Title": "trim(extra.title)"}
	if !reflect.DeepEqual(cfg.Transform.Extra, want) {
		t.Errorf("transform.extra = %v, want %v", cfg.Transform.Extra, want)
	}
	// The directory read applies it: the source's config carries it.
	if !reflect.DeepEqual(cfg.LDAP.Transform, cfg.Transform) {
		t.Errorf("ldap source transform = %+v, want %+v", cfg.LDAP.Transform, cfg.Transform)
	}
}

func TestLoad_TransformProblemsAreNamedByKey(t *testing.T) {
	p := writeConfig(t, minimalConfig+`transform:
  usrname: 'lower(username)'
  email: 'lower(split(email "@")[0])'
  given_name: 42
  extra.level: '1 + "a"'
`)
	_, err := Load(p, nil)
	var ce *Error
	if !errors.As(err, &ce) {
		t.Fatalf("want *Error, got %v", err)
	}
	for _, want := range []string{
		"transform.usrname: unknown key (did you mean transform.username?)",
		`transform.email: "lower(split(email \"@\")[0])": unexpected token String("@") at line 1, column 19`,
		`transform.given_name: "42": gives int, want a string`,
		`transform.extra.level: "1 + \"a\"": invalid operation: + (mismatched types int and string) at line 1, column 3`,
	} {
		found := false
		for _, prob := range ce.Problems {
			if prob == want {
				found = true
			}
		}
		if !found {
			t.Errorf("problems\n  %s\nlack\n  %s", strings.Join(ce.Problems, "\n  "), want)
		}
	}
}
