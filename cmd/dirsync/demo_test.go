package main

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/dirsync/dirsync/internal/app"
)

// statePathIn matches the paths of snapshot files named in the demo's output.
var statePathIn = regexp.MustCompile(`/\S*state\.db`)

func TestDemo_NamesOnlyASnapshotThatStillExists(t *testing.T) {
	for _, keep := range []bool{false, true} {
		dir := ""
		if keep {
			dir = t.TempDir()
		}
		var out strings.Builder
		if err := app.RunDemo(context.Background(), &out, dir, ""); err != nil {
			t.Fatalf("demo: %v\n%s", err, out.String())
		}
		for _, p := range statePathIn.FindAllString(out.String(), -1) {
			p = strings.TrimRight(p, ".,;:)")
			if _, err := os.Stat(p); err != nil {
				t.Errorf("keep %v: the demo names %s, which is gone: %v", keep, p, err)
			}
		}
		lines := strings.Split(strings.TrimSpace(out.String()), "\n")
		end := strings.Join(lines[len(lines)-2:], "\n")
		if keep && !strings.Contains(end, filepath.Join(dir, "state.db")) {
			t.Errorf("kept snapshot not named at the end:\n%s", end)
		}
		if !keep && !strings.Contains(end, "--state-dir") {
			t.Errorf("the end does not say how to keep the snapshot:\n%s", end)
		}
	}
}

// TestREADME_PlanExampleIsTheDemosPlan keeps the README's plan example true:
// it must be, line for line, the plan the demo prints after the directory
// changes (`go run ./cmd/dirsync demo`).
func TestREADME_PlanExampleIsTheDemosPlan(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, after, ok := strings.Cut(string(readme), "`dirsync plan` prints a table (this one is the demo's, after the directory changes):\n\n```\n")
	example, _, ok2 := strings.Cut(after, "```\n")
	if !ok || !ok2 || !strings.HasPrefix(example, "Plan: ") {
		t.Fatal("README.md: no plan example after \"`dirsync plan` prints a table\"")
	}
	var out strings.Builder
	if err := app.RunDemo(context.Background(), &out, t.TempDir(), ""); err != nil {
		t.Fatalf("demo: %v\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), "\n"+example) {
		t.Errorf("README.md's plan example is not one the demo prints.\nREADME:\n%s\ndemo:\n%s", example, out.String())
	}
}
