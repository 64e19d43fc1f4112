package doctor

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/mcpauth/mcpauth/auth"
	"github.com/mcpauth/mcpauth/internal/challenge"
	"github.com/mcpauth/mcpauth/internal/nearmiss"
	"github.com/mcpauth/mcpauth/scopes"
)

// checkToken decodes the token without trusting it, compares it with the
// metadata, and asks the server what it thinks of it.
func (r *run) checkToken() bool {
	if r.opts.Token == "" {
		return true
	}
	r.inspectToken(r.opts.Token, "token")
	return true
}

func (r *run) inspectToken(token, label string) {
	parts := strings.Split(token, ".")
	var claims map[string]any
	if len(parts) != 3 {
		r.add(Check{Name: label + " format", Status: Warn, Seen: fmt.Sprintf("%d dot-separated parts", len(parts)),
			Fix: "not a JWT: the server needs introspection for opaque tokens"})
	} else if b, err := base64.RawURLEncoding.DecodeString(parts[1]); err != nil {
		r.add(Check{Name: label + " format", Status: Fail, Expected: "a JWT with a base64url payload", Seen: "the payload does not decode: " + err.Error(), Fix: "check the token was copied whole"})
	} else if err := json.Unmarshal(b, &claims); err != nil {
		r.add(Check{Name: label + " format", Status: Fail, Expected: "a JWT with a JSON object payload", Seen: "the payload is not a JSON object: " + err.Error(), Fix: "check the token was copied whole"})
	}
	if claims != nil {
		iss, _ := claims["iss"].(string)
		if !contains(r.prm.AuthorizationServers, iss) {
			r.add(Check{Name: label + " iss", Status: Warn, Expected: fmt.Sprintf("one of %v", r.prm.AuthorizationServers), Seen: iss,
				Fix: "fine only if the server trusts this issuer explicitly (a facade or per-resource AS URL); otherwise tokens are refused with issuer_untrusted"})
		} else {
			r.add(Check{Name: label + " iss", Status: Pass, Seen: iss})
		}
		var aud []string
		switch v := claims["aud"].(type) {
		case string:
			aud = []string{v}
		case []any:
			for _, x := range v {
				if s, ok := x.(string); ok {
					aud = append(aud, s)
				}
			}
		}
		switch {
		case contains(aud, r.prm.Resource):
			r.add(Check{Name: label + " aud", Status: Pass, Seen: strings.Join(aud, " ")})
		default:
			fix := "the client must request resource=" + r.prm.Resource + " (RFC 8707), or the server must accept this audience"
			switch nearmiss.Audience(aud, []string{r.prm.Resource}) {
			case nearmiss.TrailingSlash:
				fix = "the audience differs from the resource only by a trailing slash (RFC 8707 compares them as strings; auth.VerifierConfig.AllowAudienceTrailingSlash accepts both); " + fix
			case nearmiss.OriginOnly:
				fix = "the audience is the origin, not the MCP endpoint; " + fix
			}
			r.add(Check{Name: label + " aud", Status: Fail, Expected: r.prm.Resource, Seen: fmt.Sprintf("%q", aud), Fix: fix})
		}
		if exp, ok := claims["exp"].(float64); !ok {
			r.add(Check{Name: label + " exp", Status: Fail, Expected: "an exp claim", Seen: "none", Fix: "access tokens must expire"})
		} else if t := time.Unix(int64(exp), 0); time.Now().After(t) {
			r.add(Check{Name: label + " exp", Status: Fail, Expected: "a future exp", Seen: "expired at " + t.UTC().Format(time.RFC3339), Fix: "get a fresh token"})
		} else {
			r.add(Check{Name: label + " exp", Status: Pass, Seen: t.UTC().Format(time.RFC3339)})
		}
		granted, err := (*scopes.Normalizer)(nil).FromClaims(claims)
		supported := scopes.New(r.prm.ScopesSupported...).Without(scopes.OfflineAccess)
		switch {
		case err != nil:
			r.add(Check{Name: label + " scopes", Status: Fail, Seen: err.Error(), Fix: "send scopes as a space-delimited string or an array of strings"})
		case supported.IsEmpty() || granted.ContainsAll(supported):
			r.add(Check{Name: label + " scopes", Status: Pass, Seen: granted.String()})
		default:
			c := Check{Name: label + " scopes", Status: Warn, Expected: "the advertised scopes " + supported.String(), Seen: granted.String()}
			for _, h := range (*scopes.Normalizer)(nil).Explain(granted, scopes.All(supported.Slice()...)) {
				c.Fix += h.Message + "; "
			}
			if c.Fix == "" {
				c.Fix = "request the advertised scopes; tools needing them will answer 403"
			}
			c.Fix = strings.TrimSuffix(c.Fix, "; ")
			r.add(c)
		}
	}
	resp, _, err := r.post(token, initialize, nil)
	switch {
	case err != nil:
		r.add(Check{Name: label + " accepted", Status: Fail, Seen: err.Error()})
	case resp.StatusCode == http.StatusOK || resp.StatusCode == http.StatusAccepted:
		r.add(Check{Name: label + " accepted", Status: Pass, Seen: fmt.Sprintf("HTTP %d", resp.StatusCode)})
	default:
		seen := fmt.Sprintf("HTTP %d", resp.StatusCode)
		if p, perr := challenge.Parse(resp.Header.Get("WWW-Authenticate")); perr == nil {
			seen += " " + p["error"] + ": " + p["error_description"]
		}
		r.add(Check{Name: label + " accepted", Status: Fail, Expected: "the server accepts the token", Seen: seen, Fix: "see the server's log record for this token's fingerprint " + auth.NewToken(token, nil).Fingerprint()})
	}
}

func contains(list []string, v string) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}
