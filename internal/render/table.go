package render

import (
	"io"
	"strings"
	"unicode"

	"golang.org/x/text/width"
)

// Table lays rows out in columns for a terminal. text/tabwriter counts one
// column per rune, so a name in Chinese, Japanese or Korean (two columns a
// character) or with combining accents pushed every later column out of
// line; Table measures the columns a cell takes on the screen.
type Table struct {
	Indent string
	rows   [][]string
}

// Row adds a row. A tab, newline or other control character in a cell is
// printed as a space: it would break the layout.
func (t *Table) Row(cells ...string) {
	for i, c := range cells {
		cells[i] = strings.Map(func(r rune) rune {
			if unicode.IsControl(r) {
				return ' '
			}
			return r
		}, c)
	}
	t.rows = append(t.rows, cells)
}

// Write prints the rows, each column as wide as its widest cell and two
// spaces apart; the last cell of a row is not padded.
func (t *Table) Write(w io.Writer) error {
	var widths []int
	for _, r := range t.rows {
		for i, c := range r {
			if i == len(widths) {
				widths = append(widths, 0)
			}
			widths[i] = max(widths[i], DisplayWidth(c))
		}
	}
	var b strings.Builder
	for _, r := range t.rows {
		b.WriteString(t.Indent)
		for i, c := range r {
			b.WriteString(c)
			if i < len(r)-1 {
				b.WriteString(strings.Repeat(" ", widths[i]-DisplayWidth(c)+2))
			}
		}
		b.WriteString("\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// DisplayWidth is how many terminal columns s takes: two for an East Asian
// wide or full-width character, none for a combining mark or a zero-width
// format character, one for any other.
func DisplayWidth(s string) int {
	n := 0
	for _, r := range s {
		switch {
		case unicode.In(r, unicode.Mn, unicode.Me, unicode.Cf):
		case isWide(r):
			n += 2
		default:
			n++
		}
	}
	return n
}

func isWide(r rune) bool {
	switch width.LookupRune(r).Kind() {
	case width.EastAsianWide, width.EastAsianFullwidth:
		return true
	}
	return false
}
