package slapdtest

import (
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
)

// env is what the installed OpenLDAP offers, probed once per test binary.
type env struct {
	slapd, slapadd, slaptest string
	schemaDir                string
	moduleDir                string // "" when the backends and overlays are built in
	syncprov                 bool
	memberOf                 bool
	ppolicy                  bool
	err                      error
}

var (
	envOnce sync.Once
	envVal  env
)

func lookupEnv() env {
	envOnce.Do(func() { envVal = probe() })
	return envVal
}

var (
	binDirs    = []string{"/usr/sbin", "/usr/local/sbin", "/usr/libexec", "/usr/local/libexec", "/opt/homebrew/opt/openldap/libexec"}
	schemaDirs = []string{"/etc/ldap/schema", "/etc/openldap/schema", "/usr/local/etc/openldap/schema", "/opt/homebrew/etc/openldap/schema"}
	moduleDirs = []string{"/usr/lib/ldap", "/usr/lib64/openldap", "/usr/lib/openldap", "/usr/libexec/openldap", "/usr/local/libexec/openldap"}
)

func findBinary(name string) string {
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	for _, d := range binDirs {
		p := filepath.Join(d, name)
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0 {
			return p
		}
	}
	return ""
}

func probe() env {
	var e env
	e.slapd, e.slapadd, e.slaptest = findBinary("slapd"), findBinary("slapadd"), findBinary("slaptest")
	if e.slapd == "" || e.slapadd == "" || e.slaptest == "" {
		e.err = fmt.Errorf("%w (looked for slapd, slapadd and slaptest in PATH and %s)", errNotInstalled, strings.Join(binDirs, ", "))
		return e
	}
	for _, d := range schemaDirs {
		if _, err := os.Stat(filepath.Join(d, "inetorgperson.schema")); err == nil {
			e.schemaDir = d
			break
		}
	}
	if e.schemaDir == "" {
		e.err = fmt.Errorf("%w: no OpenLDAP schema directory (looked in %s)", errNotInstalled, strings.Join(schemaDirs, ", "))
		return e
	}
	for _, d := range moduleDirs {
		if _, err := os.Stat(filepath.Join(d, "back_mdb.so")); err == nil {
			e.moduleDir = d
			break
		}
	}
	if err := e.test(nil); err != nil {
		e.err = fmt.Errorf("slapd cannot run a minimal configuration: %v", err)
		return e
	}
	e.syncprov = e.test([]string{"syncprov"}) == nil
	e.memberOf = e.test([]string{"memberof"}) == nil
	e.ppolicy = e.test([]string{"ppolicy"}) == nil
	return e
}

// test checks a minimal configuration with the given overlays with slaptest.
func (e env) test(overlays []string) error {
	dir, err := os.MkdirTemp("", "slapdtest-probe-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	conf := filepath.Join(dir, "slapd.conf")
	c := e.configText(dir, nil, overlays, options{})
	if err := os.WriteFile(conf, []byte(c), 0o600); err != nil {
		return err
	}
	if err := os.Mkdir(filepath.Join(dir, "db"), 0o700); err != nil {
		return err
	}
	out, err := exec.Command(e.slaptest, "-u", "-f", conf).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%v: %s", err, strings.TrimSpace(string(out)))
	}
	return nil
}

func (s *Server) config(e env, o options) string {
	var overlays, modulesOnly []string
	switch {
	case e.syncprov && !o.noSyncprov:
		overlays = append(overlays, "syncprov")
	case e.syncprov && o.keepModule:
		modulesOnly = append(modulesOnly, "syncprov")
	}
	if s.memberOf {
		overlays = append(overlays, "memberof")
	}
	if e.ppolicy {
		overlays = append(overlays, "ppolicy")
	}
	c := e.configText(s.dir, modulesOnly, overlays, o)
	if o.tls {
		c = strings.Replace(c, "database mdb", fmt.Sprintf(
			"TLSCACertificateFile %s\nTLSCertificateFile %s\nTLSCertificateKeyFile %s\n\ndatabase mdb",
			filepath.Join(s.dir, caFileName), filepath.Join(s.dir, certFileName), filepath.Join(s.dir, keyFileName)), 1)
	}
	return c
}

// configText writes slapd.conf: modulesOnly are overlay modules loaded but
// not configured on the database; overlays are loaded and configured.
func (e env) configText(dir string, modulesOnly, overlays []string, o options) string {
	var b strings.Builder
	schemas := []string{"core", "cosine", "inetorgperson", "nis"}
	if o.adSchema {
		schemas = append(schemas, "msuser")
	}
	for _, name := range schemas {
		fmt.Fprintf(&b, "include %s\n", filepath.Join(e.schemaDir, name+".schema"))
	}
	if e.moduleDir != "" {
		fmt.Fprintf(&b, "modulepath %s\nmoduleload back_mdb\n", e.moduleDir)
		for _, ov := range append(slices.Clone(modulesOnly), overlays...) {
			fmt.Fprintf(&b, "moduleload %s\n", ov)
		}
	}
	fmt.Fprintf(&b, "pidfile %s\nargsfile %s\n\n", filepath.Join(dir, "slapd.pid"), filepath.Join(dir, "slapd.args"))
	maxSize := o.maxSize
	if maxSize <= 0 {
		maxSize = defaultMaxSize
	}
	fmt.Fprintf(&b, "database mdb\nsuffix %q\nrootdn %q\nrootpw %s\ndirectory %s\nmaxsize %d\n",
		baseDN, adminDN, adminPassword, filepath.Join(dir, "db"), maxSize)
	b.WriteString("index objectClass eq\nindex uid,mail,cn eq\nindex entryUUID,entryCSN eq\n")
	for _, ov := range overlays {
		fmt.Fprintf(&b, "overlay %s\n", ov)
		if ov == "syncprov" && o.sessionlog > 0 {
			fmt.Fprintf(&b, "syncprov-sessionlog %d\n", o.sessionlog)
		}
	}
	if o.sizeLimit > 0 {
		fmt.Fprintf(&b, "limits dn.exact=%q size.soft=%d size.hard=%d size.prtotal=%d\n", readerDN, o.sizeLimit, o.sizeLimit, o.sizeLimit)
	} else if o.pagedUnlimited {
		fmt.Fprintf(&b, "limits dn.exact=%q size.prtotal=unlimited\n", readerDN)
	}
	if o.hideContextCSN {
		fmt.Fprintf(&b, "access to dn.base=%q attrs=contextCSN by dn.exact=%q none by * read\n", baseDN, readerDN)
	}
	b.WriteString("access to attrs=userPassword by self write by anonymous auth by * none\n")
	b.WriteString("access to * by * read\n")
	if o.monitor {
		b.WriteString("\ndatabase monitor\naccess to * by * read\n")
	}
	return b.String()
}

func sortedKeys[V any](m map[string]V) []string {
	return slices.Sorted(maps.Keys(m))
}
