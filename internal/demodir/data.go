package demodir

import (
	"strings"
	"time"
)

// builtinTime stamps the built-in entries, so their timestamps are the same on
// every run.
var builtinTime = time.Date(2024, time.March, 4, 9, 0, 0, 0, time.UTC)

// BrokenEntryDN is the built-in entry that dirsync must skip: an inetOrgPerson
// (a meeting room someone created as a person) with no uid, so it has no
// username.
const BrokenEntryDN = "cn=Meeting Room Atlas," + PeopleDN

// The built-in people of Demo Example Ltd. Their entryUUIDs are fixed so every
// demo run shows the same IDs.
var builtinPeople = []Person{
	{UID: "akhan", GivenName: "Amira", Surname: "Khan", Title: "Chief Executive Officer", Department: "Executive", DepartmentNumber: "100", EntryUUID: "15d3b23c-b2d8-4fea-9d4e-8add9d3ccbeb"},
	{UID: "bsato", GivenName: "Benji", Surname: "Sato", Title: "VP Engineering", Department: "Engineering", DepartmentNumber: "200", EntryUUID: "5a6b1625-7c07-4aef-b301-d52f900b4102"},
	{UID: "cmendes", GivenName: "Carla", Surname: "Mendes", Title: "Staff Engineer", Department: "Engineering", DepartmentNumber: "200", EntryUUID: "97545adc-3fae-4cd9-a7c3-14258feeb890"},
	{UID: "dokafor", GivenName: "David", Surname: "Okafor", Title: "Software Engineer", Department: "Engineering", DepartmentNumber: "200", EntryUUID: "a903a123-afac-49dd-b73b-507390c3a33f"},
	{UID: "eliu", GivenName: "Emma", Surname: "Liu", Title: "Site Reliability Engineer", Department: "Engineering", DepartmentNumber: "200", EntryUUID: "5ade2cda-549f-4caa-bbbb-2461fceb650e"},
	{UID: "fmuller", GivenName: "Felix", Surname: "Müller", Title: "Product Manager", Department: "Product", DepartmentNumber: "300", EntryUUID: "dd64e653-70a7-42cf-9b94-143a143b1887"},
	{UID: "gobrien", GivenName: "Grace", Surname: "O'Brien", Title: "Product Designer", Department: "Product", DepartmentNumber: "300", EntryUUID: "dedbc9cb-cae2-444e-84e1-39639e45dc06"},
	{UID: "hnguyen", GivenName: "Hana", Surname: "Nguyen", Title: "Account Executive", Department: "Sales", DepartmentNumber: "400", EntryUUID: "cad636f4-9d11-47f1-83f3-1edba84353e1"},
	{UID: "irossi", GivenName: "Ivan", Surname: "Rossi", Title: "Sales Engineer", Department: "Sales", DepartmentNumber: "400", EntryUUID: "ace947df-1d7b-44bf-81c4-fe74001d2657"},
	{UID: "jjohansson", GivenName: "Julia", Surname: "Johansson", Title: "People Partner", Department: "People", DepartmentNumber: "500", EntryUUID: "694dca06-bc98-4c40-b0e2-16e94f321555"},
	{UID: "kadeyemi", GivenName: "Kwame", Surname: "Adeyemi", Title: "Finance Manager", Department: "Finance", DepartmentNumber: "600", EntryUUID: "ac880b1e-3240-40ab-a782-a6b50c01c751"},
	// Left the company; the account is locked, not yet deleted.
	{UID: "lgarcia", GivenName: "Lucía", Surname: "García", Title: "Support Lead", Department: "Support", DepartmentNumber: "700", EntryUUID: "18c31710-e81f-457b-9c4a-86b9fe91160f", Disabled: true},
	// The broken entry: no uid.
	{DN: BrokenEntryDN, CommonName: "Meeting Room Atlas", Surname: "Meeting Room Atlas", DisplayName: "Meeting Room Atlas", Mail: "room-atlas@" + MailDomain, Department: "Facilities", EntryUUID: "a701d3d7-2a5b-4ca5-9433-4701cbcf64c9"},
}

