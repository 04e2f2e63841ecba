package csvsafe

import "testing"

func TestCell_PrefixesFormulaStarts(t *testing.T) {
	for in, want := range map[string]string{
		"=1+1":             "'=1+1",
		"+cmd":             "'+cmd",
		"-2":               "'-2",
		"@SUM(A1)":         "'@SUM(A1)",
		"\tx":              "'\tx",
		"\rx":              "'\rx",
		"jdoe@example.com": "jdoe@example.com",
		"":                 "",
	} {
		if got := Cell(in); got != want {
			t.Errorf("Cell(%q) = %q, want %q", in, got, want)
		}
	}
}
