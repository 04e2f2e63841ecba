package transform

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/dirsync/dirsync/user"
)

func TestCompile_ErrorsNameKeyExpressionAndPosition(t *testing.T) {
	cases := []struct {
		name string
		cfg  Config
		want []string
	}{
		{"syntax error", Config{Username: `lower(split(email "@")[0])`},
			[]string{`transform.username: "lower(split(email \"@\")[0])": unexpected token String("@") at line 1, column 19`}},
		{"syntax error on a later line", Config{DisplayName: "given_name +\n  + + \")\""},
			[]string{`transform.display_name: `, `at line 2, column`}},
		{"number for username", Config{Username: `42`},
			[]string{`transform.username: "42": gives int, want a string`}},
		{"string for active", Config{Active: `email`},
			[]string{`transform.active: "email": gives string, want true or false`}},
		{"unknown input", Config{GivenName: `upper(givenname)`},
			[]string{`transform.given_name: "upper(givenname)": unknown name givenname at line 1, column 7`}},
		{"mismatched operands", Config{Extra: map[string]string{"level": `1 + "a"`}},
			[]string{`transform.extra.level: "1 + \"a\"": invalid operation: + (mismatched types int and string) at line 1, column 3`}},
		{"attr without a name", Config{Email: `attr[username]`},
			[]string{`transform.email: "attr[username]": attr must be followed by an attribute's name, as in attr.mail at line 1, column 6`}},
		{"attr alone", Config{Email: `string(len(attrs))`},
			[]string{`transform.email: "string(len(attrs))": attrs must be followed by an attribute's name, as in attrs.mail at line 1, column 12`}},
		{"dotted extra name", Config{Extra: map[string]string{"a.b": `"x"`}},
			[]string{`transform.extra.a.b: the name of an extra field is one word`}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := c.cfg.Validate()
			if err == nil {
				t.Fatalf("Validate() = nil, want an error")
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error\n  %s\nwant it to contain\n  %s", err, w)
				}
			}
		})
	}
}

func TestCompile_EveryBadKeyIsReported(t *testing.T) {
	err := Config{Username: `42`, Email: `(`, FamilyName: `upper(family_name)`}.Validate()
	if err == nil {
		t.Fatal("Validate() = nil")
	}
	lines := strings.Split(err.Error(), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], "transform.username:") || !strings.HasPrefix(lines[1], "transform.email:") {
		t.Errorf("error lines = %q, want one for username and one for email", lines)
	}
}

func TestCompile_ListsRawAttributesRead(t *testing.T) {
	p, err := Config{
		Username: `lower(attr.employeeNumber)`,
		Extra:    map[string]string{"phones": `join(attrs.telephoneNumber, ",")`, "cost": `attr["costCenter"] ?? ""`},
	}.Compile()
	if err != nil {
		t.Fatal(err)
	}
	if got, want := p.Attributes(), []string{"costCenter", "employeeNumber", "telephoneNumber"}; !reflect.DeepEqual(got, want) {
		t.Errorf("Attributes() = %q, want %q", got, want)
	}
	if got, want := p.Keys(), []string{"username", "extra.cost", "extra.phones"}; !reflect.DeepEqual(got, want) {
		t.Errorf("Keys() = %q, want %q", got, want)
	}
}

func TestCompile_EmptyConfigIsNoProgram(t *testing.T) {
	p, err := Config{Username: "  ", Extra: map[string]string{"x": ""}}.Compile()
	if p != nil || err != nil {
		t.Errorf("Compile() = %v, %v; want nil, nil", p, err)
	}
}

func TestApply_FieldsFromMappedFieldsAndRawAttributes(t *testing.T) {
	p, err := Config{
		Username:    `lower(split(email, "@")[0])`,
		DisplayName: `given_name + " " + family_name`,
		Active:      `active && attr.employeeType != "former"`,
		Extra: map[string]string{
			"department": `trim(upper(extra.dept))`,
			"phones":     `join(attrs.telephoneNumber, ",")`,
			// Each expression sees the mapped fields, never another's output.
			"login": `username`,
		},
	}.Compile()
	if err != nil {
		t.Fatal(err)
	}
	in := user.User{ID: "1", DN: "uid=jd,dc=x", Username: "jd", Email: "John.Doe@Example.com", GivenName: "John",
		FamilyName: "Doe", Active: true, Extra: map[string]string{"dept": " sales "}}
	got, err := p.NewRunner().Apply(in, map[string][]string{"employeeType": {"former"}, "telephoneNumber": {"1", "2"}})
	if err != nil {
		t.Fatal(err)
	}
	want := user.User{ID: "1", DN: "uid=jd,dc=x", Username: "john.doe", Email: "John.Doe@Example.com", GivenName: "John",
		FamilyName: "Doe", DisplayName: "John Doe", Active: false,
		Extra: map[string]string{"dept": " sales ", "department": "SALES", "phones": "1,2", "login": "jd"}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Apply() =\n  %+v\nwant\n  %+v", got, want)
	}
	if len(in.Extra) != 1 {
		t.Errorf("Apply changed its input's extra fields: %v", in.Extra)
	}
}

func TestApply_RunTimeFailureNamesKeyAndKeepsWhatItCan(t *testing.T) {
	p, err := Config{
		Username:  `split(email, "@")[1]`,
		GivenName: `upper(given_name)`,
		Email:     `email == "" ? nil : email`,
		Active:    `attrs.flag[0] == "on"`,
	}.Compile()
	if err != nil {
		t.Fatal(err)
	}
	r := p.NewRunner()
	got, err := r.Apply(user.User{ID: "1", Username: "jd", GivenName: "john", Active: true}, nil)
	var te *Error
	if !errors.As(err, &te) {
		t.Fatalf("Apply() error = %v, want an *Error", err)
	}
	if want := []string{"username", "email", "active"}; !reflect.DeepEqual(te.Keys, want) {
		t.Errorf("failed keys = %q, want %q", te.Keys, want)
	}
	msg := err.Error()
	for _, w := range []string{
		"transform.username: index out of range: 1 (array length is 1) at column",
		"transform.email: gave nil, want a string",
		"transform.active: index out of range: 0 (array length is 0)",
	} {
		if !strings.Contains(msg, w) {
			t.Errorf("error %q does not contain %q", msg, w)
		}
	}
	if got.Username != "" || got.Email != "" || got.GivenName != "JOHN" || !got.Active || got.ID != "1" {
		t.Errorf("user after a failure = %+v, want failed strings empty, given name transformed, active kept", got)
	}
	// The runner is reused: the next user is computed afresh.
	ok, err := r.Apply(user.User{ID: "2", Username: "x", Email: "a@b", GivenName: "ann", Active: true}, map[string][]string{"flag": {"on"}})
	if err != nil || ok.Username != "b" || ok.Email != "a@b" || !ok.Active {
		t.Errorf("next Apply() = %+v, %v", ok, err)
	}
}
