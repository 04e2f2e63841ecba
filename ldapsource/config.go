package ldapsource

import (
	"errors"
	"fmt"
	"maps"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/go-ldap/ldap/v3"

	"github.com/dirsync/dirsync/transform"
)

// Config is the `ldap:` section of the configuration file. Start from
// Default, decode the file over it, then call Validate.
//
//	ldap:
//	  url: ldaps://dc1.corp.example.com        # ldap:// needs start_tls or allow_plaintext
//	  ca_file: /etc/dirsync/corp-ca.pem
//	  bind_dn: "CN=svc-dirsync,OU=Service,DC=corp,DC=example,DC=com"
//	  bind_password_file: /run/secrets/ldap-password
//	  base_dns:
//	    - "OU=Staff,DC=corp,DC=example,DC=com"
//	    - "OU=Contractors,DC=corp,DC=example,DC=com"
//	  user_filter: "(&(objectCategory=person)(objectClass=user))"
//	  id_attribute: objectGUID
//	  member_of: "CN=platform-users,OU=Groups,DC=corp,DC=example,DC=com"
//	  attributes:
//	    username: sAMAccountName
//	    extra: { department: department, title: title }
type Config struct {
	// URL is ldaps://host[:port] or ldap://host[:port]. ldap:// needs
	// StartTLS or AllowPlaintext.
	URL string `mapstructure:"url"`
	// StartTLS upgrades an ldap:// connection to TLS before binding.
	StartTLS bool `mapstructure:"start_tls"`
	// AllowPlaintext permits ldap:// without StartTLS: the bind password and
	// all data cross the network in clear text. Default false.
	AllowPlaintext bool `mapstructure:"allow_plaintext"`
	// CAFile is a PEM bundle of CAs to trust instead of the system's.
	CAFile string `mapstructure:"ca_file"`
	// ServerName is the name to verify the server's certificate against.
	// Default: the host in URL.
	ServerName string `mapstructure:"server_name"`
	// InsecureSkipVerify turns certificate verification off. Default false;
	// for testing only.
	InsecureSkipVerify bool `mapstructure:"insecure_skip_verify"`

	// BindDN is the service account to bind as; empty binds anonymously.
	// A DN, or on Active Directory a user principal name
	// (svc-dirsync@corp.example.com) or a down-level logon name
	// (CORP\svc-dirsync): see BindNameForm.
	BindDN string `mapstructure:"bind_dn"`
	// BindPassword is the service account's password. Prefer
	// BindPasswordFile; never both.
	BindPassword string `mapstructure:"bind_password"`
	// BindPasswordFile holds the password (trailing newline ignored).
	BindPasswordFile string `mapstructure:"bind_password_file"`

	// BaseDN is the subtree searched for users. BaseDNs adds more subtrees;
	// at least one of them is required.
	BaseDN  string   `mapstructure:"base_dn"`
	BaseDNs []string `mapstructure:"base_dns"`
	// UserFilter selects user entries. Default (objectClass=person); on AD
	// use (&(objectCategory=person)(objectClass=user)) to leave out computers.
	UserFilter string `mapstructure:"user_filter"`
	// PageSize is the number of entries per page of the paged search
	// (RFC 2696), 1 to MaxPageSize. Default 500.
	PageSize int `mapstructure:"page_size"`
	// IDAttribute holds each user's stable ID. Default entryUUID (OpenLDAP);
	// objectGUID (AD) is read as binary and formatted as AD shows it,
	// objectSid as S-1-5-...
	IDAttribute string `mapstructure:"id_attribute"`
	// DisabledFilter selects the disabled users among those UserFilter
	// selects, e.g. (pwdAccountLockedTime=*). They are read with Active
	// false. AD's userAccountControl "account disabled" bit is always
	// honoured when the attribute is present.
	DisabledFilter string `mapstructure:"disabled_filter"`
	// MemberOf limits the users to the members of this group DN, directly or
	// through nested groups (member values are followed; cycles are fine).
	MemberOf string `mapstructure:"member_of"`
	// NestedGroups adds to each user's groups (the groups attribute) every
	// group that holds the user, directly or through other groups, read
	// from the groups' member values under GroupBaseDN: mappings of a group
	// (target.groups, a REST profile's mappings) then reach the members of
	// its subgroups. Default false.
	NestedGroups bool `mapstructure:"nested_groups"`
	// GroupBaseDN is where NestedGroups reads the groups. Default: the user
	// base DNs.
	GroupBaseDN string `mapstructure:"group_base_dn"`
	// Timeout bounds connecting and each request (one page of a search).
	// Default 30s.
	Timeout time.Duration `mapstructure:"timeout"`
	// FastRead makes the user search, the read of the whole directory, decode
	// the server's responses with dirsync's own lean decoder instead of the
	// go-ldap library's (several times faster, a twentieth of the memory
	// allocated). false goes back to go-ldap: a workaround should a server
	// send responses the decoder refuses ("malformed LDAP message"). Either
	// way an incomplete read is an error. Default true.
	FastRead bool `mapstructure:"fast_read"`
	// Attributes maps directory attributes to user fields.
	Attributes Attributes `mapstructure:"attributes"`

	// Watch makes `dirsync run` follow the directory's changes between
	// scheduled runs and sync each changed user within seconds: off (the
	// default: scheduled runs only), auto (the best the server offers),
	// syncrepl (RFC 4533, OpenLDAP's syncprov), dirsync (Active Directory's
	// DirSync control), poll (a modifyTimestamp / uSNChanged query every
	// WatchPollInterval; it cannot see deletes, the scheduled runs do).
	Watch string `mapstructure:"watch"`
	// WatchPollInterval is how often watch: poll (and dirsync, which asks
	// rather than being told) queries the directory. Default (and 0) 10s.
	WatchPollInterval time.Duration `mapstructure:"watch_poll_interval"`

	// Transform shapes each user's fields after the mapping (the top-level
	// `transform:` section, which the config loader copies here; see package
	// transform). New compiles it; Validate leaves it to the transform
	// section's own validation.
	Transform transform.Config `mapstructure:"-"`
	// transform is Transform compiled, set by New.
	transform *transform.Program
}

