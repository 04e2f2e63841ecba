package transform

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"sync"

	"github.com/dirsync/dirsync/user"
)

// Preview collects the first users a read transforms, as mapped and as
// transformed, for `dirsync check` to show. It is safe for concurrent use.
type Preview struct {
	mu      sync.Mutex
	max     int
	keys    []string
	attrs   []string
	samples []Sample
}

// Sample is one user before and after the transform.
type Sample struct {
	Before, After user.User
	// Raw holds the raw attributes the expressions read.
	Raw map[string][]string
	// Err is why the transform failed for this user ("" when it did not).
	Err string
}

// NewPreview returns a Preview of p's first max users; nil when p is nil.
func (p *Program) NewPreview(max int) *Preview {
	if p == nil {
		return nil
	}
	return &Preview{max: max, keys: p.Keys(), attrs: p.Attributes()}
}

// Add records one user, until the Preview holds max of them. A nil Preview
// records nothing.
func (pv *Preview) Add(before, after user.User, raw map[string][]string, err error) {
	if pv == nil {
		return
	}
	pv.mu.Lock()
	defer pv.mu.Unlock()
	if len(pv.samples) >= pv.max {
		return
	}
	s := Sample{Before: before, After: after, Raw: maps.Clone(raw)}
	if err != nil {
		s.Err = err.Error()
	}
	pv.samples = append(pv.samples, s)
}

// Samples returns the users recorded, in the order they were read.
func (pv *Preview) Samples() []Sample {
	if pv == nil {
		return nil
	}
	pv.mu.Lock()
	defer pv.mu.Unlock()
	return slices.Clone(pv.samples)
}

// Write prints each user recorded: its DN, each transformed field as the
// mapping gave it and as the transform made it, the raw attributes read,
// or why the transform failed.
func (pv *Preview) Write(w io.Writer) {
	samples := pv.Samples()
	if len(samples) == 0 {
		return
	}
	fmt.Fprintf(w, "transform: the first %d users, each field as mapped → as transformed:\n", len(samples))
	for _, s := range samples {
		fmt.Fprintf(w, "  %s\n", s.Before.DN)
		for _, k := range pv.keys {
			before, after := fieldValue(s.Before, k), fieldValue(s.After, k)
			mark := "→"
			if before == after {
				mark = "="
			}
			fmt.Fprintf(w, "    %-14s %q %s %q\n", k+":", before, mark, after)
		}
		for _, a := range pv.attrs {
			fmt.Fprintf(w, "    %-14s %s\n", "attr."+a+":", quoteAll(s.Raw[a]))
		}
		if s.Err != "" {
			fmt.Fprintf(w, "    ✗ %s (the user is skipped)\n", s.Err)
		}
	}
}

// fieldValue is the value of the field key of u, as text.
func fieldValue(u user.User, key string) string {
	switch key {
	case user.FieldUsername:
		return u.Username
	case user.FieldEmail:
		return u.Email
	case user.FieldGivenName:
		return u.GivenName
	case user.FieldFamilyName:
		return u.FamilyName
	case user.FieldDisplayName:
		return u.DisplayName
	case user.FieldActive:
		return fmt.Sprint(u.Active)
	}
	return u.Extra[strings.TrimPrefix(key, user.FieldExtraPrefix)]
}

func quoteAll(vs []string) string {
	if len(vs) == 0 {
		return "(none)"
	}
	q := make([]string, len(vs))
	for i, v := range vs {
		q[i] = fmt.Sprintf("%q", v)
	}
	return strings.Join(q, ", ")
}
