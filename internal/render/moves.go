package render

import (
	"fmt"
	"io"
	"strings"
	"unicode"

	dsync "github.com/dirsync/dirsync/sync"
)

// WriteIdentifierMoves prints the usernames and emails the plan gives a
// directory user while the snapshot holds them for another, each with what
// to do.
func WriteIdentifierMoves(w io.Writer, moves []dsync.IdentifierMove) {
	if len(moves) == 0 {
		return
	}
	fmt.Fprintf(w, "\nUsernames or emails held by another directory user (%d):\n", len(moves))
	for _, m := range moves {
		fmt.Fprintf(w, "  ! %s\n    fix: %s\n", noControl(m.Problem()), noControl(m.Advice()))
	}
}

// noControl replaces control characters (a directory value may hold any) by
// spaces, so that a line stays one line and the terminal is not driven.
func noControl(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, s)
}
