// Package csvsafe keeps values written to CSV files from being read as
// formulas by a spreadsheet (CSV or formula injection): a directory or
// platform value such as `=HYPERLINK(...)` must reach an auditor's
// spreadsheet as text.
package csvsafe

import "strings"

// Cell returns s as a CSV cell that a spreadsheet reads as text: a value
// starting with =, +, -, @, a tab or a carriage return is prefixed with '.
func Cell(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}
