// Package randid makes unguessable identifiers: codes, tokens, states.
package randid

import (
	"crypto/rand"
	"encoding/base64"
)

// New returns n random bytes as unpadded base64url.
func New(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}
