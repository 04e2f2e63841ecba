package target

import (
	"strings"
	"testing"
)

func restConfig() Config {
	c := Default()
	c.Type, c.URL, c.Token = TypeREST, "https://p.example.com", "tok"
	c.Rest = RestProfile{
		List:       RestList{Path: "/users"},
		ID:         "id",
		Fields:     map[string]string{"email": "email"},
		Active:     "active",
		Mappings:   map[string][]GroupMapping{"role": {{Group: "admins", Value: "r1"}}},
		Create:     RestEndpoint{Method: "POST", Path: "/users", Body: `{"e": "{{email}}", "r": "{{group.role}}", "o": "{{groups.role}}"}`},
		Deactivate: RestEndpoint{Method: "POST", Path: "/users/{id}/off"},
		Reactivate: RestEndpoint{Method: "POST", Path: "/users/{id}/on"},
	}
	return c
}

func TestRestProfile_ValidProfilePasses(t *testing.T) {
	if err := restConfig().Validate(); err != nil {
		t.Fatal(err)
	}
}

func TestRestProfile_TemplateReferencesAreChecked(t *testing.T) {
	c := restConfig()
	c.Rest.Create.Body = `{"r": "{{group.rolez}}", "id": "{{platform_id}}"}`
	c.Rest.Update = RestEndpoint{Method: "PUT", Path: "/users/{id}", Body: `{"x": "{{extra.}}"}`}
	err := c.Validate()
	for _, want := range []string{"target.rest.create.body: refers to unknown field(s) {{group.rolez}}, {{platform_id}}", "target.rest.update.body: refers to unknown field(s) {{extra.}}"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("got %v, want %q", err, want)
		}
	}
}

func TestRestProfile_QueryAuthNeedsNoTokenAndItsKeyIsRedacted(t *testing.T) {
	c := restConfig()
	c.Token = ""
	c.Rest.Auth = RestAuth{Type: AuthQuery, Params: []string{"CompanyId=42", "IntegrationKey=sekret-123"}}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	c.URL = "https://p.example.com/api?x=sekret-123"
	r := c.Redacted()
	if s := r.URL + strings.Join(r.Rest.Auth.Params, " "); strings.Contains(s, "sekret-123") || !strings.Contains(s, "CompanyId=42") {
		t.Fatalf("Redacted: %q", s)
	}
}

func TestRestProfile_TokenURLMustNotBeCleartext(t *testing.T) {
	c := restConfig()
	c.Rest.Auth = RestAuth{Type: AuthOAuth2, ClientID: "id", TokenURL: "http://idp.example.com/token"}
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "target.rest.auth.token_url") {
		t.Fatalf("got %v, want token_url refused", err)
	}
}
