package rest_test

import (
	"strings"
	"testing"

	"github.com/dirsync/dirsync/target"
	"github.com/dirsync/dirsync/target/rest"
	"github.com/dirsync/dirsync/target/rest/profile"
)

func restConfig() target.Config {
	c := target.Default()
	c.Type, c.URL, c.Token = target.TypeREST, "https://p.example.com", "tok"
	c.Rest = profile.Profile{
		List:       profile.List{Path: "/users"},
		ID:         "id",
		Fields:     map[string]string{"email": "email"},
		Active:     "active",
		Mappings:   map[string][]profile.GroupMapping{"role": {{Group: "admins", Value: "r1"}}},
		Create:     profile.Endpoint{Method: "POST", Path: "/users", Body: `{"e": "{{email}}", "r": "{{group.role}}", "o": "{{groups.role}}"}`},
		Deactivate: profile.Endpoint{Method: "POST", Path: "/users/{id}/off"},
		Reactivate: profile.Endpoint{Method: "POST", Path: "/users/{id}/on"},
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
	c.Rest.Update = profile.Endpoint{Method: "PUT", Path: "/users/{id}", Body: `{"x": "{{extra.}}"}`}
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
	c.Rest.Auth = profile.Auth{Type: profile.AuthQuery, Params: []string{"CompanyId=42", "IntegrationKey=sekret-123"}}
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
	c.Rest.Auth = profile.Auth{Type: profile.AuthOAuth2, ClientID: "id", TokenURL: "http://idp.example.com/token"}
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "target.rest.auth.token_url") {
		t.Fatalf("got %v, want token_url refused", err)
	}
}

func TestRestProfile_PagingAndErrorKeysAreCheckedByName(t *testing.T) {
	c := restConfig()
	c.Rest.List.Pagination = profile.PageNextURL
	c.Rest.List.MaxPages = -1
	c.Rest.Error.ConflictText = []string{"/(unclosed/"}
	c.Rest.Error.NotFoundText = []string{" "}
	c.Rest.Reactivate.Outcomes = []profile.Outcome{{Status: 403, Means: "ok"}, {Means: profile.MeansDone}, {Status: 200, Means: profile.MeansDone}}
	err := c.Validate()
	for _, want := range []string{
		"target.rest.list.next_url: must be set for next_url pagination",
		"target.rest.list.max_pages: must be positive",
		"target.rest.error.conflict_text:",
		"target.rest.error.not_found_text:",
		`target.rest.reactivate.outcomes[0].means: "ok" is not done, not_found or conflict`,
		"target.rest.reactivate.outcomes[1]: must set status, code or text",
		"target.rest.reactivate.outcomes[2].status: 200 is not an HTTP error status",
	} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("got %v, want %q", err, want)
		}
	}
	c = restConfig()
	c.Rest.List.Pagination = profile.PageCursor
	c.Rest.List.NextCursorHeader = "X-Next-Cursor"
	c.Rest.Error.ConflictText = []string{"already exists", `/duplicate \w+/`}
	c.Rest.Reactivate.Outcomes = []profile.Outcome{{Status: 403, Code: "E0000016", Means: profile.MeansDone}}
	if err := c.Validate(); err != nil {
		t.Fatalf("valid profile: %v", err)
	}
}

func TestTextMatcher_SubstringsIgnoreCaseAndSlashesMeanARegexp(t *testing.T) {
	m, err := rest.NewTextMatcher([]string{"Already Exists", `/^E00+1$/`})
	if err != nil {
		t.Fatal(err)
	}
	for text, want := range map[string]bool{"login: An object with this field already exists": true, "e0000001": true,
		"E0000001: Api validation failed": false, "not found": false, "": false} {
		if got := m.Match(text); got != want {
			t.Errorf("Match(%q) = %v, want %v", text, got, want)
		}
	}
}
