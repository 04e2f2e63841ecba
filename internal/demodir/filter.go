package demodir

import (
	"math/big"
	"strings"

	ber "github.com/go-asn1-ber/asn1-ber"
	"github.com/go-ldap/ldap/v3"
)

// Matching rules the extensible filter understands besides plain equality.
const (
	ruleBitAnd      = "1.2.840.113556.1.4.803" // LDAP_MATCHING_RULE_BIT_AND
	ruleBitOr       = "1.2.840.113556.1.4.804" // LDAP_MATCHING_RULE_BIT_OR
	ruleCaseIgnore  = "2.5.13.2"               // caseIgnoreMatch
	ruleCaseExact   = "2.5.13.5"               // caseExactMatch
	ruleDNMatch     = "2.5.13.1"               // distinguishedNameMatch
	ruleCaseIgnoreN = "caseIgnoreMatch"
	ruleCaseExactN  = "caseExactMatch"
	ruleDNMatchN    = "distinguishedNameMatch"
)

// filter is a compiled search filter (RFC 4515), parsed by go-ldap.
type filter struct{ p *ber.Packet }

// compileFilter parses a filter string with go-ldap's parser.
func compileFilter(s string) (filter, error) {
	if strings.TrimSpace(s) == "" {
		s = "(objectClass=*)"
	}
	p, err := ldap.CompileFilter(s)
	if err != nil {
		return filter{}, err
	}
	return filter{p}, nil
}

// matches evaluates f against an entry's attributes (its view). The
// evaluation is two-valued: a missing attribute or an unknown matching rule
// does not match, and its negation does.
func (f filter) matches(view []attribute) bool {
	return evalFilter(f.p, view)
}

func evalFilter(p *ber.Packet, view []attribute) bool {
	if p == nil || p.ClassType != ber.ClassContext {
		return false
	}
	switch p.Tag {
	case ldap.FilterAnd:
		for _, c := range p.Children {
			if !evalFilter(c, view) {
				return false
			}
		}
		return true
	case ldap.FilterOr:
		for _, c := range p.Children {
			if evalFilter(c, view) {
				return true
			}
		}
		return false
	case ldap.FilterNot:
		return len(p.Children) == 1 && !evalFilter(p.Children[0], view)
	case ldap.FilterPresent:
		name := strings.TrimSpace(p.Data.String())
		return strings.EqualFold(name, "objectClass") || findAttr(view, name) != nil
	case ldap.FilterEqualityMatch, ldap.FilterApproxMatch:
		if len(p.Children) != 2 {
			return false
		}
		name, want := str(p.Children[0]), str(p.Children[1])
		return anyValue(view, name, func(v string) bool { return valuesEqual(name, v, want) })
	case ldap.FilterGreaterOrEqual, ldap.FilterLessOrEqual:
		if len(p.Children) != 2 {
			return false
		}
		name, bound := str(p.Children[0]), str(p.Children[1])
		ge := p.Tag == ldap.FilterGreaterOrEqual
		return anyValue(view, name, func(v string) bool {
			c := compareOrdered(v, bound)
			return ge && c >= 0 || !ge && c <= 0
		})
	case ldap.FilterSubstrings:
		if len(p.Children) != 2 {
			return false
		}
		name := str(p.Children[0])
		return anyValue(view, name, func(v string) bool { return substringsMatch(v, p.Children[1].Children) })
	case ldap.FilterExtensibleMatch:
		return extensibleMatch(p, view)
	}
	return false
}

func str(p *ber.Packet) string {
	if s, ok := p.Value.(string); ok {
		return s
	}
	return p.Data.String()
}

// findAttr finds an attribute by name, ignoring case and options
// ("cn;lang-en" is "cn").
func findAttr(view []attribute, name string) *attribute {
	name, _, _ = strings.Cut(strings.TrimSpace(name), ";")
	for i := range view {
		if strings.EqualFold(view[i].name, name) {
			return &view[i]
		}
	}
	return nil
}

