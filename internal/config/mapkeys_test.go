package config

import (
	"os"
	"path/filepath"
	"testing"
)

func TestDecode_KeepsTheCaseOfExtraAttributeNames(t *testing.T) {
	file := filepath.Join(t.TempDir(), "dirsync.yaml")
	yaml := `ldap:
  attributes:
    extra:
      employeeNumber: employeeNumber
      costCenter: departmentNumber
      title: title
`
	if err := os.WriteFile(file, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := Default()
	if err := Decode(file, nil, &cfg); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"employeeNumber": "employeeNumber", "costCenter": "departmentNumber", "title": "title"}
	got := cfg.LDAP.Attributes.Extra
	if len(got) != len(want) {
		t.Fatalf("extra = %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("extra = %v, want %v", got, want)
			break
		}
	}
}
