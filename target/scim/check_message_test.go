package scim_test

import (
	"context"
	"strings"
	"testing"

	"github.com/dirsync/dirsync/target/fake"
	"github.com/dirsync/dirsync/target/scim"
)

func TestCheck_ErrorNamesTheCheckOnce(t *testing.T) {
	f := fake.New(fake.Options{Token: "the-right-one"})
	base := f.StartT(t)
	for name, url := range map[string]string{
		"bad token": base,
		"bad path":  strings.TrimSuffix(base, fake.BasePath) + "/api",
	} {
		c, err := scim.New(config(url))
		if err != nil {
			t.Fatal(err)
		}
		err = c.Check(context.Background())
		if err == nil || strings.Count(err.Error(), "scim check") != 1 {
			t.Errorf("%s: want one \"scim check\" in %v", name, err)
		}
	}
}
