package config

import (
	"errors"
	"fmt"
	"maps"
	"os"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/viper"
	"go.yaml.in/yaml/v3"
)

// Error lists every problem found in a config file, each named by its key.
type Error struct {
	File     string
	Problems []string
}

func (e *Error) Error() string {
	if len(e.Problems) == 1 {
		return fmt.Sprintf("config %s: %s", e.File, e.Problems[0])
	}
	var b strings.Builder
	fmt.Fprintf(&b, "config %s has %d problems:", e.File, len(e.Problems))
	for _, p := range e.Problems {
		b.WriteString("\n  - " + p)
	}
	return b.String()
}

// envPrefix prefixes the environment variables that override config keys:
// ldap.bind_dn is DIRSYNC_LDAP_BIND_DN.
const envPrefix = "DIRSYNC"

// Decode decodes file over dst, applies DIRSYNC_* overrides from env (nil: the
// process's environment), expands ${VAR} references from env in the values the
// file holds (not in overrides, which are taken as they are) and rejects
// unknown keys. dst must point to a struct holding the defaults (a Config, or
// any struct of sections); it is filled in place. Validation is the caller's:
// Decode suits a file holding only some sections, such as a target profile.
// Problems are returned as an *Error; an unreadable file is another error.
func Decode(file string, env Env, dst any) error {
	env = orProcessEnv(env)
	cerr := &Error{File: file}
	v := viper.New()
	v.SetConfigFile(file)
	v.SetConfigType("yaml")
	if err := v.ReadInConfig(); err != nil {
		var pe *os.PathError
		if errors.As(err, &pe) {
			return fmt.Errorf("config %s: %w (pass --config or set DIRSYNC_CONFIG; config.example.yaml documents every key)", file, pe.Err)
		}
		if raw, rerr := os.ReadFile(file); rerr == nil {
			if yerr := yamlSyntaxError(raw); yerr != nil {
				return fmt.Errorf("config %s: %w", file, yerr)
			}
		}
		return fmt.Errorf("config %s: %w", file, err)
	}

	t := reflect.TypeOf(dst).Elem()
	leaves, maps := configKeys(t, "")
	settings := v.AllSettings()
	cerr.Problems = append(cerr.Problems, unknownKeys(t, settings, "")...)

	dropNil(settings)
	// The entries of targets: are decoded each over the target defaults,
	// after the sections (their sync overrides go over the sync section).
	cfg, _ := dst.(*Config)
	rawTargets, hasTargets := settings["targets"]
	if cfg != nil && hasTargets {
		// From the YAML as written: viper folds keys to lower case, and
		// the entries' maps (headers, attribute names) keep theirs.
		var err error
		if rawTargets, err = rawKey(file, "targets"); err != nil {
			return fmt.Errorf("config %s: %w", file, err)
		}
		delete(settings, "targets")
		if _, both := settings["target"]; both {
			cerr.Problems = append(cerr.Problems, "target: set target: (one platform) or targets: (several), not both")
		}
	}
	overrides := applyEnvOverrides(settings, envKeys(leaves, v.AllKeys()), env)
	if err := restoreMapKeys(file, settings, maps); err != nil {
		return fmt.Errorf("config %s: %w", file, err)
	}
	expandEnv(settings, "", overrides, env, &cerr.Problems)
	checkDurations(settings, durationKeys(t, ""), overrides, &cerr.Problems)

	if err := decodeInto(settings, dst); err != nil {
		cerr.Problems = append(cerr.Problems, flattenDecodeError(err)...)
	}
	if cfg != nil && hasTargets {
		specs, problems := decodeTargets(rawTargets, cfg.Sync, env)
		cfg.Targets = specs
		cerr.Problems = append(cerr.Problems, problems...)
	}
	if len(cerr.Problems) > 0 {
		sort.Strings(cerr.Problems)
		return cerr
	}
	return nil
}

// configKeys lists the dotted keys of the leaves of a config struct type, and
// the keys of its map-valued fields (whose sub-keys are free).
func configKeys(t reflect.Type, prefix string) (leaves, mapKeys []string) {
	fields := structFields(t)
	for _, name := range slices.Sorted(maps.Keys(fields)) {
		key, ft := prefix+name, derefType(fields[name])
		switch {
		case ft.Kind() == reflect.Struct && ft.PkgPath() != "time":
			l, m := configKeys(ft, key+".")
			leaves, mapKeys = append(leaves, l...), append(mapKeys, m...)
		case ft.Kind() == reflect.Map:
			mapKeys = append(mapKeys, key)
			leaves = append(leaves, key)
		default:
			leaves = append(leaves, key)
		}
	}
	return leaves, mapKeys
}

var durationType = reflect.TypeFor[time.Duration]()

