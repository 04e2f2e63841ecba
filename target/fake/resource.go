package fake

import (
	"fmt"
	"strings"
	"time"

	"github.com/dirsync/dirsync/user"
)

// SCIM schema and message URNs.
const (
	SchemaUser       = "urn:ietf:params:scim:schemas:core:2.0:User"
	SchemaEnterprise = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
	schemaList       = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
	schemaError      = "urn:ietf:params:scim:api:messages:2.0:Error"
	schemaPatchOp    = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
	schemaSPC        = "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"
)

// enterpriseAttrs are the enterprise extension's simple attributes the fake keeps.
var enterpriseAttrs = []string{"employeeNumber", "costCenter", "organization", "division", "department"}

// Email is one value of a user's emails.
type Email struct {
	Value   string
	Type    string
	Primary bool
}

// Resource is a SCIM User as the fake platform holds it.
type Resource struct {
	ID          string
	ExternalID  string
	UserName    string
	GivenName   string
	FamilyName  string
	DisplayName string
	Title       string
	Emails      []Email
	Active      bool
	// Enterprise holds the enterprise extension's attributes (department,
	// employeeNumber, costCenter, organization, division).
	Enterprise map[string]string
	// Other holds any other top-level attribute received, as decoded from JSON.
	Other map[string]any

	Created      time.Time
	LastModified time.Time
	// Version counts the writes to the resource, from 1.
	Version int
}

// PrimaryEmail returns the primary email, or the first one.
func (r Resource) PrimaryEmail() string {
	for _, e := range r.Emails {
		if e.Primary {
			return e.Value
		}
	}
	if len(r.Emails) > 0 {
		return r.Emails[0].Value
	}
	return ""
}

// Account maps r to dirsync's view: User.ID is the externalId; Extra holds title
// and the enterprise attributes.
func (r Resource) Account() user.Account {
	u := user.User{
		ID:          r.ExternalID,
		Username:    r.UserName,
		Email:       r.PrimaryEmail(),
		GivenName:   r.GivenName,
		FamilyName:  r.FamilyName,
		DisplayName: r.DisplayName,
		Active:      r.Active,
	}
	if r.Title != "" || len(r.Enterprise) > 0 {
		u.Extra = map[string]string{}
		if r.Title != "" {
			u.Extra["title"] = r.Title
		}
		for k, v := range r.Enterprise {
			u.Extra[k] = v
		}
	}
	return user.Account{PlatformID: r.ID, User: u}
}

// fromUser builds the resource a SCIM client would create for u.
func fromUser(u user.User) Resource {
	r := Resource{
		ExternalID:  u.ID,
		UserName:    u.Username,
		GivenName:   u.GivenName,
		FamilyName:  u.FamilyName,
		DisplayName: u.DisplayName,
		Active:      u.Active,
	}
	if u.Email != "" {
		r.Emails = []Email{{Value: u.Email, Type: "work", Primary: true}}
	}
	for k, v := range u.Extra {
		if k == "title" {
			r.Title = v
			continue
		}
		for _, a := range enterpriseAttrs {
			if k == a {
				if r.Enterprise == nil {
					r.Enterprise = map[string]string{}
				}
				r.Enterprise[a] = v
			}
		}
	}
	return r
}

func (r Resource) clone() Resource {
	r.Emails = append([]Email(nil), r.Emails...)
	if r.Enterprise != nil {
		e := make(map[string]string, len(r.Enterprise))
		for k, v := range r.Enterprise {
			e[k] = v
		}
		r.Enterprise = e
	}
	if r.Other != nil {
		o := make(map[string]any, len(r.Other))
		for k, v := range r.Other {
			o[k] = v
		}
		r.Other = o
	}
	return r
}

// attrs returns r's attributes as a JSON object, without id, schemas and meta.
func (r Resource) attrs() map[string]any {
	m := map[string]any{}
	for k, v := range r.Other {
		m[k] = v
	}
	m["userName"] = r.UserName
	m["active"] = r.Active
	if r.ExternalID != "" {
		m["externalId"] = r.ExternalID
	}
	if r.DisplayName != "" {
		m["displayName"] = r.DisplayName
	}
	if r.Title != "" {
		m["title"] = r.Title
	}
	if r.GivenName != "" || r.FamilyName != "" {
		name := map[string]any{}
		if r.GivenName != "" {
			name["givenName"] = r.GivenName
		}
		if r.FamilyName != "" {
			name["familyName"] = r.FamilyName
		}
		m["name"] = name
	}
	if len(r.Emails) > 0 {
		es := make([]any, len(r.Emails))
		for i, e := range r.Emails {
			em := map[string]any{"value": e.Value, "primary": e.Primary}
			if e.Type != "" {
				em["type"] = e.Type
			}
			es[i] = em
		}
		m["emails"] = es
	}
	if len(r.Enterprise) > 0 {
		ext := map[string]any{}
		for k, v := range r.Enterprise {
			ext[k] = v
		}
		m[SchemaEnterprise] = ext
	}
	return m
}

