// Package targets is the list of the target types dirsync is built with:
// importing it registers each of them with package target (see target.Kind),
// so that target.type accepts them, Config.Validate checks their settings and
// target.New builds their clients. A new target type is one import here.
package targets

import (
	// Each implementation registers its target.Kind in its init.
	_ "github.com/dirsync/dirsync/target/rest"
	_ "github.com/dirsync/dirsync/target/scim"
)
