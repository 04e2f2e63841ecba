package config

import (
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"
)

// unknownKeys walks the settings a config file holds (v, as decoded from
// YAML) along the config type t and returns a problem for every key t does
// not have, at any depth: in sections, in nested sections, in the elements of
// lists (target.groups[0].group) and in the values of maps of sections
// (target.rest.resolve.<attribute>.path). Each unknown key is named down to
// its leaves, with the nearest known key when one is close.
func unknownKeys(t reflect.Type, v any, key string) []string {
	t = derefType(t)
	var out []string
	switch t.Kind() {
	case reflect.Struct:
		m, ok := v.(map[string]any)
		if !ok || t.PkgPath() == "time" {
			return nil // a type mismatch is the decoder's to report
		}
		fields := structFields(t)
		for _, k := range sortedKeys(m) {
			if ft, ok := fields[strings.ToLower(k)]; ok {
				out = append(out, unknownKeys(ft, m[k], joinKey(key, k))...)
				continue
			}
			near := nearestName(strings.ToLower(k), fields)
			for _, rest := range leafPaths(m[k]) {
				msg := joinKey(key, k) + rest + ": unknown key"
				if near != "" {
					suggest := joinKey(key, near)
					if knownPath(fields[near], rest) {
						suggest += rest
					}
					msg += fmt.Sprintf(" (did you mean %s?)", suggest)
				}
				out = append(out, msg)
			}
		}
	case reflect.Map:
		if m, ok := v.(map[string]any); ok {
			for _, k := range sortedKeys(m) {
				out = append(out, unknownKeys(t.Elem(), m[k], joinKey(key, k))...)
			}
		}
	case reflect.Slice, reflect.Array:
		if l, ok := v.([]any); ok {
			for i, e := range l {
				out = append(out, unknownKeys(t.Elem(), e, fmt.Sprintf("%s[%d]", key, i))...)
			}
		}
	}
	return out
}

// structFields maps the config names of t's fields (lower case, as viper
// and mapstructure match them) to their types; squashed structs add theirs.
func structFields(t reflect.Type) map[string]reflect.Type {
	fields := map[string]reflect.Type{}
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name, opts, _ := strings.Cut(f.Tag.Get("mapstructure"), ",")
		if name == "-" {
			continue
		}
		if strings.Contains(opts, "squash") && derefType(f.Type).Kind() == reflect.Struct {
			for n, ft := range structFields(derefType(f.Type)) {
				fields[n] = ft
			}
			continue
		}
		if name == "" {
			name = f.Name
		}
		fields[strings.ToLower(name)] = f.Type
	}
	return fields
}

// nearestName returns the field name nearest to name by edit distance, if
// it is near enough to be a typo of it.
func nearestName(name string, fields map[string]reflect.Type) string {
	limit := 2
	if len(name) <= 3 {
		limit = 1
		if len(name) == 3 {
			limit = 2 // transposed letters: lgo for log
		}
	}
	best, bestD := "", limit+1
	for _, n := range slices.Sorted(maps.Keys(fields)) {
		if d := editDistance(name, n); d < bestD {
			best, bestD = n, d
		}
	}
	return best
}

// knownPath reports whether the dotted path rest (".a.b", or "" for t
// itself) names a key under t: fields of sections, any key of a map.
func knownPath(t reflect.Type, rest string) bool {
	if rest == "" {
		return true
	}
	part, more, _ := strings.Cut(strings.TrimPrefix(rest, "."), ".")
	if more != "" {
		more = "." + more
	}
	t = derefType(t)
	switch t.Kind() {
	case reflect.Struct:
		ft, ok := structFields(t)[strings.ToLower(part)]
		return ok && knownPath(ft, more)
	case reflect.Map:
		return knownPath(t.Elem(), more)
	}
	return false
}

// leafPaths lists the dotted paths (".a.b") from v down to each of its
// leaves; a value that is not a map is its own leaf ("").
func leafPaths(v any) []string {
	m, ok := v.(map[string]any)
	if !ok || len(m) == 0 {
		return []string{""}
	}
	var out []string
	for _, k := range sortedKeys(m) {
		for _, rest := range leafPaths(m[k]) {
			out = append(out, "."+k+rest)
		}
	}
	return out
}

func derefType(t reflect.Type) reflect.Type {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return t
}

func joinKey(prefix, k string) string {
	if prefix == "" {
		return k
	}
	return prefix + "." + k
}

func sortedKeys[V any](m map[string]V) []string {
	return slices.Sorted(maps.Keys(m))
}