// Attributes names the directory attribute of each user field. An empty name
// leaves the field empty, except Username, which is required.
type Attributes struct {
	// Username: default uid; on AD sAMAccountName or userPrincipalName.
	Username string `mapstructure:"username"`
	// Email: default mail.
	Email string `mapstructure:"email"`
	// GivenName: default givenName.
	GivenName string `mapstructure:"given_name"`
	// FamilyName: default sn.
	FamilyName string `mapstructure:"family_name"`
	// DisplayName: default displayName; cn is used when it is empty.
	DisplayName string `mapstructure:"display_name"`
	// Groups: default memberOf; its values (group DNs) become user.Groups.
	// Empty disables group reading.
	Groups string `mapstructure:"groups"`
	// Extra maps a name in user.Extra to an attribute, e.g.
	// {department: department}. The first value is used.
	Extra map[string]string `mapstructure:"extra"`
}

// Defaults and bounds.
const (
	DefaultPageSize   = 500
	MaxPageSize       = 10000
	DefaultTimeout    = 30 * time.Second
	DefaultUserFilter = "(objectClass=person)"
	DefaultIDAttr     = "entryUUID"
	// DefaultWatchPollInterval is the default ldap.watch_poll_interval.
	DefaultWatchPollInterval = 10 * time.Second
)

// Default returns the configuration defaults.
func Default() Config {
	return Config{
		UserFilter:        DefaultUserFilter,
		PageSize:          DefaultPageSize,
		IDAttribute:       DefaultIDAttr,
		Timeout:           DefaultTimeout,
		FastRead:          true,
		Watch:             WatchOff,
		WatchPollInterval: DefaultWatchPollInterval,
		Attributes: Attributes{
			Username:    "uid",
			Email:       "mail",
			GivenName:   "givenName",
			FamilyName:  "sn",
			DisplayName: "displayName",
			Groups:      "memberOf",
		},
	}
}

// ValidationError lists every problem in a Config, each prefixed with its
// configuration key (ldap.url: ...).
type ValidationError struct {
	Problems []string
}

func (e *ValidationError) Error() string {
	return "invalid ldap configuration:\n  " + strings.Join(e.Problems, "\n  ")
}

// Unwrap returns one error per problem, as the other sections' Validate do
// (errors.Join), so that a caller listing the problems of every section
// counts and prints these the same way.
func (e *ValidationError) Unwrap() []error {
	errs := make([]error, len(e.Problems))
	for i, p := range e.Problems {
		errs[i] = errors.New(p)
	}
	return errs
}

// attrDescription matches an attribute description: a name or an OID, with
// options (member;range=0-1499).
var attrDescription = regexp.MustCompile(`^([A-Za-z][A-Za-z0-9-]*|[0-9]+(\.[0-9]+)+)(;[A-Za-z0-9=-]+)*$`)

