package transform

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"

	"github.com/expr-lang/expr/file"
	"github.com/expr-lang/expr/vm"

	"github.com/dirsync/dirsync/user"
)

// Program is a compiled Config. It is immutable and safe to share; each
// goroutine runs it through a Runner of its own.
type Program struct {
	fields []field
	attrs  []string // raw attributes the expressions read, sorted
}

type field struct {
	key
	prog  *vm.Program
	attrs []string // raw attributes this expression reads
}

// Attributes lists the raw attributes the expressions read (attr.NAME and
// attrs.NAME), as written: the directory search must request them. A nil
// Program reads none.
func (p *Program) Attributes() []string {
	if p == nil {
		return nil
	}
	return p.attrs
}

// Keys lists the transformed fields' keys (username, extra.department),
// in a fixed order.
func (p *Program) Keys() []string {
	if p == nil {
		return nil
	}
	out := make([]string, len(p.fields))
	for i, f := range p.fields {
		out[i] = f.name
	}
	return out
}

// Has reports whether the field key (username, extra.department) is
// transformed.
func (p *Program) Has(key string) bool {
	return p != nil && slices.Contains(p.Keys(), key)
}

// Runner runs a Program, one user at a time, reusing one expression VM.
type Runner struct {
	p     *Program
	vm    vm.VM
	env   Env
	attr  map[string]string
	attrs map[string][]string
}

// NewRunner returns a Runner of p. It is not safe for concurrent use.
func (p *Program) NewRunner() *Runner { return &Runner{p: p} }

// Error is the failure of one user's transform: each key whose expression
// failed, with why. The user is skipped with it as the reason.
type Error struct {
	Keys    []string
	Reasons []string
}

func (e *Error) Error() string {
	parts := make([]string, len(e.Keys))
	for i, k := range e.Keys {
		parts[i] = "transform." + k + ": " + e.Reasons[i]
	}
	return strings.Join(parts, "; ")
}

// Apply runs every expression over u (a normalized user, as the directory
// mapping gave it) and the raw attributes raw (attribute name as Attributes
// lists it → its values), and returns u with the results in place. ID, DN
// and groups are never changed.
//
// When an expression fails for u (an index out of range, a result of the
// wrong type), Apply returns an *Error naming every key that failed, and a
// user holding what could be computed: the field of a failed string key is
// empty (what the transform would give is not known), a failed active keeps
// the mapped value.
func (r *Runner) Apply(u user.User, raw map[string][]string) (user.User, error) {
	if r == nil || r.p == nil {
		return u, nil
	}
	r.env = Env{
		ID:          u.ID,
		DN:          u.DN,
		Username:    u.Username,
		Email:       u.Email,
		GivenName:   u.GivenName,
		FamilyName:  u.FamilyName,
		DisplayName: u.DisplayName,
		Active:      u.Active,
		Groups:      u.Groups,
		Extra:       u.Extra,
	}
	if len(r.p.attrs) > 0 {
		// The maps are the runner's own, reused from user to user: no
		// expression result refers to them.
		if r.attr == nil {
			r.attr = make(map[string]string, len(r.p.attrs))
			r.attrs = make(map[string][]string, len(r.p.attrs))
		}
		clear(r.attr)
		r.env.Attr, r.env.Attrs = r.attr, r.attrs
		for _, a := range r.p.attrs {
			vs := raw[a]
			if len(vs) > 0 {
				r.env.Attr[a] = vs[0]
			}
			r.env.Attrs[a] = vs
		}
	}
	out := u
	extraCopied := false
	var fail *Error
	for i := range r.p.fields {
		f := &r.p.fields[i]
		v, err := r.vm.Run(f.prog, &r.env)
		if err == nil {
			err = f.set(&out, v, &extraCopied)
		}
		if err != nil {
			if fail == nil {
				fail = &Error{}
			}
			fail.Keys = append(fail.Keys, f.name)
			fail.Reasons = append(fail.Reasons, runError(err))
			if f.kind != reflect.Bool {
				_ = f.set(&out, "", &extraCopied)
			}
		}
	}
	if fail != nil {
		return out, fail
	}
	return out, nil
}

// set stores the result v into u's field, or says why it cannot. An extra
// field's map is copied before the first write: u.Extra is shared with the
// input.
func (f *field) set(u *user.User, v any, extraCopied *bool) error {
	if f.kind == reflect.Bool {
		b, ok := v.(bool)
		if !ok {
			return fmt.Errorf("gave %s, want true or false", describe(v))
		}
		u.Active = b
		return nil
	}
	s, ok := v.(string)
	if !ok {
		return fmt.Errorf("gave %s, want a string", describe(v))
	}
	switch f.name {
	case user.FieldUsername:
		u.Username = s
	case user.FieldEmail:
		u.Email = s
	case user.FieldGivenName:
		u.GivenName = s
	case user.FieldFamilyName:
		u.FamilyName = s
	case user.FieldDisplayName:
		u.DisplayName = s
	default:
		if !*extraCopied {
			ex := make(map[string]string, len(u.Extra)+1)
			for k, v := range u.Extra {
				ex[k] = v
			}
			u.Extra, *extraCopied = ex, true
		}
		u.Extra[f.extra] = s
	}
	return nil
}

// describe names a result's type and value for an error.
func describe(v any) string {
	if v == nil {
		return "nil"
	}
	s := fmt.Sprintf("%v", v)
	if len(s) > 40 {
		s = s[:40] + "…"
	}
	return fmt.Sprintf("%T %s", v, s)
}

// runError renders a run-time failure on one line: the message and its
// column in the expression.
func runError(err error) string {
	var fe *file.Error
	if errors.As(err, &fe) && fe.Snippet != "" {
		return fmt.Sprintf("%s at column %d", fe.Message, fe.Column+1)
	}
	return err.Error()
}