// durationKeys lists the dotted keys of the time.Duration leaves of a config
// struct type.
func durationKeys(t reflect.Type, prefix string) []string {
	var keys []string
	fields := structFields(t)
	for _, name := range slices.Sorted(maps.Keys(fields)) {
		switch ft := derefType(fields[name]); {
		case ft == durationType:
			keys = append(keys, prefix+name)
		case ft.Kind() == reflect.Struct && ft.PkgPath() != "time":
			keys = append(keys, durationKeys(ft, prefix+name+".")...)
		}
	}
	return keys
}

// checkDurations refuses a duration without a unit: decoded as is, "timeout:
// 30" would be 30 nanoseconds. A bare 0 is zero in any unit and is kept. Each
// value refused (or not a duration at all) is a problem named by its key (and
// by the environment variable that set it), and is dropped so that decoding
// does not report it again.
func checkDurations(settings map[string]any, keys []string, overrides map[string]bool, problems *[]string) {
	for _, key := range keys {
		parent, leaf := settings, key
		if i := strings.LastIndex(key, "."); i >= 0 {
			var ok bool
			if parent, ok = lookupMap(settings, key[:i], false); !ok {
				continue
			}
			leaf = key[i+1:]
		}
		v, ok := parent[leaf]
		if !ok {
			continue
		}
		from := ""
		if overrides[key] {
			from = " (set by " + envName(key) + ")"
		}
		var text string
		switch vv := v.(type) {
		case string:
			text = strings.TrimSpace(vv)
		case int, int8, int16, int32, int64, uint, uint8, uint16, uint32, uint64, float32, float64:
			text = fmt.Sprint(vv)
		default:
			continue // time.Duration from a default, or a type decoding reports
		}
		if n, err := strconv.ParseFloat(text, 64); err == nil {
			if n != 0 {
				*problems = append(*problems, fmt.Sprintf("%s: %s has no unit%s; write it with one, e.g. %ss (ms, s, m, h)", key, text, from, text))
				delete(parent, leaf)
			}
			continue
		}
		if _, err := ParseDuration(text); err != nil {
			*problems = append(*problems, fmt.Sprintf("%s: %q is not a duration%s; write e.g. 30s, 5m, 1h30m or 30d", key, text, from))
			delete(parent, leaf)
		}
	}
}

// ParseDuration is time.ParseDuration that also takes whole days first:
// "30d", "1d12h". A day is 24 hours.
func ParseDuration(s string) (time.Duration, error) {
	days, rest, ok := strings.Cut(s, "d")
	if !ok {
		return time.ParseDuration(s)
	}
	n, err := strconv.ParseInt(days, 10, 32)
	if err != nil || days == "" || days[0] == '+' {
		return 0, fmt.Errorf("duration %q: days must be a whole number, e.g. 30d", s)
	}
	d := time.Duration(n) * 24 * time.Hour
	if rest != "" {
		r, err := time.ParseDuration(rest)
		if err != nil || strings.HasPrefix(rest, "-") || strings.HasPrefix(rest, "+") {
			return 0, fmt.Errorf("duration %q: after the days, write e.g. 12h", s)
		}
		if n < 0 {
			r = -r
		}
		d += r
	}
	return d, nil
}

// stringToDurationHook decodes a string into a time.Duration with
// ParseDuration.
func stringToDurationHook(from, to reflect.Type, data any) (any, error) {
	if from.Kind() != reflect.String || to != durationType {
		return data, nil
	}
	return ParseDuration(data.(string))
}

// restoreMapKeys gives the keys of map-valued settings (ldap.attributes.extra:
// {employeeNumber: employeeNumber}) the spelling the file has: viper lower-cases
// every key, but these are names dirsync passes on as written.
func restoreMapKeys(file string, settings map[string]any, maps []string) error {
	raw, err := os.ReadFile(file)
	if err != nil {
		return err
	}
	var doc map[string]any
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		return err
	}
	nestDotted(doc)
	for _, key := range maps {
		written, _ := lookupMap(doc, key, true)
		decoded, _ := lookupMap(settings, key, false)
		if written == nil || decoded == nil {
			continue
		}
		for k := range written {
			lower := strings.ToLower(k)
			if v, ok := decoded[lower]; ok && k != lower {
				delete(decoded, lower)
				decoded[k] = v
			}
		}
	}
	return nil
}

// rawKey returns the value of the top-level key of the YAML file as written,
// its maps' keys in their case.
func rawKey(file, key string) (any, error) {
	raw, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	var doc map[string]any
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		return nil, err
	}
	for k, v := range doc {
		if strings.EqualFold(k, key) {
			return v, nil
		}
	}
	return nil, nil
}

