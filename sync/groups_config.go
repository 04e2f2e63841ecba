package sync

import (
	"errors"
	"fmt"
)

// GroupsConfig is the top-level `groups:` section of the config file: which
// directory groups are pushed to the platform as groups, and the safety
// limits of the group pass.
//
//	groups:
//	  push: true                                  # default false
//	  base_dn: ou=groups,dc=example,dc=com        # default: ldap.base_dn
//	  filter: (objectClass=groupOfNames)          # which directory groups are pushed
//	  name_attribute: cn                          # the platform group's displayName
//	  nested: flatten                             # flatten | direct
//	  on_removed: delete                          # delete | ignore
//	  max_group_delete: 5
//	  max_group_delete_percent: 10
//	  max_membership_removal: 100
//	  max_membership_removal_percent: 10
//
// The directory keys (base_dn, filter, name_attribute, nested) are read by
// the source (ldapsource.GroupSearch); the rest are the reconciler's.
type GroupsConfig struct {
	// Push turns the group pass on. Default false.
	Push bool `mapstructure:"push"`
	// BaseDN is the subtree searched for groups. Default: ldap.base_dn (and
	// ldap.base_dns).
	BaseDN string `mapstructure:"base_dn"`
	// Filter selects the groups pushed. Default: every groupOfNames,
	// groupOfUniqueNames and (AD) group.
	Filter string `mapstructure:"filter"`
	// NameAttribute holds the platform group's displayName. Default cn.
	NameAttribute string `mapstructure:"name_attribute"`
	// Nested: flatten (default: a group's members include its subgroups'
	// users, at any depth) or direct (only the users listed in the group).
	Nested string `mapstructure:"nested"`
	// OnRemoved: delete (default) or ignore: a pushed group gone from the
	// directory (or no longer matching the filter).
	OnRemoved OnRemoved `mapstructure:"on_removed"`
	// MaxGroupDelete: the most group deletions in one run without
	// --allow-mass-archive. Default 5; 0 means every deletion needs it.
	MaxGroupDelete int `mapstructure:"max_group_delete"`
	// MaxGroupDeletePercent: the same, as a percentage of the groups on the
	// platform. Default 10.
	MaxGroupDeletePercent float64 `mapstructure:"max_group_delete_percent"`
	// MaxMembershipRemoval: the most memberships removed in one run (in
	// groups kept or deleted) without --allow-mass-archive. Default 100.
	MaxMembershipRemoval int `mapstructure:"max_membership_removal"`
	// MaxMembershipRemovalPercent: the same, as a percentage of the
	// memberships dirsync manages. Default 10.
	MaxMembershipRemovalPercent float64 `mapstructure:"max_membership_removal_percent"`
}

// Nested values.
const (
	NestedFlatten = "flatten"
	NestedDirect  = "direct"
)

// DefaultGroupFilter is groups.filter's default.
const DefaultGroupFilter = "(|(objectClass=groupOfNames)(objectClass=groupOfUniqueNames)(objectClass=group))"

// DefaultGroups returns the defaults documented on GroupsConfig.
func DefaultGroups() GroupsConfig {
	return GroupsConfig{
		Filter:                      DefaultGroupFilter,
		NameAttribute:               "cn",
		Nested:                      NestedFlatten,
		OnRemoved:                   RemovedDelete,
		MaxGroupDelete:              5,
		MaxGroupDeletePercent:       10,
		MaxMembershipRemoval:        100,
		MaxMembershipRemovalPercent: 10,
	}
}

// Validate reports every problem, each named by its config key. The filter's
// syntax is the source's to check.
func (c GroupsConfig) Validate() error {
	var errs []error
	switch c.Nested {
	case NestedFlatten, NestedDirect:
	default:
		errs = append(errs, fmt.Errorf("groups.nested: %q is not one of flatten, direct", c.Nested))
	}
	switch c.OnRemoved {
	case RemovedDelete, RemovedIgnore:
	default:
		errs = append(errs, fmt.Errorf("groups.on_removed: %q is not one of delete, ignore", c.OnRemoved))
	}
	if c.Filter == "" {
		errs = append(errs, errors.New("groups.filter: empty; give an LDAP filter, e.g. (objectClass=groupOfNames)"))
	}
	if c.NameAttribute == "" {
		errs = append(errs, errors.New("groups.name_attribute: empty; give the attribute of the group's name, e.g. cn"))
	}
	for _, n := range []struct {
		key string
		v   int
	}{{"max_group_delete", c.MaxGroupDelete}, {"max_membership_removal", c.MaxMembershipRemoval}} {
		if n.v < 0 {
			errs = append(errs, fmt.Errorf("groups.%s: %d is negative; use 0 to require --allow-mass-archive for every one", n.key, n.v))
		}
	}
	for _, p := range []struct {
		key string
		v   float64
	}{{"max_group_delete_percent", c.MaxGroupDeletePercent}, {"max_membership_removal_percent", c.MaxMembershipRemovalPercent}} {
		if p.v < 0 || p.v > 100 {
			errs = append(errs, fmt.Errorf("groups.%s: %g is not between 0 and 100", p.key, p.v))
		}
	}
	return errors.Join(errs...)
}

// GroupPolicy returns the safety limits of the group pass this config sets.
func (c GroupsConfig) GroupPolicy() GroupPolicy {
	return GroupPolicy{
		MaxDelete:         c.MaxGroupDelete,
		MaxDeletePercent:  c.MaxGroupDeletePercent,
		MaxRemoval:        c.MaxMembershipRemoval,
		MaxRemovalPercent: c.MaxMembershipRemovalPercent,
	}
}
