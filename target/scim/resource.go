package scim

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/dirsync/dirsync/user"
)

// SCIM schema and message URNs (RFC 7643, RFC 7644).
const (
	SchemaUser       = "urn:ietf:params:scim:schemas:core:2.0:User"
	SchemaEnterprise = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
	schemaPatchOp    = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
)

// Extra attributes (user.User.Extra, config ldap.attributes.extra) that the client
// pushes, by their exact key. Any other extra key is not sent: SCIM has no place
// for it, and servers reject unknown attributes.
var (
	// coreExtra are simple attributes of the core User schema.
	coreExtra = []string{"title"}
	// enterpriseExtra are simple attributes of the enterprise extension.
	enterpriseExtra = []string{"employeeNumber", "costCenter", "organization", "division", "department"}
)

// resource is a SCIM User as read from a platform. The flex types accept the
// type variations seen in the wild (a numeric id, "True" for true).
type resource struct {
	ID          flexString `json:"id"`
	ExternalID  flexString `json:"externalId"`
	UserName    flexString `json:"userName"`
	DisplayName flexString `json:"displayName"`
	Title       flexString `json:"title"`
	Name        *struct {
		GivenName  flexString `json:"givenName"`
		FamilyName flexString `json:"familyName"`
	} `json:"name"`
	Emails []struct {
		Value   flexString `json:"value"`
		Type    flexString `json:"type"`
		Primary flexBool   `json:"primary"`
	} `json:"emails"`
	Active     *flexBool             `json:"active"`
	Enterprise map[string]flexString `json:"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"`
}

// account maps a platform resource to dirsync's view. User.ID is the externalId;
// Extra holds the attributes the client pushes (title and the enterprise ones).
// An absent "active" means active.
func (r *resource) account() user.Account {
	u := user.User{
		ID:          string(r.ExternalID),
		Username:    string(r.UserName),
		DisplayName: string(r.DisplayName),
		Active:      r.Active == nil || bool(*r.Active),
	}
	if r.Name != nil {
		u.GivenName, u.FamilyName = string(r.Name.GivenName), string(r.Name.FamilyName)
	}
	u.Email = r.primaryEmail()
	if r.Title != "" {
		u.Extra = map[string]string{"title": string(r.Title)}
	}
	for _, a := range enterpriseExtra {
		for k, v := range r.Enterprise {
			if strings.EqualFold(k, a) && v != "" {
				if u.Extra == nil {
					u.Extra = map[string]string{}
				}
				u.Extra[a] = string(v)
			}
		}
	}
	return user.Account{PlatformID: string(r.ID), User: u.Normalize()}
}

// primaryEmail is the primary email, else the first work one, else the first.
func (r *resource) primaryEmail() string {
	for _, e := range r.Emails {
		if e.Primary && e.Value != "" {
			return string(e.Value)
		}
	}
	for _, e := range r.Emails {
		if strings.EqualFold(string(e.Type), "work") && e.Value != "" {
			return string(e.Value)
		}
	}
	for _, e := range r.Emails {
		if e.Value != "" {
			return string(e.Value)
		}
	}
	return ""
}

// attrs are the attributes the client manages for u, as top-level SCIM attributes
// (the enterprise ones under their URN). Empty values are left out; cleared lists
// what u leaves empty, as PATCH paths, so an update can remove it.
func attrs(u user.User) (set map[string]any, cleared []string) {
	set = map[string]any{"userName": u.Username}
	if u.ID != "" {
		set["externalId"] = u.ID
	}
	name := map[string]any{}
	if u.GivenName != "" {
		name["givenName"] = u.GivenName
	} else {
		cleared = append(cleared, "name.givenName")
	}
	if u.FamilyName != "" {
		name["familyName"] = u.FamilyName
	} else {
		cleared = append(cleared, "name.familyName")
	}
	if len(name) > 0 {
		set["name"] = name
	}
	if u.DisplayName != "" {
		set["displayName"] = u.DisplayName
	} else {
		cleared = append(cleared, "displayName")
	}
	if u.Email != "" {
		set["emails"] = []any{map[string]any{"value": u.Email, "type": "work", "primary": true}}
	} else {
		cleared = append(cleared, "emails")
	}
	for _, a := range coreExtra {
		if v := u.Extra[a]; v != "" {
			set[a] = v
		}
	}
	ext := map[string]any{}
	for _, a := range enterpriseExtra {
		if v := u.Extra[a]; v != "" {
			ext[a] = v
		}
	}
	if len(ext) > 0 {
		set[SchemaEnterprise] = ext
	}
	return set, cleared
}

// schemasFor lists the schemas of a resource body.
func schemasFor(body map[string]any) []string {
	s := []string{SchemaUser}
	if _, ok := body[SchemaEnterprise]; ok {
		s = append(s, SchemaEnterprise)
	}
	return s
}

// flexString decodes a JSON string, number or null.
type flexString string

func (s *flexString) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	switch {
	case bytes.Equal(b, []byte("null")):
		*s = ""
	case len(b) > 0 && b[0] == '"':
		var v string
		if err := json.Unmarshal(b, &v); err != nil {
			return err
		}
		*s = flexString(v)
	case len(b) > 0 && (b[0] == '-' || (b[0] >= '0' && b[0] <= '9')):
		*s = flexString(b)
	default:
		return fmt.Errorf("want a string, got %s", clip(b))
	}
	return nil
}

// flexBool decodes a JSON boolean, "true"/"false" in any case, or null (false).
type flexBool bool

func (v *flexBool) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	switch {
	case bytes.Equal(b, []byte("null")):
		*v = false
		return nil
	case len(b) > 0 && b[0] == '"':
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		p, err := strconv.ParseBool(strings.ToLower(strings.TrimSpace(s)))
		if err != nil {
			return fmt.Errorf("want a boolean, got %q", s)
		}
		*v = flexBool(p)
		return nil
	}
	var p bool
	if err := json.Unmarshal(b, &p); err != nil {
		return fmt.Errorf("want a boolean, got %s", clip(b))
	}
	*v = flexBool(p)
	return nil
}

// flexInt decodes a JSON number, a numeric string, or null (0).
type flexInt int

func (v *flexInt) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if bytes.Equal(b, []byte("null")) {
		*v = 0
		return nil
	}
	s := string(b)
	if len(b) > 0 && b[0] == '"' {
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
	}
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil {
		return fmt.Errorf("want an integer, got %s", clip(b))
	}
	*v = flexInt(n)
	return nil
}

func clip(b []byte) string {
	if len(b) > 40 {
		return string(b[:40]) + "…"
	}
	return string(b)
}
