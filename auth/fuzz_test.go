package auth_test

import (
	"context"
	"errors"
	"testing"

	"github.com/mcpauth/mcpauth/auth"
	"github.com/mcpauth/mcpauth/internal/clienttest"
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

// FuzzDPoPProof feeds arbitrary DPoP headers to a DPoPVerifier: it must
// never panic, never accept anything but the one valid proof (a mutation
// of it breaks its signature), and always return an *auth.Error.
func FuzzDPoPProof(f *testing.F) {
	d, err := auth.NewDPoPVerifier(auth.DPoPConfig{}, nil)
	if err != nil {
		f.Fatal(err)
	}
	const htu = "https://mcp.example.com/mcp"
	k := clienttest.NewKey()
	valid := k.Proof("POST", htu, "tok", "", nil)
	if _, err := d.Verify(context.Background(), valid, "POST", htu, "tok"); err != nil {
		f.Fatal(err)
	}
	f.Add(valid[:len(valid)-4] + "AAAA")
	f.Add(k.Proof("POST", htu, "tok", "", func(h, _ map[string]any) { h["alg"] = "none" }))
	f.Add(segment(valid, 0) + "." + segment(valid, 1) + ".")
	f.Add("eyJ0eXAiOiJkcG9wK2p3dCIsImFsZyI6IkVTMjU2In0.e30.AA")
	f.Add("a.b.c")
	f.Fuzz(func(t *testing.T, proof string) {
		if proof == valid { // valid once; its replay is tested in TestDPoPBoundTokens
			return
		}
		p, err := d.Verify(context.Background(), proof, "POST", htu, "tok")
		var e *auth.Error
		if err == nil || p != nil || !errors.As(err, &e) {
			t.Fatalf("Verify(%q) = %v, %v", proof, p, err)
		}
	})
}
