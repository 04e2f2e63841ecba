package transform

import (
	"testing"

	"github.com/dirsync/dirsync/user"
)

func TestApply_AbsentExtraAndAttributeReadAsEmpty(t *testing.T) {
	p, err := Config{Extra: map[string]string{"d": `upper(extra.dept) + "|" + attr.title + "|" + string(len(attrs.title))`}}.Compile()
	if err != nil {
		t.Fatal(err)
	}
	got, err := p.NewRunner().Apply(user.User{ID: "1", Username: "a"}, nil)
	if err != nil || got.Extra["d"] != "||0" {
		t.Errorf("Apply() = %v, %v; want extra.d \"||0\"", got.Extra, err)
	}
}
