// Package transform shapes the fields of each user after the directory
// mapping: the `transform:` config section, one expression per field,
// written in the expr language (github.com/expr-lang/expr).
//
//	transform:
//	  username: 'lower(split(email, "@")[0])'
//	  display_name: 'given_name + " " + family_name'
//	  extra.department: 'trim(upper(extra.dept))'
//
// Every expression is compiled and type-checked when the config is loaded
// (Config.Validate, Config.Compile): an error names the key, the expression
// and the position in it. A Program then runs per user (Runner.Apply); a
// failure for one user is an *Error the directory read reports as that
// user's skip, never as a failure of the read.
//
// The inputs of every expression (Env) are the user as the directory
// mapping gave it, normalized, and the entry's raw attributes: attr.NAME
// (the first value, "" when there is none) and attrs.NAME (every value, a
// list). Each expression sees the mapped fields, never the output of
// another expression, so the order of the keys does not matter.
//
// config.go holds Config, its validation and compilation; run.go the Program
// and its Runner; preview.go what `dirsync check` prints.
package transform

import (
	"errors"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/file"
	"github.com/expr-lang/expr/parser"

	"github.com/dirsync/dirsync/user"
)

// Config is the `transform:` section: an expression per user field. An
// empty expression leaves its field as the directory mapping gave it.
// Extra keys are the names of extra fields (extra.NAME in the file, either
// as `extra.NAME: expr` or nested under `extra:`); a name that
// ldap.attributes.extra does not map adds a field.
type Config struct {
	Username    string            `mapstructure:"username"`
	Email       string            `mapstructure:"email"`
	GivenName   string            `mapstructure:"given_name"`
	FamilyName  string            `mapstructure:"family_name"`
	DisplayName string            `mapstructure:"display_name"`
	Active      string            `mapstructure:"active"`
	Extra       map[string]string `mapstructure:"extra"`
}

// Env is what an expression can read: the mapped user and the entry's raw
// attributes. Groups are the DNs of the user's groups, lower-cased.
type Env struct {
	ID          string              `expr:"id"`
	DN          string              `expr:"dn"`
	Username    string              `expr:"username"`
	Email       string              `expr:"email"`
	GivenName   string              `expr:"given_name"`
	FamilyName  string              `expr:"family_name"`
	DisplayName string              `expr:"display_name"`
	Active      bool                `expr:"active"`
	Groups      []string            `expr:"groups"`
	Extra       map[string]string   `expr:"extra"`
	Attr        map[string]string   `expr:"attr"`
	Attrs       map[string][]string `expr:"attrs"`
}

// Identifiers of the raw attributes in an expression.
const (
	identAttr  = "attr"
	identAttrs = "attrs"
)

// key is one configured field: its config key, its expression, and how its
// result is stored into the user.
type key struct {
	name  string // username, extra.department, ...
	src   string
	kind  reflect.Kind // String or Bool
	extra string       // the extra field's name, for extra.NAME
}

// keys lists the configured fields in a fixed order: the named fields, then
// the extra fields sorted by name.
func (c Config) keys() []key {
	var out []key
	add := func(name, src string, kind reflect.Kind) {
		if strings.TrimSpace(src) != "" {
			out = append(out, key{name: name, src: src, kind: kind})
		}
	}
	add(user.FieldUsername, c.Username, reflect.String)
	add(user.FieldEmail, c.Email, reflect.String)
	add(user.FieldGivenName, c.GivenName, reflect.String)
	add(user.FieldFamilyName, c.FamilyName, reflect.String)
	add(user.FieldDisplayName, c.DisplayName, reflect.String)
	add(user.FieldActive, c.Active, reflect.Bool)
	for _, name := range slices.Sorted(maps.Keys(c.Extra)) {
		if strings.TrimSpace(c.Extra[name]) != "" {
			out = append(out, key{name: user.FieldExtraPrefix + name, src: c.Extra[name], kind: reflect.String, extra: name})
		}
	}
	return out
}

// Empty reports whether no field is transformed.
func (c Config) Empty() bool { return len(c.keys()) == 0 }

// Validate compiles every expression and reports each one that does not
// compile, or does not give its field's type, named by its key (one error
// per key, joined).
func (c Config) Validate() error {
	_, err := c.Compile()
	return err
}

