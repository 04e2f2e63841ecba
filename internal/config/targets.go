package config

import (
	"fmt"
	"reflect"
	"regexp"
	"strings"

	"github.com/go-ldap/ldap/v3"
	"github.com/go-viper/mapstructure/v2"

	"github.com/dirsync/dirsync/state"
	dsync "github.com/dirsync/dirsync/sync"
	"github.com/dirsync/dirsync/target"
)

// DefaultTarget is the name of the one target of the `target:` section.
const DefaultTarget = "default"

// TargetSpec is one entry of the `targets:` list: a platform fed by the same
// directory read as the others, with its own snapshot, journal, safety
// limits, quarantine and watch cookies.
//
//	targets:
//	  - name: helpdesk
//	    type: scim
//	    url: https://helpdesk.example.com/scim/v2
//	    token_file: /run/secrets/helpdesk
//	  - name: crm
//	    type: rest
//	    url: https://api.crm.example.com
//	    rest: { ... }
//	    sync: { max_archive: 20 }
//	    scope: "(memberOf=cn=crm-users,ou=groups,dc=example,dc=com)"
type TargetSpec struct {
	// Name names the target in commands (--target), output, metrics (the
	// target label) and its snapshot's file: lower-case letters, digits, -
	// and _.
	Name string `mapstructure:"name"`
	// Config is the target's settings: every key of the `target:` section.
	target.Config `mapstructure:",squash"`
	// Sync overrides keys of the `sync:` section for this target only.
	Sync map[string]any `mapstructure:"sync"`
	// Scope, when set, is an LDAP filter narrowing ldap.user_filter for this
	// target: only the users it matches have an account there.
	Scope string `mapstructure:"scope"`

	// sync is the `sync:` section with Sync's overrides, made by Load.
	sync dsync.Config
}

// Target is one platform dirsync keeps in step, with the settings in force
// for it.
type Target struct {
	// Name is the target's name: DefaultTarget for the `target:` section.
	Name   string
	Target target.Config
	Sync   dsync.Config
	// Scope narrows the directory's users for this target ("": all).
	Scope string
	// State is where this target's snapshot is kept (see
	// state.Config.ForTarget).
	State state.Config
}

// TargetList returns the targets of c: the entries of `targets:`, or the one
// target of the `target:` section, named DefaultTarget.
func (c Config) TargetList() []Target {
	if len(c.Targets) == 0 {
		return []Target{{Name: DefaultTarget, Target: c.Target, Sync: c.Sync, State: c.State}}
	}
	out := make([]Target, len(c.Targets))
	for i, t := range c.Targets {
		out[i] = Target{Name: t.Name, Target: t.Config, Sync: t.sync, Scope: t.Scope, State: c.State.ForTarget(t.Name)}
	}
	return out
}

// SelectTargets returns the targets of c named in names (all of them when
// names is empty), in config order; a name that is not a target is an
// error naming the ones there are.
func (c Config) SelectTargets(names ...string) ([]Target, error) {
	all := c.TargetList()
	if len(names) == 0 {
		return all, nil
	}
	var out []Target
	for _, n := range names {
		found := false
		for _, t := range all {
			if t.Name == n {
				out = append(out, t)
				found = true
				break
			}
		}
		if !found {
			have := make([]string, len(all))
			for i, t := range all {
				have[i] = t.Name
			}
			return nil, fmt.Errorf("--target: no target %q; the config has %s", n, strings.Join(have, ", "))
		}
	}
	return out, nil
}

var targetName = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,62}$`)

// decodeTargets decodes the `targets:` entries of the file (raw, as decoded
// from YAML) over the `target:` section's defaults, each entry's sync
// overrides over top (the `sync:` section as decoded), and returns them with
// every problem found, named by the entry's key (targets[0].url).
func decodeTargets(raw any, top dsync.Config, env Env) ([]TargetSpec, []string) {
	list, ok := raw.([]any)
	if !ok {
		return nil, []string{"targets: must be a list of targets, each with a name, e.g. - name: helpdesk"}
	}
	var specs []TargetSpec
	var problems []string
	for i, e := range list {
		key := fmt.Sprintf("targets[%d]", i)
		m, ok := e.(map[string]any)
		if !ok {
			problems = append(problems, key+": must be a target's settings (name, type, url, …)")
			continue
		}
		expandEnv(m, key+".", nil, env, &problems)
		checkDurations(m, durationKeys(reflect.TypeFor[TargetSpec](), ""), nil, &problems)
		spec := TargetSpec{Config: target.Default()}
		if err := decodeInto(m, &spec); err != nil {
			for _, p := range flattenDecodeError(err) {
				problems = append(problems, key+": "+p)
			}
		}
		spec.sync = top
		if spec.Sync != nil {
			problems = append(problems, unknownKeys(reflect.TypeFor[dsync.Config](), spec.Sync, key+".sync")...)
			checkDurations(spec.Sync, durationKeys(reflect.TypeFor[dsync.Config](), ""), nil, &problems)
			if err := decodeInto(spec.Sync, &spec.sync); err != nil {
				for _, p := range flattenDecodeError(err) {
					problems = append(problems, key+".sync: "+p)
				}
			}
		}
		specs = append(specs, spec)
	}
	return specs, problems
}

// decodeInto decodes settings over dst as Decode does.
func decodeInto(settings map[string]any, dst any) error {
	dec, err := mapstructure.NewDecoder(&mapstructure.DecoderConfig{
		Result:           dst,
		WeaklyTypedInput: true,
		DecodeHook: mapstructure.ComposeDecodeHookFunc(
			stringToDurationHook,
			mapstructure.StringToSliceHookFunc(","),
		),
	})
	if err != nil {
		return err
	}
	return dec.Decode(settings)
}

// targetsProblems reports the problems of the `targets:` entries, each named
// by the entry's name (targets[crm].url), or its index when it has none.
func (c Config) targetsProblems() []string {
	var p []string
	seen := map[string]bool{}
	for i, t := range c.Targets {
		key := fmt.Sprintf("targets[%d]", i)
		switch {
		case t.Name == "":
			p = append(p, key+".name: must be set: each target has a name (lower-case letters, digits, - and _), e.g. helpdesk")
		case !targetName.MatchString(t.Name):
			p = append(p, fmt.Sprintf("%s.name: %q must be lower-case letters, digits, - and _ (it names the target's snapshot file and its metrics)", key, t.Name))
		case seen[t.Name]:
			p = append(p, fmt.Sprintf("%s.name: %q names two targets; each name must be unique", key, t.Name))
		default:
			key = "targets[" + t.Name + "]"
		}
		seen[t.Name] = true
		for _, q := range problems(t.Config.Validate()) {
			p = append(p, key+"."+strings.TrimPrefix(q, "target."))
		}
		for _, q := range problems(t.sync.Validate()) {
			if t.Sync == nil {
				continue // the sync section's own problem, reported once as sync.*
			}
			p = append(p, key+"."+q)
		}
		if t.Scope != "" {
			if _, err := ldap.CompileFilter(t.Scope); err != nil {
				p = append(p, fmt.Sprintf("%s.scope: %q is not an LDAP filter: %v; e.g. (memberOf=cn=crm-users,ou=groups,dc=example,dc=com)", key, t.Scope, err))
			}
		}
	}
	return p
}
