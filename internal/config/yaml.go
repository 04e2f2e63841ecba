package config

import (
	"bytes"
	"errors"
	"fmt"
	"regexp"

	"go.yaml.in/yaml/v3"
)

// yamlLine is how the YAML parser prefixes a syntax error with its line.
var yamlLine = regexp.MustCompile(`^yaml: line [0-9]+: `)

// maxYAMLScanLines bounds the search for a syntax error's line.
const maxYAMLScanLines = 10000

// yamlSyntaxError returns the syntax error in a YAML document, naming the
// line where the document stops being valid YAML, or nil when it parses.
//
// The parser's own line number is wrong for most errors found past the
// scanner: it is that of the line before the enclosing mapping or list
// starts, e.g. "line 7: did not find expected key" for a key mis-indented on
// line 9. The line reported here is the first at which the document, cut
// there, fails with the same problem.
func yamlSyntaxError(raw []byte) error {
	var doc any
	err := yaml.Unmarshal(raw, &doc)
	if err == nil {
		return nil
	}
	loc := yamlLine.FindString(err.Error())
	if loc == "" {
		return err // not a syntax error with a line (e.g. a duplicate key, which names its lines)
	}
	problem := err.Error()[len(loc):]
	lines := bytes.SplitAfter(raw, []byte("\n"))
	for n := 1; n <= len(lines) && n <= maxYAMLScanLines; n++ {
		var d any
		perr := yaml.Unmarshal(bytes.Join(lines[:n], nil), &d)
		if perr == nil {
			continue
		}
		if l := yamlLine.FindString(perr.Error()); l != "" && perr.Error()[len(l):] == problem {
			return fmt.Errorf("line %d: %s (YAML syntax: check the indentation, quotes and brackets of this line and the lines just above it)", n, problem)
		}
	}
	return errors.New(err.Error()[len("yaml: "):])
}