// Validate reports every problem at once, as a *ValidationError.
func (c Config) Validate() error {
	var problems []string
	add := func(key, format string, args ...any) {
		problems = append(problems, "ldap."+key+": "+fmt.Sprintf(format, args...))
	}

	switch u, err := url.Parse(c.URL); {
	case c.URL == "":
		add("url", "required, e.g. ldaps://dc1.corp.example.com")
	case err != nil:
		add("url", "%v", err)
	case u.Scheme != "ldap" && u.Scheme != "ldaps":
		add("url", "scheme %q: want ldaps:// or ldap://", u.Scheme)
	case u.Hostname() == "":
		add("url", "%q has no host", c.URL)
	case u.Scheme == "ldaps" && c.StartTLS:
		add("start_tls", "cannot be used with ldaps:// (already TLS); use ldap:// with start_tls, or unset it")
	case u.Scheme == "ldap" && !c.StartTLS && !c.AllowPlaintext:
		add("url", "ldap:// sends the password and all data in clear text: use ldaps://, or set ldap.start_tls: true, or accept clear text with ldap.allow_plaintext: true")
	}
	if c.CAFile != "" {
		if _, err := os.Stat(c.CAFile); err != nil {
			add("ca_file", "%v", err)
		}
	}

	if c.BindDN != "" {
		if _, err := BindNameForm(c.BindDN); err != nil {
			add("bind_dn", "%v", err)
		}
	}
	switch {
	case c.BindPassword != "" && c.BindPasswordFile != "":
		add("bind_password", "set either ldap.bind_password or ldap.bind_password_file, not both")
	case c.BindDN != "" && c.BindPassword == "" && c.BindPasswordFile == "":
		add("bind_password", "required with ldap.bind_dn: set ldap.bind_password or ldap.bind_password_file")
	case c.BindDN == "" && (c.BindPassword != "" || c.BindPasswordFile != ""):
		add("bind_dn", "required when a bind password is set")
	}
	if c.BindPasswordFile != "" {
		if _, err := os.Stat(c.BindPasswordFile); err != nil {
			add("bind_password_file", "%v", err)
		}
	}

	if len(c.bases()) == 0 {
		add("base_dn", "required: set ldap.base_dn or ldap.base_dns")
	}
	if c.BaseDN != "" {
		if _, err := ldap.ParseDN(c.BaseDN); err != nil {
			add("base_dn", "not a valid DN: %v", err)
		}
	}
	for i, b := range c.BaseDNs {
		if strings.TrimSpace(b) == "" {
			add(fmt.Sprintf("base_dns[%d]", i), "empty")
		} else if _, err := ldap.ParseDN(b); err != nil {
			add(fmt.Sprintf("base_dns[%d]", i), "not a valid DN: %v", err)
		}
	}
	if c.UserFilter == "" {
		add("user_filter", "required, e.g. (objectClass=inetOrgPerson)")
	} else if _, err := ldap.CompileFilter(c.UserFilter); err != nil {
		add("user_filter", "%v", err)
	}
	if c.DisabledFilter != "" {
		if _, err := ldap.CompileFilter(c.DisabledFilter); err != nil {
			add("disabled_filter", "%v", err)
		}
	}
	if c.PageSize < 1 || c.PageSize > MaxPageSize {
		add("page_size", "%d is out of range: want 1 to %d (default %d)", c.PageSize, MaxPageSize, DefaultPageSize)
	}
	if c.IDAttribute == "" {
		add("id_attribute", "required, e.g. entryUUID (OpenLDAP) or objectGUID (AD)")
	} else if !attrDescription.MatchString(c.IDAttribute) {
		add("id_attribute", "%q is not an attribute name", c.IDAttribute)
	}
	if c.GroupBaseDN != "" {
		if _, err := ldap.ParseDN(c.GroupBaseDN); err != nil {
			add("group_base_dn", "not a valid DN: %v", err)
		}
	}
	if c.MemberOf != "" {
		if _, err := ldap.ParseDN(c.MemberOf); err != nil {
			add("member_of", "not a valid group DN: %v", err)
		}
	}
	if c.Timeout <= 0 {
		add("timeout", "must be positive, e.g. 30s")
	}
	if c.Watch != "" && !slices.Contains(watchModes, c.Watch) {
		add("watch", "%q is not a watch mode: want one of %s", c.Watch, strings.Join(watchModes, ", "))
	}
	if c.WatchPollInterval != 0 && c.WatchPollInterval < 100*time.Millisecond {
		add("watch_poll_interval", "%v is too short: want at least 100ms (default %v)", c.WatchPollInterval, DefaultWatchPollInterval)
	}

	a := c.Attributes
	if a.Username == "" {
		add("attributes.username", "required, e.g. uid or sAMAccountName")
	}
	for _, f := range []struct{ key, v string }{
		{"username", a.Username}, {"email", a.Email}, {"given_name", a.GivenName},
		{"family_name", a.FamilyName}, {"display_name", a.DisplayName}, {"groups", a.Groups},
	} {
		if f.v != "" && !attrDescription.MatchString(f.v) {
			add("attributes."+f.key, "%q is not an attribute name", f.v)
		}
	}
	for _, name := range slices.Sorted(maps.Keys(a.Extra)) {
		switch v := a.Extra[name]; {
		case strings.TrimSpace(name) == "":
			add("attributes.extra", "empty name")
		case v == "":
			add("attributes.extra."+name, "attribute name required")
		case !attrDescription.MatchString(v):
			add("attributes.extra."+name, "%q is not an attribute name", v)
		}
	}

	if len(problems) > 0 {
		return &ValidationError{Problems: problems}
	}
	return nil
}

