package user

import (
	"errors"
	"strings"
	"unicode"
)

// CheckPlatformID reports why id cannot be a platform account's identifier,
// or nil. dirsync puts the id in request paths (/Users/{id}): an empty id,
// "." or "..", or one holding '/', '\', '?', '#' or a control character
// would address another resource — the collection, the API root — however it
// is escaped, since servers and proxies normalise such paths. Every id a
// platform answers (a create, a lookup, a listing) is checked before dirsync
// keeps or uses it.
func CheckPlatformID(id string) error {
	switch {
	case id == "":
		return errors.New("it is empty")
	case id == "." || id == "..":
		return errors.New("it is a relative path segment")
	case strings.ContainsAny(id, `/\?#`):
		return errors.New(`it holds '/', '\', '?' or '#'`)
	case strings.IndexFunc(id, unicode.IsControl) >= 0:
		return errors.New("it holds a control character")
	}
	return nil
}
