package auth

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
)

// JSONRPCForbidden is the JSON-RPC error code of a refused MCP operation:
// the body of the 403, and the error of a check where an SDK dispatches. It
// lies in the range JSON-RPC leaves to implementations (-32000 to -32019),
// clear of the codes SDKs give meanings there (the TypeScript SDK's
// connection closed -32000 and timeout -32001, resource not found -32002,
// the go-sdk's client closing -32003 and server closing -32004, which would
// make a go-sdk client drop the connection).
const JSONRPCForbidden = -32010

// jsonrpcHeaderMismatch is the JSON-RPC error code of the body of a 400 for
// Mcp-Method or Mcp-Name headers that disagree with the body or cannot be
// decoded (HeaderMismatch in the 2026-07-28 Streamable HTTP transport).
const jsonrpcHeaderMismatch = -32020

// writeError answers a refusal: the status of its [Reason]; for 401 and 403
// the WWW-Authenticate challenge, exposed to browsers through CORS; for 503
// a Retry-After. A refused MCP operation (op, or any header mismatch) gets a
// JSON-RPC error response carrying the same information as the headers;
// anything else a small JSON body with error, error_description and reason.
func (a *Authenticator) writeError(w http.ResponseWriter, r *http.Request, err error, op *Operation) {
	e := a.writeHeaders(w, r, err)
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
	code := jsonrpcHeaderMismatch
	if e.Reason != ReasonHeaderMismatch {
		code = JSONRPCForbidden
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
		h.Set("WWW-Authenticate", a.challenge(r, e).String())
		h.Add("Access-Control-Expose-Headers", "WWW-Authenticate")
		if r.Header.Get("Origin") != "" && h.Get("Access-Control-Allow-Origin") == "" {
			h.Set("Access-Control-Allow-Origin", "*")
		}
	case status == http.StatusServiceUnavailable:
		h.Set("Retry-After", strconv.Itoa(a.retryAfter))
	}
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	return e
}

func asError(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return &Error{Reason: ReasonTokenMalformed, Description: "the token cannot be validated", Err: err}
}
