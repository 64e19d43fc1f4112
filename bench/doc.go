// Package bench compares mcpauth with the libraries users would otherwise
// pick (auth0/go-jwt-middleware, golang-jwt with keyfunc, coreos/go-oidc)
// and with the physical floor (raw jwx and crypto verification), on the same
// keys, tokens and JWKS served over loopback. It is a separate module so the
// peers stay out of mcpauth's own dependencies. Run ./run.sh to produce
// RESULTS.md.
package bench
