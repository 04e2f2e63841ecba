package target

import (
	"context"
	"fmt"
	"slices"
	"strings"
	gosync "sync"
)

// Kind is one target type (a value of target.type): how its own settings are
// checked and how its client is built. Each implementation registers its Kind
// once, in its package's init; package target/targets imports every
// implementation dirsync is built with, so adding a target type is its
// package and one import there.
type Kind struct {
	// Name is the value of target.type that selects this type.
	Name string
	// Validate reports the problems of the type's own settings in cfg, each
	// named by its config key (e.g. "target.rest.list.path: must be set").
	// The settings every type shares are checked by Config.Validate. Nil:
	// the type has no settings of its own.
	Validate func(cfg Config) []error
	// NeedsToken reports whether cfg needs target.token (or token_file).
	// Nil: always.
	NeedsToken func(cfg Config) bool
	// New builds the type's client for cfg, validating cfg.
	New func(cfg Config, opts ...Option) (Platform, error)
}

// Platform is what every target type's client offers whoever builds it
// through the registry; package sync's Target contract is checked where
// dirsync is wired (cmd/dirsync).
type Platform interface {
	// Check verifies that the platform accepts dirsync's credentials.
	Check(ctx context.Context) error
}

var registry struct {
	mu    gosync.RWMutex
	kinds []Kind
}

// Register makes k a valid target.type. It panics when k has no name or no
// constructor, or when its name is taken: both are mistakes in how dirsync
// is built, not in a config file.
func Register(k Kind) {
	if k.Name == "" || k.New == nil {
		panic("target.Register: a target type needs a name and a constructor")
	}
	registry.mu.Lock()
	defer registry.mu.Unlock()
	if slices.ContainsFunc(registry.kinds, func(o Kind) bool { return o.Name == k.Name }) {
		panic(fmt.Sprintf("target.Register: target type %q registered twice", k.Name))
	}
	registry.kinds = append(registry.kinds, k)
}

// Lookup returns the registered type named by typ ("" is the default, scim).
func Lookup(typ string) (Kind, bool) {
	if typ == "" {
		typ = TypeSCIM
	}
	registry.mu.RLock()
	defer registry.mu.RUnlock()
	i := slices.IndexFunc(registry.kinds, func(k Kind) bool { return k.Name == typ })
	if i < 0 {
		return Kind{}, false
	}
	return registry.kinds[i], true
}

// Types returns the names of the registered types, the default (scim) first,
// then the others by name.
func Types() []string {
	registry.mu.RLock()
	defer registry.mu.RUnlock()
	names := make([]string, 0, len(registry.kinds))
	for _, k := range registry.kinds {
		names = append(names, k.Name)
	}
	slices.SortFunc(names, func(a, b string) int {
		switch {
		case a == b:
			return 0
		case a == TypeSCIM:
			return -1
		case b == TypeSCIM:
			return 1
		}
		return strings.Compare(a, b)
	})
	return names
}

// typeList names the registered types for a message: "scim or rest".
func typeList(sep, last string) string {
	names := Types()
	switch len(names) {
	case 0:
		return "none is built in"
	case 1:
		return names[0]
	}
	return strings.Join(names[:len(names)-1], sep) + last + names[len(names)-1]
}

// New builds the client of cfg's type (target.type), validating cfg.
func New(cfg Config, opts ...Option) (Platform, error) {
	k, ok := Lookup(cfg.Type)
	if !ok {
		return nil, fmt.Errorf("target.type: %q is not supported by this version of dirsync (supported: %s)", cfg.Type, typeList(", ", ", "))
	}
	return k.New(cfg, opts...)
}
