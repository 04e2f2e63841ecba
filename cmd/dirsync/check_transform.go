package main

import "github.com/dirsync/dirsync/transform"

// checkPreviewUsers is how many users `dirsync check` shows transformed.
const checkPreviewUsers = 3

// previewTransform makes a's next directory read record its first users as
// mapped and as transformed (nil without a transform).
func previewTransform(a *app) *transform.Preview {
	if src, ok := a.engine.Source.(ldapSource); ok {
		return src.s.PreviewTransform(checkPreviewUsers)
	}
	return nil
}
