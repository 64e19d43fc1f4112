package auth

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"

	"github.com/mcpauth/mcpauth/internal/wire"
)

// refuse answers a refusal through Config.ErrorWriter, or WriteError. op is
// the MCP operation refused, if one was: its answer is a JSON-RPC error.
func (a *Authenticator) refuse(w http.ResponseWriter, r *http.Request, err error, op *wire.Operation) {
	e := asError(err)
	if op != nil {
		c := *e // a verifier's *Error may be shared: the operation goes on a copy
		c.op = op
		e = &c
	}
	if a.errorWriter != nil {
		a.errorWriter(w, r, e)
		return
	}
	a.WriteError(w, r, e)
}

// refuseLate logs and answers a refusal that replaces the server's
// answer (see responseWriter).
func (a *Authenticator) refuseLate(w http.ResponseWriter, r *http.Request, t *Token, err error) {
	a.logReject(r, callerOf(r, t), nil, err)
	a.refuse(w, r, err, nil)
}

// WriteError answers a refusal ([Authenticator.Check]'s error, or the
// *Error a [Config.ErrorWriter] receives) the standard way: the status of
// its [Reason]; for 401 and 403 the WWW-Authenticate challenge MCP clients
// sign in and step up with (RFC 6750, RFC 9728's resource_metadata, the
// scopes to ask for), exposed to browsers through CORS; for 503 a
// Retry-After. A refused MCP operation, or a header mismatch, gets a
// JSON-RPC error response carrying the same information as the headers;
// anything else a small JSON body with error, error_description and
// reason. An err that is not an *Error is answered as
// ReasonVerifierFailed. It writes nothing into the log: the decision was
// logged when it was made.
func (a *Authenticator) WriteError(w http.ResponseWriter, r *http.Request, err error) {
	e := a.writeHeaders(w, r, err)
	op := e.op
	if op == nil && e.Reason != ReasonHeaderMismatch {
		code := e.Reason.OAuthError()
		if code == "" {
			code = string(e.Reason)
		}
		_ = json.NewEncoder(w).Encode(struct {
			Error       string `json:"error"`
			Description string `json:"error_description,omitempty"`
			Reason      Reason `json:"reason"`
		}{code, sanitize(e.Description), e.Reason})
		return
	}
	data := map[string]any{"reason": e.Reason}
	id := json.RawMessage("null")
	if op != nil {
		data["method"], data["name"] = op.Method, op.Name
		if len(op.ID) > 0 {
			id = op.ID
		}
	}
	code := wire.CodeHeaderMismatch
	if e.Reason != ReasonHeaderMismatch {
		code = wire.CodeForbidden
		data["resource_metadata"] = a.resourceMetadataURL
	}
	var se *ScopeError
	if errors.As(e, &se) {
		data["scope"] = a.challenge(r, e).Scope
		data["required"] = se.Required.String()
		data["missing"] = se.Result.Missing.String()
		if len(se.Hints) > 0 {
			data["hints"] = se.Hints
		}
	}
	_ = json.NewEncoder(w).Encode(map[string]any{
		"jsonrpc": "2.0",
		"id":      id,
		"error":   map[string]any{"code": code, "message": string(e.Reason) + ": " + sanitize(e.Description), "data": data},
	})
}

// writeHeaders writes the status line and headers of a refusal.
func (a *Authenticator) writeHeaders(w http.ResponseWriter, r *http.Request, err error) *Error {
	e := asError(err)
	status := e.Reason.Status()
	h := w.Header()
	switch {
	case status == http.StatusUnauthorized || e.Reason.OAuthError() != "":
		c := a.challenge(r, e)
		if a.dpop == nil || !a.dpop.required {
			h.Set("WWW-Authenticate", c.String())
		}
		if a.dpop != nil { // RFC 9449 §7.1: a DPoP challenge beside (or instead of) the Bearer one
			h.Add("WWW-Authenticate", c.dpop(a.dpop.algs))
			if e.Reason == ReasonDPoPNonce {
				h.Set("DPoP-Nonce", a.dpop.Nonce())
			}
			h.Add("Access-Control-Expose-Headers", "DPoP-Nonce")
		}
		h.Add("Access-Control-Expose-Headers", "WWW-Authenticate")
		if r.Header.Get("Origin") != "" && h.Get("Access-Control-Allow-Origin") == "" {
			h.Set("Access-Control-Allow-Origin", "*")
		}
	case status == http.StatusServiceUnavailable:
		after := e.retryAfter
		if after <= 0 {
			after = defaultMinGap
		}
		h.Set("Retry-After", strconv.Itoa(max(1, int(after.Seconds()))))
	}
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	return e
}

// asError returns err as an *Error: itself, or, for an error that says
// nothing about the token (a custom TokenVerifier's database down),
// ReasonVerifierFailed with err as its cause.
func asError(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return &Error{Reason: ReasonVerifierFailed, Description: "the token cannot be checked now; retry later", Err: err}
}
