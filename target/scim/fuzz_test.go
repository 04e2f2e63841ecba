package scim

import (
	"encoding/json"
	"net/http"
	"testing"
	"unicode/utf8"

	"github.com/dirsync/dirsync/target"
)

// FuzzDecodeUser feeds arbitrary platform answers to the SCIM response parsing
// (a User and a ListResponse). It must never panic; a body it accepts maps to
// an account whose ID is the resource's id.
func FuzzDecodeUser(f *testing.F) {
	f.Add([]byte(`{"id":"1","externalId":"e","userName":"u","active":true,"emails":[{"value":"a@b","primary":true}],"name":{"givenName":"g","familyName":"f"}}`))
	f.Add([]byte(`{"id":2,"active":"True","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"department":"x"}}`))
	f.Add([]byte(`{"Resources":[{"id":"1"},{"id":null}],"totalResults":"2","startIndex":1}`))
	f.Add([]byte(`{"emails":[{"value":1},{"primary":"yes"}],"name":null}`))
	f.Add([]byte(`[]`))
	f.Add([]byte("\xff{"))
	f.Fuzz(func(t *testing.T, body []byte) {
		resp := &target.Response{Status: http.StatusOK, URL: "https://platform.example/scim/v2/Users/1", Body: body, Header: http.Header{}}
		var r resource
		if err := decode("scim get user", resp, &r); err == nil {
			acct := r.account()
			if acct.PlatformID != string(r.ID) {
				t.Fatalf("account ID %q, resource id %q", acct.PlatformID, r.ID)
			}
			if utf8.Valid(body) && json.Valid(body) {
				_ = acct.User.Hash()
			}
		}
		var l listResponse
		if err := decode("scim list users", resp, &l); err == nil {
			for i := range l.Resources {
				_ = l.Resources[i].account()
			}
		}
	})
}