// json returns the full SCIM representation of r.
func (r Resource) json(base string) map[string]any {
	m := r.attrs()
	schemas := []string{SchemaUser}
	if len(r.Enterprise) > 0 {
		schemas = append(schemas, SchemaEnterprise)
	}
	m["schemas"] = schemas
	m["id"] = r.ID
	m["meta"] = map[string]any{
		"resourceType": "User",
		"created":      r.Created.UTC().Format(time.RFC3339),
		"lastModified": r.LastModified.UTC().Format(time.RFC3339),
		"location":     base + "/Users/" + r.ID,
		"version":      fmt.Sprintf("W/\"%d\"", r.Version),
	}
	return m
}

// scimError is a SCIM error response (RFC 7644 §3.12).
type scimError struct {
	status   int
	scimType string
	detail   string
}

func (e *scimError) Error() string { return e.detail }

func badRequest(scimType, format string, args ...any) *scimError {
	return &scimError{status: 400, scimType: scimType, detail: fmt.Sprintf(format, args...)}
}

// decodeResource reads a User resource from a JSON object. Attribute names are
// case-insensitive (RFC 7643 §2.1). Unknown attributes are kept in Other.
func decodeResource(m map[string]any) (Resource, *scimError) {
	var r Resource
	r.Active = true
	for k, v := range m {
		var err *scimError
		switch strings.ToLower(k) {
		case "schemas", "id", "meta", "groups":
			// Set by the server, or read-only.
		case "externalid":
			r.ExternalID, err = str(k, v)
		case "username":
			r.UserName, err = str(k, v)
		case "displayname":
			r.DisplayName, err = str(k, v)
		case "title":
			r.Title, err = str(k, v)
		case "active":
			b, ok := v.(bool)
			if !ok {
				err = badRequest("invalidValue", "active must be a boolean, got %T", v)
			}
			r.Active = b
		case "name":
			if v == nil {
				continue
			}
			nm, ok := v.(map[string]any)
			if !ok {
				return r, badRequest("invalidValue", "name must be an object")
			}
			for nk, nv := range nm {
				switch strings.ToLower(nk) {
				case "givenname":
					r.GivenName, err = str("name.givenName", nv)
				case "familyname":
					r.FamilyName, err = str("name.familyName", nv)
				}
				if err != nil {
					return r, err
				}
			}
		case "emails":
			if v == nil {
				continue
			}
			arr, ok := v.([]any)
			if !ok {
				return r, badRequest("invalidValue", "emails must be an array")
			}
			r.Emails = nil
			for _, item := range arr {
				em, ok := item.(map[string]any)
				if !ok {
					return r, badRequest("invalidValue", "emails must hold objects")
				}
				var e Email
				for ek, ev := range em {
					switch strings.ToLower(ek) {
					case "value":
						e.Value, err = str("emails.value", ev)
					case "type":
						e.Type, err = str("emails.type", ev)
					case "primary":
						b, ok := ev.(bool)
						if !ok {
							err = badRequest("invalidValue", "emails.primary must be a boolean")
						}
						e.Primary = b
					}
					if err != nil {
						return r, err
					}
				}
				r.Emails = append(r.Emails, e)
			}
		case strings.ToLower(SchemaEnterprise):
			if v == nil {
				continue
			}
			ext, ok := v.(map[string]any)
			if !ok {
				return r, badRequest("invalidValue", "%s must be an object", SchemaEnterprise)
			}
			for ek, ev := range ext {
				for _, a := range enterpriseAttrs {
					if strings.EqualFold(ek, a) {
						s, err := str(a, ev)
						if err != nil {
							return r, err
						}
						if s != "" {
							if r.Enterprise == nil {
								r.Enterprise = map[string]string{}
							}
							r.Enterprise[a] = s
						}
					}
				}
			}
		default:
			if r.Other == nil {
				r.Other = map[string]any{}
			}
			r.Other[k] = v
		}
		if err != nil {
			return r, err
		}
	}
	if strings.TrimSpace(r.UserName) == "" {
		return r, badRequest("invalidValue", "userName is required")
	}
	return r, nil
}

func str(name string, v any) (string, *scimError) {
	switch v := v.(type) {
	case nil:
		return "", nil
	case string:
		return v, nil
	}
	return "", badRequest("invalidValue", "%s must be a string, got %T", name, v)
}
