package registration

import (
	"encoding/json"
	"testing"
)

func FuzzRedirectMatch(f *testing.F) {
	f.Add("http://127.0.0.1/callback", "http://127.0.0.1:5000/callback")
	f.Add("https://a.example/cb", "https://a.example/cb/")
	f.Add("https://a.example/cb", "javascript:alert(1)")
	f.Add("com.example.app:/cb", "com.example.app:/cb")
	p := RedirectPolicy{AllowLocalhost: true, AllowCustomSchemes: true}
	f.Fuzz(func(t *testing.T, registered, requested string) {
		if p.Validate(registered) != nil {
			return
		}
		err := p.Match([]string{registered}, requested)
		if registered == requested && err != nil {
			t.Fatalf("exact match refused: %v", err)
		}
		if err == nil && registered != requested && p.Validate(requested) != nil {
			t.Fatalf("matched %q, which could not itself be registered, against %q", requested, registered)
		}
	})
}

func FuzzCIMDDocument(f *testing.F) {
	f.Add([]byte(`{"client_id":"https://c.example/c.json","redirect_uris":["https://c.example/cb"]}`))
	f.Add([]byte(`{"client_id":"https://c.example/c.json","client_secret":"x","redirect_uris":[]}`))
	f.Add([]byte(`[]`))
	r := NewCIMDResolver(CIMDOptions{})
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := r.validate("https://c.example/c.json", b)
		if err != nil {
			return
		}
		var md Metadata
		if json.Unmarshal(b, &md) != nil || md.ClientID != "https://c.example/c.json" || md.ClientSecret != "" || len(c.Metadata.RedirectURIs) == 0 {
			t.Fatalf("accepted an invalid document: %s", b)
		}
	})
}

// FuzzDCRRegister: whatever a registration request holds, an accepted one
// has only valid redirect URIs, within the limit, and no client-chosen id or
// secret.
func FuzzDCRRegister(f *testing.F) {
	for _, s := range []string{
		`{"redirect_uris":["http://127.0.0.1/cb"],"token_endpoint_auth_method":"none"}`,
		`{"redirect_uris":["javascript:alert(1)"]}`,
		`{"redirect_uris":["https://a.example/cb#x"],"client_secret":"x"}`,
		`{"redirect_uris":["https://a.example/cb"],"grant_types":["implicit"],"scope":"a\"b"}`,
		`{"redirect_uris":[]}`,
	} {
		f.Add([]byte(s))
	}
	p := &Policy{MaxRedirectURIs: 3}
	f.Fuzz(func(t *testing.T, b []byte) {
		var md Metadata
		if json.Unmarshal(b, &md) != nil {
			return
		}
		sentID, sentSecret := md.ClientID, md.ClientSecret
		c, secret, err := p.Register(md)
		if err != nil {
			return
		}
		if sentID != "" || sentSecret != "" || c.ID == sentID || len(c.Metadata.RedirectURIs) > 3 || len(c.Metadata.RedirectURIs) == 0 {
			t.Fatalf("accepted %s", b)
		}
		for _, u := range c.Metadata.RedirectURIs {
			if p.Redirects.Validate(u) != nil {
				t.Fatalf("accepted invalid redirect %q", u)
			}
		}
		if (secret == "") != c.Public() {
			t.Fatalf("secret issued %v for public=%v", secret != "", c.Public())
		}
	})
}
