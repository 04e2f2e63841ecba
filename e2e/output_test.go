package e2e

import (
	"net/http"
	"strings"
	"testing"
	"unicode"

	"github.com/dirsync/dirsync/internal/slapdtest"
)

// displayWidth is the number of terminal columns s takes: two for a Han
// character, one for any other (the test's text holds no other wide ones).
func displayWidth(s string) int {
	w := 0
	for _, r := range s {
		w++
		if unicode.Is(unicode.Han, r) {
			w++
		}
	}
	return w
}

// columnAt returns the display column at which field starts in line, or -1.
func columnAt(line, field string) int {
	i := strings.Index(line, field)
	if i < 0 {
		return -1
	}
	return displayWidth(line[:i])
}

func TestStatus_FailingTableAlignsWideNames(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.addUser("bob", false)
	e.ldap.AddUser(t, e.ou, slapdtest.UserSpec{UID: "王小明", Mail: "wang@example.com", GivenName: "小明", SN: "王"})
	e.plat.FailUser("bob", http.StatusBadRequest)
	e.plat.FailUser("王小明", http.StatusBadRequest)
	e.mustRun(1, "sync")

	r := e.mustRun(0, "status")
	_, table, ok := strings.Cut(r.stdout, "Failing (")
	if !ok {
		t.Fatalf("no Failing table in:\n%s", r.stdout)
	}
	lines := strings.Split(table, "\n")[1:4]
	want := columnAt(lines[0], "STATUS")
	for _, l := range lines[1:] {
		if got := columnAt(l, "pending"); got != want {
			t.Errorf("STATUS column at %d in the header, at %d in %q:\n%s", want, got, l, table)
		}
	}
}
