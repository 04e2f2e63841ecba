package main

import (
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// TestREADME_PackageTableMatchesTheTree keeps the README's table of packages
// equal to the packages of the module: one row each, none gone.
func TestREADME_PackageTableMatchesTheTree(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, table, ok := strings.Cut(string(readme), "| package | what it is |\n| --- | --- |\n")
	if !ok {
		t.Fatal("README.md: no package table (| package | what it is |)")
	}
	table, _, _ = strings.Cut(table, "\n\n")
	var rows []string
	for _, m := range regexp.MustCompile("(?m)^\\| `([^`]+)` \\|").FindAllStringSubmatch(table, -1) {
		rows = append(rows, m[1])
	}
	out, err := exec.Command("go", "list", "-f", "{{.ImportPath}}", "../../...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	var pkgs []string
	for _, p := range strings.Fields(string(out)) {
		pkgs = append(pkgs, strings.TrimPrefix(p, "github.com/dirsync/dirsync/"))
	}
	slices.Sort(rows)
	slices.Sort(pkgs)
	if len(pkgs) == 0 || !slices.Equal(rows, pkgs) {
		t.Errorf("README.md's package table lists\n  %v\nthe module has\n  %v", rows, pkgs)
	}
}
