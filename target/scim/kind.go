package scim

import "github.com/dirsync/dirsync/target"

func init() {
	target.Register(target.Kind{
		Name: target.TypeSCIM,
		New: func(cfg target.Config, opts ...target.Option) (target.Platform, error) {
			c, err := New(cfg, WithHTTPOptions(opts...))
			if err != nil {
				return nil, err // not a nil *Client in a non-nil Platform
			}
			return c, nil
		},
	})
}
