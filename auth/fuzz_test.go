package auth_test

import (
	"errors"
	"testing"

	"github.com/mcpauth/mcpauth/auth"
)

// FuzzVerify feeds arbitrary tokens to a real Authenticator: it must never
// panic, never accept, and always return an *auth.Error.
func FuzzVerify(f *testing.F) {
	as := newTestAS(f)
	a := newAuth(f, as, nil)
	good := as.mint("rsa-1", as.claims(resource, "notes:read"), nil)
	f.Add(good[:len(good)-4] + "AAAA")
	f.Add(segment(good, 0) + "." + segment(good, 1) + ".")
	f.Add("eyJhbGciOiJub25lIn0.eyJpc3MiOiJ4In0.")
	f.Add("a.b.c.d.e")
	f.Add("...")
	f.Fuzz(func(t *testing.T, tok string) {
		if tok == good {
			return
		}
		_, err := verify(a, tok)
		var e *auth.Error
		if err == nil || !errors.As(err, &e) {
			t.Fatalf("Verify(%q) = %v", tok, err)
		}
	})
}
