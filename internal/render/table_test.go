package render

import (
	"strings"
	"testing"

	dsync "github.com/dirsync/dirsync/sync"
	"github.com/dirsync/dirsync/user"
)

func TestWritePlan_ColumnsAlignWithWideAndCombiningCharacters(t *testing.T) {
	var b strings.Builder
	WritePlan(&b, dsync.Plan{Changes: []dsync.Change{
		{Op: user.OpArchive, User: user.User{Username: "bob"}, Reason: "removed from the directory"},
		{Op: user.OpArchive, User: user.User{Username: "王小明"}, Reason: "removed from the directory"},
		{Op: user.OpArchive, User: user.User{Username: "jose\u0301"}, Reason: "removed from the directory"},
	}})
	var cols []int
	for _, l := range strings.Split(b.String(), "\n") {
		if i := strings.Index(l, "removed"); i >= 0 {
			cols = append(cols, DisplayWidth(l[:i]))
		}
	}
	if len(cols) != 3 || cols[0] != cols[1] || cols[0] != cols[2] {
		t.Errorf("reasons start at columns %v, want the same column:\n%s", cols, b.String())
	}
}

func TestDisplayWidth(t *testing.T) {
	for s, want := range map[string]int{"bob": 3, "王小明": 6, "jose\u0301": 4, "Müller": 6, "ｆｕｌｌ": 8} {
		if got := DisplayWidth(s); got != want {
			t.Errorf("DisplayWidth(%q) = %d, want %d", s, got, want)
		}
	}
}
