package registration

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"
)

// maxKeySetBytes bounds a client's JWKS, inline or fetched.
const maxKeySetBytes = 64 << 10

// PublicKeys returns the JSON Web Key Set client c authenticates with
// (private_key_jwt): its metadata's jwks, or the document at its
// jwks_uri (https, or http on loopback): a static client's fetched with
// HTTPClient, a CIMD client's only through the CIMD resolver's guarded
// client (no internal addresses, no redirects, size-capped) and cached as
// documents are. A DCR client must register jwks: its jwks_uri is not
// fetched.
func (r *Resolver) PublicKeys(ctx context.Context, c *Client) ([]byte, error) {
	md := c.Metadata
	if md.JWKS != nil {
		b, err := json.Marshal(md.JWKS)
		if err != nil || len(b) > maxKeySetBytes {
			return nil, fmt.Errorf("the client's jwks is not a JSON object of at most %d bytes", maxKeySetBytes)
		}
		return b, nil
	}
	if md.JWKSURI == "" {
		return nil, errors.New("the client registered neither jwks nor jwks_uri")
	}
	switch c.Kind {
	case KindStatic:
		client := r.HTTPClient
		if client == nil {
			client = &http.Client{Timeout: 10 * time.Second}
		}
		body, _, reason, err := fetchJSON(ctx, client, md.JWKSURI, maxKeySetBytes, true)
		if reason != "" {
			return nil, fmt.Errorf("the client's jwks_uri %q: %s: %w", md.JWKSURI, reason, err)
		}
		return body, nil
	case KindCIMD:
		if r.CIMD == nil {
			return nil, errors.New("CIMD is not enabled")
		}
		return r.CIMD.keySet(ctx, md.JWKSURI)
	}
	return nil, errors.New("a dynamically registered client's jwks_uri is not fetched; register jwks")
}

// keySet fetches a CIMD client's jwks_uri through the guarded client,
// cached for the document lifetimes.
func (r *CIMDResolver) keySet(ctx context.Context, u string) ([]byte, error) {
	if b, ok := r.keys.Get(u); ok {
		return b, nil
	}
	body, cc, reason, err := r.fetch(ctx, u)
	if reason != "" {
		return nil, &CIMDError{ClientID: u, Reason: "the jwks_uri: " + reason, Err: err}
	}
	r.keys.Set(u, body, int64(len(u)+len(body)), r.ttl(cc))
	return body, nil
}
