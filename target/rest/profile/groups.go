package profile

// Groups are a REST profile's group endpoints (target.rest.groups), for
// the group push (groups.push): directory groups created, renamed, deleted
// and their members added and removed one call each. Bodies are JSON
// templates (as the user endpoints') referring to {{name}}, {{external_id}},
// {{platform_id}} (the group's id, not in create) and, in add_member and
// remove_member, {{member_id}}; paths hold {id} (the group) and {member}
// (the member's account id).
//
//	groups:
//	  list: {path: /api/v1/groups, items: ""}
//	  id: id
//	  name: profile.name
//	  external_id: profile.externalId
//	  members: {path: "/api/v1/groups/{id}/users", items: "", id: id}
//	  create: {method: POST, path: /api/v1/groups, body: '{"profile": {"name": "{{name}}"}}'}
//	  rename: {method: PUT, path: "/api/v1/groups/{id}", body: '{"profile": {"name": "{{name}}"}}'}
//	  delete: {method: DELETE, path: "/api/v1/groups/{id}"}
//	  add_member: {method: PUT, path: "/api/v1/groups/{id}/users/{member}"}
//	  remove_member: {method: DELETE, path: "/api/v1/groups/{id}/users/{member}"}
type Groups struct {
	// List reads every group: Path, and Items the path of the array in the
	// response ("" : the response is the array). A Link header's rel="next"
	// is followed.
	List GroupList `mapstructure:"list" json:"list"`
	// ID, Name and ExternalID are paths in a group object: its platform id,
	// its name, and where the directory group's ID is kept ("" : the
	// platform keeps none; groups are then adopted by name only).
	ID         string `mapstructure:"id" json:"id"`
	Name       string `mapstructure:"name" json:"name"`
	ExternalID string `mapstructure:"external_id" json:"external_id,omitempty"`
	// Members lists a group's members: Path (with {id}), Items, and ID the
	// path of the account id in a member object ("" : the items are ids).
	Members GroupList `mapstructure:"members" json:"members"`

	Create       Endpoint `mapstructure:"create" json:"create"`
	Rename       Endpoint `mapstructure:"rename" json:"rename"`
	Delete       Endpoint `mapstructure:"delete" json:"delete"`
	AddMember    Endpoint `mapstructure:"add_member" json:"add_member"`
	RemoveMember Endpoint `mapstructure:"remove_member" json:"remove_member"`
}

// GroupList is a listing of groups or of a group's members.
type GroupList struct {
	Path  string `mapstructure:"path" json:"path,omitempty"`
	Items string `mapstructure:"items" json:"items,omitempty"`
	// ID is the path of the id in an item (members only).
	ID string `mapstructure:"id" json:"id,omitempty"`
}

// Configured reports whether the profile declares group endpoints.
func (g Groups) Configured() bool {
	return g.List.Path != "" || g.Create.Configured() || g.AddMember.Configured()
}

// References of group endpoint bodies.
const (
	RefGroupName = "name"
	RefMemberID  = "member_id"
)
