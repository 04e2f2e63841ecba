package rest

import (
	"errors"

	"github.com/dirsync/dirsync/target"
)

// errProfileUnset is reported for target.type rest without a profile.
var errProfileUnset = errors.New("target.rest: must describe the platform's API for target.type rest (see examples/targets/ and README.md)")

func init() {
	target.Register(target.Kind{
		Name: target.TypeREST,
		Validate: func(cfg target.Config) []error {
			if cfg.Rest.Unset() {
				return []error{errProfileUnset}
			}
			return validateProfile(cfg.Rest)
		},
		NeedsToken: func(cfg target.Config) bool { return cfg.Rest.NeedsToken() },
		New: func(cfg target.Config, opts ...target.Option) (target.Platform, error) {
			c, err := New(cfg, WithHTTPOptions(opts...))
			if err != nil {
				return nil, err // not a nil *Client in a non-nil Platform
			}
			return c, nil
		},
	})
}