// nestDotted turns the dotted keys of m (transform: {extra.costCenter: x}),
// at any depth, into the nested maps viper makes of them (transform: {extra:
// {costCenter: x}}), merged with those written nested.
func nestDotted(m map[string]any) {
	for k, v := range m {
		if sub, ok := v.(map[string]any); ok {
			nestDotted(sub)
		}
		if !strings.Contains(k, ".") {
			continue
		}
		delete(m, k)
		parts := strings.Split(k, ".")
		cur := m
		for _, p := range parts[:len(parts)-1] {
			next, ok := cur[p].(map[string]any)
			if !ok {
				next = map[string]any{}
				cur[p] = next
			}
			cur = next
		}
		cur[parts[len(parts)-1]] = v
	}
}

// lookupMap returns the map at dotted key in m, matching each part of the key
// case-insensitively when fold is set.
func lookupMap(m map[string]any, key string, fold bool) (map[string]any, bool) {
	cur := m
	for _, part := range strings.Split(key, ".") {
		var next any
		for k, v := range cur {
			if k == part || (fold && strings.EqualFold(k, part)) {
				next = v
				break
			}
		}
		nm, ok := next.(map[string]any)
		if !ok {
			return nil, false
		}
		cur = nm
	}
	return cur, true
}

// dropNil removes the keys the file leaves empty (and the sections left
// empty by that), so that decoding keeps the defaults already in the
// destination.
func dropNil(m map[string]any) {
	for k, v := range m {
		switch vv := v.(type) {
		case nil:
			delete(m, k)
		case map[string]any:
			dropNil(vv)
			if len(vv) == 0 {
				delete(m, k)
			}
		}
	}
}

// envKeys lists the keys an environment variable may override: every leaf of
// the config type, and every key the file holds (the entries of maps
// included), sorted so that a section's key is set before the keys under it.
func envKeys(leaves, inFile []string) []string {
	keys := slices.Concat(leaves, inFile)
	slices.Sort(keys)
	return slices.Compact(keys)
}

// applyEnvOverrides sets in settings every key of keys whose environment
// variable (envName) is set and not empty, to that variable's value as it is,
// and returns the keys it set.
func applyEnvOverrides(settings map[string]any, keys []string, env Env) map[string]bool {
	over := map[string]bool{}
	for _, k := range keys {
		val, ok := env(envName(k))
		if !ok || val == "" {
			continue
		}
		setPath(settings, k, val)
		over[k] = true
	}
	return over
}

// setPath sets the value of the dotted key in m, making the maps on its way.
func setPath(m map[string]any, key string, val any) {
	parts := strings.Split(key, ".")
	for _, p := range parts[:len(parts)-1] {
		next, ok := m[p].(map[string]any)
		if !ok {
			next = map[string]any{}
			m[p] = next
		}
		m = next
	}
	m[parts[len(parts)-1]] = val
}

// envName is the environment variable overriding key: ldap.bind_dn is
// DIRSYNC_LDAP_BIND_DN.
func envName(key string) string {
	return envPrefix + "_" + strings.ToUpper(strings.ReplaceAll(key, ".", "_"))
}

var envRef = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)\}`)

// expandEnv replaces ${VAR} in every string value with the variable's value in
// env, except in the values of the keys in literal (those set by
// environment overrides: a password holding "${" is kept as it is, and never
// reported). Only the braced form is expanded, so a literal "$" in a password
// is safe. An unset variable is a problem named by its key.
func expandEnv(m map[string]any, prefix string, literal map[string]bool, env Env, problems *[]string) {
	expand := func(key, s string) string {
		return envRef.ReplaceAllStringFunc(s, func(ref string) string {
			name := ref[2 : len(ref)-1]
			val, ok := env(name)
			if !ok {
				*problems = append(*problems, fmt.Sprintf("%s: refers to ${%s}, which is not set in the environment", key, name))
			}
			return val
		})
	}
	for k, v := range m {
		key := prefix + k
		if literal[key] {
			continue
		}
		switch vv := v.(type) {
		case string:
			m[k] = expand(key, vv)
		case map[string]any:
			expandEnv(vv, key+".", literal, env, problems)
		case []any:
			for i, e := range vv {
				if s, ok := e.(string); ok {
					vv[i] = expand(key, s)
				}
			}
		}
	}
}

// flattenDecodeError turns mapstructure's error into one problem per line.
func flattenDecodeError(err error) []string {
	var out []string
	for _, line := range strings.Split(err.Error(), "\n") {
		line = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(line), "*"))
		if line == "" || strings.HasPrefix(line, "decoding failed") || strings.HasSuffix(line, "error(s):") {
			continue
		}
		out = append(out, line)
	}
	if len(out) == 0 {
		out = []string{err.Error()}
	}
	return out
}

// problems splits a Validate error (errors.Join of one error per problem) into
// its lines.
func problems(err error) []string {
	if err == nil {
		return nil
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []string
		for _, e := range j.Unwrap() {
			out = append(out, problems(e)...)
		}
		return out
	}
	return strings.Split(err.Error(), "\n")
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