// Compile compiles every expression into a Program. It returns nil and no
// error when no field is transformed.
func (c Config) Compile() (*Program, error) {
	ks := c.keys()
	var errs []error
	for name := range c.Extra {
		if name == "" || strings.ContainsAny(name, " \t.") {
			errs = append(errs, fmt.Errorf("transform.extra.%s: the name of an extra field is one word, e.g. extra.department", name))
		}
	}
	if len(ks) == 0 {
		return nil, errors.Join(errs...)
	}
	p := &Program{}
	for _, k := range ks {
		f, err := compile(k)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		p.fields = append(p.fields, f)
		for _, a := range f.attrs {
			if !slices.Contains(p.attrs, a) {
				p.attrs = append(p.attrs, a)
			}
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	slices.Sort(p.attrs)
	return p, nil
}

// compile compiles one key's expression, type-checked against Env and the
// field's type.
func compile(k key) (field, error) {
	f := field{key: k}
	fail := func(format string, args ...any) (field, error) {
		return field{}, fmt.Errorf("transform.%s: %q: %s", k.name, k.src, fmt.Sprintf(format, args...))
	}
	tree, err := parser.Parse(k.src)
	if err != nil {
		return fail("%s", position(err))
	}
	attrs, err := rawAttributes(k.src, tree.Node)
	if err != nil {
		return fail("%s", position(err))
	}
	f.attrs = attrs
	as := expr.AsKind(reflect.String)
	want := "a string"
	if k.kind == reflect.Bool {
		as, want = expr.AsBool(), "true or false"
	}
	prog, err := expr.Compile(k.src, expr.Env(Env{}), as)
	if err != nil {
		var fe *file.Error
		if !errors.As(err, &fe) {
			// The result's type: expr names it, the position is the whole expression.
			_, got, _ := strings.Cut(err.Error(), "but got ")
			return fail("gives %s, want %s", got, want)
		}
		return fail("%s", position(err))
	}
	f.prog = prog
	return f, nil
}

// position renders an expr error as its message and where it is: line and
// column (from 1) in the expression.
func position(err error) string {
	var fe *file.Error
	if errors.As(err, &fe) {
		return fmt.Sprintf("%s at line %d, column %d", fe.Message, fe.Line, fe.Column+1)
	}
	return err.Error()
}

// rawAttributes lists the raw attributes node reads (attr.NAME, attrs.NAME,
// attr["NAME"]), and refuses attr or attrs used any other way (attr[x],
// len(attr)): only attributes named in an expression are read from the
// directory.
func rawAttributes(src string, node ast.Node) ([]string, error) {
	v := &attrVisitor{named: map[*ast.IdentifierNode]bool{}}
	ast.Walk(&node, v)
	// Children are visited before their parents: an identifier is known to
	// be followed by a name only once the walk is over.
	for _, id := range v.seen {
		if !v.named[id] {
			v.fail(id, fmt.Sprintf("%s must be followed by an attribute's name, as in %s.mail", id.Value, id.Value))
		}
	}
	if v.err != nil {
		return nil, v.err.Bind(file.NewSource(src))
	}
	return v.attrs, nil
}

type attrVisitor struct {
	seen  []*ast.IdentifierNode        // every attr and attrs identifier
	named map[*ast.IdentifierNode]bool // those followed by a name
	attrs []string
	err   *file.Error
}

func (v *attrVisitor) Visit(node *ast.Node) {
	switch n := (*node).(type) {
	case *ast.MemberNode:
		id, ok := n.Node.(*ast.IdentifierNode)
		if !ok || (id.Value != identAttr && id.Value != identAttrs) {
			return
		}
		name, ok := n.Property.(*ast.StringNode)
		if !ok {
			v.fail(n.Property, fmt.Sprintf("%s must be followed by an attribute's name, as in %s.mail", id.Value, id.Value))
			v.named[id] = true
			return
		}
		v.named[id] = true
		if name.Value == "" {
			v.fail(n.Property, "an attribute's name is empty")
			return
		}
		if !slices.Contains(v.attrs, name.Value) {
			v.attrs = append(v.attrs, name.Value)
		}
	case *ast.IdentifierNode:
		if n.Value == identAttr || n.Value == identAttrs {
			v.seen = append(v.seen, n)
		}
	}
}

func (v *attrVisitor) fail(n ast.Node, msg string) {
	if v.err == nil {
		v.err = &file.Error{Location: n.Location(), Message: msg}
	}
}
