package transform

import (
	"fmt"
	"testing"

	"github.com/dirsync/dirsync/user"
)

// exampleConfig is the transform of the README's example, plus one raw
// attribute: three string fields and an extra one.
var exampleConfig = Config{
	Username:    `lower(split(email, "@")[0])`,
	DisplayName: `given_name + " " + family_name`,
	Extra: map[string]string{
		"department": `trim(upper(extra.dept))`,
		"badge":      `attr.employeeNumber`,
	},
}

func benchUser(i int) (user.User, map[string][]string) {
	return user.User{
			ID: fmt.Sprintf("%08x-4e1c-11ef-9c6a-%012x", i, i), DN: fmt.Sprintf("uid=user%06d,ou=people,dc=example,dc=com", i),
			Username: fmt.Sprintf("user%06d", i), Email: fmt.Sprintf("User%06d@Example.com", i),
			GivenName: "User", FamilyName: fmt.Sprintf("Number %d", i), Active: true,
			Extra: map[string]string{"dept": " sales "},
		}.Normalize(),
		map[string][]string{"employeeNumber": {fmt.Sprintf("E%06d", i)}}
}

// BenchmarkNoChangeUser is the per-user work of a no-change run after the
// read, without and with the transform: (transform,) normalize and hash.
func BenchmarkNoChangeUser(b *testing.B) {
	const n = 1000
	users := make([]user.User, n)
	raws := make([]map[string][]string, n)
	for i := range users {
		users[i], raws[i] = benchUser(i)
	}
	b.Run("plain", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			_ = users[i%n].Normalize().Hash()
		}
	})
	b.Run("transform", func(b *testing.B) {
		p, err := exampleConfig.Compile()
		if err != nil {
			b.Fatal(err)
		}
		r := p.NewRunner()
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			u, err := r.Apply(users[i%n], raws[i%n])
			if err != nil {
				b.Fatal(err)
			}
			_ = u.Normalize().Hash()
		}
	})
}

// BenchmarkCompile is what loading the config costs per transform.
func BenchmarkCompile(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := exampleConfig.Compile(); err != nil {
			b.Fatal(err)
		}
	}
}
