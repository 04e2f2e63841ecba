package ldapsource

import "testing"

func TestADNonDomainPartition_SkipsOnlyConfigurationAndDNSPartitions(t *testing.T) {
	for ref, want := range map[string]bool{
		"ldap://corp.example.com/CN=Configuration,DC=corp,DC=example,DC=com":                 true,
		"ldap://DomainDnsZones.corp.example.com/DC=DomainDnsZones,DC=corp,DC=example,DC=com": true,
		"ldap://ForestDnsZones.corp.example.com/DC=ForestDnsZones,DC=corp,DC=example,DC=com": true,
		"ldap://dirsync.test/CN=Configuration,DC=dirsync,DC=test":                            true,
		"ldap://child.corp.example.com/DC=child,DC=corp,DC=example,DC=com":                   false,
		"ldap://other.example.com/OU=Staff,DC=corp,DC=example,DC=com":                        false,
		"ldap://corp.example.com/CN=Configuration,OU=Staff,DC=corp,DC=example,DC=com":        false,
		"ldap://corp.example.com/CN=Schema,CN=Configuration,DC=corp,DC=example,DC=com":       false,
		"ldap://corp.example.com/CN=Configuration":                                           false,
		"http://corp.example.com/CN=Configuration,DC=corp,DC=example,DC=com":                 false,
		"not a url": false,
		"ldap://corp.example.com/CN=Configuration%2CDC=corp%2CDC=example%2CDC=com": true,
	} {
		if got := adNonDomainPartition(ref); got != want {
			t.Errorf("adNonDomainPartition(%q) = %v, want %v", ref, got, want)
		}
	}
}

func TestCheckRange_RefusesRangesThatWouldLoseValuesOrLoop(t *testing.T) {
	for _, tc := range []struct {
		name    string
		start   int
		wantEnd int
		wantErr bool
	}{
		{"member;range=0-1499", 0, 1499, false},
		{"member;range=1500-2999", 1500, 2999, false},
		{"member;range=3000-*", 3000, -1, false},
		{"member;range=0-1499", 1500, 0, true},    // the same range again: a loop
		{"member;range=2000-*", 1500, 0, true},    // values 1500-1999 skipped
		{"member;range=1500-1400", 1500, 0, true}, // ends before it starts
		{"member;range=x-*", 0, 0, true},
		{"member;range=0", 0, 0, true},
	} {
		end, err := checkRange(tc.name, tc.start)
		if (err != nil) != tc.wantErr || (!tc.wantErr && end != tc.wantEnd) {
			t.Errorf("checkRange(%q, %d) = %d, %v; want %d, error %v", tc.name, tc.start, end, err, tc.wantEnd, tc.wantErr)
		}
	}
}