// The forms of ldap.bind_dn (see BindNameForm).
const (
	BindFormDN        = "DN"
	BindFormUPN       = "user principal name"
	BindFormDownLevel = "down-level logon name"
)

// bindFormsHint names the accepted forms of ldap.bind_dn, with an example
// of each.
const bindFormsHint = `want a DN (CN=svc-dirsync,OU=Service,DC=corp,DC=example,DC=com), ` +
	`or on Active Directory a user principal name (svc-dirsync@corp.example.com) ` +
	`or a down-level logon name (CORP\svc-dirsync; in YAML single-quoted or unquoted)`

// downLevelDomain matches a NetBIOS domain name: 1 to 15 characters, none of
// \ / : * ? " < > | and not starting with a dot.
var downLevelDomain = regexp.MustCompile(`^[^\\/:*?"<>|.\s][^\\/:*?"<>|]{0,14}$`)

// samAccountName matches a sAMAccountName: none of " / \ [ ] : ; | = , + * ? < > @
// nor control characters.
var samAccountName = regexp.MustCompile(`^[^"/\\\[\]:;|=,+*?<>@\x00-\x1f]+$`)

// upnSuffix matches a UPN suffix: DNS labels separated by dots.
var upnSuffix = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*$`)

// BindNameForm says which form of bind name name is: a DN (anything with
// an '='), a user principal name (user@suffix) or a down-level logon name
// (DOMAIN\user); the last two are Active Directory's, which takes all
// three in a simple bind. The error names what is wrong and the forms
// accepted.
func BindNameForm(name string) (string, error) {
	switch {
	case strings.Contains(name, "="):
		if _, err := ldap.ParseDN(name); err != nil {
			return "", fmt.Errorf("'%s' is not a valid DN (%v): %s", name, err, bindFormsHint)
		}
		return BindFormDN, nil
	case strings.Contains(name, `\`):
		domain, user, _ := strings.Cut(name, `\`)
		switch {
		case !downLevelDomain.MatchString(domain):
			return "", fmt.Errorf("'%s' is not a down-level logon name: the domain '%s' must be a NetBIOS name of 1 to 15 characters, without any of \\ / : * ? \" < > |: %s", name, domain, bindFormsHint)
		case !samAccountName.MatchString(user):
			return "", fmt.Errorf("'%s' is not a down-level logon name: the account '%s' must be a sAMAccountName, without any of \" / \\ [ ] : ; | = , + * ? < > @: %s", name, user, bindFormsHint)
		}
		return BindFormDownLevel, nil
	case strings.Contains(name, "@"):
		i := strings.LastIndex(name, "@")
		user, suffix := name[:i], name[i+1:]
		switch {
		case user == "" || strings.ContainsAny(user, "@ \t\r\n"):
			return "", fmt.Errorf("'%s' is not a user principal name: want one user name before the @, without spaces: %s", name, bindFormsHint)
		case !upnSuffix.MatchString(suffix):
			return "", fmt.Errorf("'%s' is not a user principal name: '%s' after the @ must be a domain name such as corp.example.com: %s", name, suffix, bindFormsHint)
		}
		return BindFormUPN, nil
	}
	return "", fmt.Errorf("'%s' is not a bind name: %s", name, bindFormsHint)
}

// bases returns the distinct base DNs to search, BaseDN first.
func (c Config) bases() []string {
	var out []string
	for _, b := range append([]string{c.BaseDN}, c.BaseDNs...) {
		b = strings.TrimSpace(b)
		if b != "" && !slices.ContainsFunc(out, func(o string) bool { return strings.EqualFold(o, b) }) {
			out = append(out, b)
		}
	}
	return out
}

// Redacted returns a copy of c safe to print or log: the password is
// replaced. The password file's path is kept.
func (c Config) Redacted() Config {
	if c.BindPassword != "" {
		c.BindPassword = "REDACTED"
	}
	c.BaseDNs = slices.Clone(c.BaseDNs)
	c.Attributes.Extra = maps.Clone(c.Attributes.Extra)
	return c
}

// String prints the redacted configuration, so that %v and %+v never show
// the password.
func (c Config) String() string {
	type plain Config // no String method: no recursion
	return fmt.Sprintf("%+v", plain(c.Redacted()))
}

// GoString is String, for %#v.
func (c Config) GoString() string { return c.String() }