// builtinGroups maps each groupOfNames (by cn) to its members' uids.
var builtinGroups = []struct {
	cn, description, uuid string
	members               []string
}{
	{"engineering", "Everyone in Engineering", "3bbcac26-8bee-41ec-a426-83d2b6854a9c", []string{"bsato", "cmendes", "dokafor", "eliu"}},
	{"product", "Product management and design", "5ff936d1-5c95-4adc-9502-132204b969a1", []string{"fmuller", "gobrien"}},
	{"sales", "Sales and sales engineering", "f6775b4c-5aa5-47f2-83c5-3e551bf0e5db", []string{"hnguyen", "irossi", "lgarcia"}},
	{"platform-admins", "Administrators on the SaaS platform", "0fcae61d-4eca-47e8-b123-190f13c64132", []string{"akhan", "bsato", "eliu"}},
}

// load fills d with the built-in company.
func (d *Directory) load() error {
	ts := generalizedTime(builtinTime)
	stamp := func(uuid string) []attribute {
		return []attribute{
			{"entryUUID", []string{uuid}},
			{"createTimestamp", []string{ts}},
			{"modifyTimestamp", []string{ts}},
		}
	}
	containers := []struct {
		dn    string
		attrs []attribute
	}{
		{BaseDN, append([]attribute{
			{"objectClass", []string{"top", "dcObject", "organization"}},
			{"dc", []string{"demo"}},
			{"o", []string{"Demo Example Ltd"}},
			{"structuralObjectClass", []string{"organization"}},
		}, stamp("c3a0b0a2-6d1e-4f57-9a4e-0d6b1f7e2a10")...)},
		{PeopleDN, append([]attribute{
			{"objectClass", []string{"top", "organizationalUnit"}},
			{"ou", []string{"people"}},
			{"structuralObjectClass", []string{"organizationalUnit"}},
		}, stamp("b5e1d7c4-2f0a-4c8e-8d3b-6a9f1e4c7b21")...)},
		{GroupsDN, append([]attribute{
			{"objectClass", []string{"top", "organizationalUnit"}},
			{"ou", []string{"groups"}},
			{"structuralObjectClass", []string{"organizationalUnit"}},
		}, stamp("e8f2a6b9-1c3d-4e5f-9a7b-2d4c6e8f0a32")...)},
	}
	for _, c := range containers {
		e, err := newEntry(c.dn, c.attrs...)
		if err != nil {
			return err
		}
		d.entries = append(d.entries, e)
	}
	for _, p := range builtinPeople {
		if p.UID != "" {
			p.Mail = strings.ToLower(asciiName(p.GivenName) + "." + asciiName(p.Surname) + "@" + MailDomain)
			p.CommonName = p.GivenName + " " + p.Surname
			p.DisplayName = p.CommonName
		}
		e, err := newPerson(p, builtinTime)
		if err != nil {
			return err
		}
		d.entries = append(d.entries, e)
	}
	for _, g := range builtinGroups {
		members := make([]string, 0, len(g.members))
		for _, uid := range g.members {
			members = append(members, "uid="+uid+","+PeopleDN)
		}
		e, err := newEntry("cn="+g.cn+","+GroupsDN, append([]attribute{
			{"objectClass", []string{"top", "groupOfNames"}},
			{"cn", []string{g.cn}},
			{"description", []string{g.description}},
			{"member", members},
			{"structuralObjectClass", []string{"groupOfNames"}},
		}, stamp(g.uuid)...)...)
		if err != nil {
			return err
		}
		d.entries = append(d.entries, e)
	}
	return nil
}

// asciiName folds the accented letters of the built-in names for their mail
// addresses and drops apostrophes.
func asciiName(s string) string {
	return strings.NewReplacer("ü", "ue", "í", "i", "á", "a", "'", "").Replace(s)
}