func anyValue(view []attribute, name string, pred func(string) bool) bool {
	a := findAttr(view, name)
	if a == nil {
		return false
	}
	for _, v := range a.vals {
		if pred(v) {
			return true
		}
	}
	return false
}

// valuesEqual applies the attribute's equality rule: distinguishedNameMatch for
// DN-valued attributes, caseIgnoreMatch (case and insignificant spaces
// ignored) for everything else this directory holds.
func valuesEqual(attr, have, want string) bool {
	if dnValued[strings.ToLower(attr)] {
		a, errA := ldap.ParseDN(have)
		b, errB := ldap.ParseDN(want)
		if errA == nil && errB == nil {
			return a.EqualFold(b)
		}
	}
	return foldSpace(have) == foldSpace(want)
}

// foldSpace is caseIgnoreMatch's preparation: lower case, leading and
// trailing spaces dropped, inner runs of spaces collapsed to one.
func foldSpace(s string) string {
	return strings.ToLower(strings.Join(strings.Fields(s), " "))
}

// compareOrdered orders integers numerically and everything else (including
// GeneralizedTime, which sorts as text) by its folded text.
func compareOrdered(a, b string) int {
	x, okA := new(big.Int).SetString(strings.TrimSpace(a), 10)
	y, okB := new(big.Int).SetString(strings.TrimSpace(b), 10)
	if okA && okB {
		return x.Cmp(y)
	}
	return strings.Compare(foldSpace(a), foldSpace(b))
}

func substringsMatch(value string, parts []*ber.Packet) bool {
	v := foldSpace(value)
	for i, part := range parts {
		s := foldSpace(str(part))
		switch part.Tag {
		case ldap.FilterSubstringsInitial:
			if i != 0 || !strings.HasPrefix(v, s) {
				return false
			}
			v = v[len(s):]
		case ldap.FilterSubstringsAny:
			j := strings.Index(v, s)
			if j < 0 {
				return false
			}
			v = v[j+len(s):]
		case ldap.FilterSubstringsFinal:
			if i != len(parts)-1 || !strings.HasSuffix(v, s) {
				return false
			}
		default:
			return false
		}
	}
	return true
}

// extensibleMatch handles the assertions worth supporting here: plain
// attr:=value, the case and DN matching rules and Active Directory's bitwise
// rules. (:dn: filters never arrive: gldap cannot decode them and drops the
// connection.)
func extensibleMatch(p *ber.Packet, view []attribute) bool {
	var rule, name, value string
	for _, c := range p.Children {
		switch c.Tag {
		case ldap.MatchingRuleAssertionMatchingRule:
			rule = str(c)
		case ldap.MatchingRuleAssertionType:
			name = str(c)
		case ldap.MatchingRuleAssertionMatchValue:
			value = str(c)
		}
	}
	var pred func(attr, v string) bool
	switch rule {
	case "", ruleCaseIgnore, ruleCaseIgnoreN:
		pred = func(attr, v string) bool { return valuesEqual(attr, v, value) }
	case ruleCaseExact, ruleCaseExactN:
		pred = func(_, v string) bool {
			return strings.Join(strings.Fields(v), " ") == strings.Join(strings.Fields(value), " ")
		}
	case ruleDNMatch, ruleDNMatchN:
		pred = func(_, v string) bool { return valuesEqual("member", v, value) }
	case ruleBitAnd, ruleBitOr:
		want, ok := new(big.Int).SetString(strings.TrimSpace(value), 10)
		if !ok {
			return false
		}
		pred = func(_, v string) bool {
			have, ok := new(big.Int).SetString(strings.TrimSpace(v), 10)
			if !ok {
				return false
			}
			and := new(big.Int).And(have, want)
			if rule == ruleBitAnd {
				return and.Cmp(want) == 0
			}
			return and.Sign() != 0
		}
	default:
		return false
	}
	candidates := view
	if name != "" {
		a := findAttr(view, name)
		candidates = nil
		if a != nil {
			candidates = []attribute{*a}
		}
	}
	for _, a := range candidates {
		for _, v := range a.vals {
			if pred(a.name, v) {
				return true
			}
		}
	}
	return false
}
