package auth

import (
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/mcpauth/mcpauth/scopes"
)

// ScopeError details a valid token that lacks the scopes a request needs.
// It is the Err of an [*Error] with [ReasonScopeInsufficient].
type ScopeError struct {
	Required scopes.Requirement
	Granted  scopes.Set
	Result   scopes.Result
	Hints    []scopes.Hint
}

// Error returns the message: what was expected and what was seen.
func (e *ScopeError) Error() string {
	s := "granted scopes [" + e.Granted.String() + "] do not satisfy [" + e.Required.String() + "]; missing [" + e.Result.Missing.String() + "]"
	for _, h := range e.Hints {
		s += "; " + h.Message
	}
	return s
}

// ChallengeScopes chooses what the scope parameter of a 403
// insufficient_scope challenge asks for.
type ChallengeScopes int

const (
	// ScopesByRevision follows the MCP revision the request declares in its
	// MCP-Protocol-Version header: for 2026-07-28 and later it is
	// [MinimalScopes], since those clients add the challenge's scopes to the
	// ones they hold (SEP-2350, RFC 6750 §3.1); for earlier revisions, or
	// none, it is [GrantedPlusNeeded]. The default.
	ScopesByRevision ChallengeScopes = iota
	// GrantedPlusNeeded asks for the scopes already granted plus those the
	// request needs. MCP clients of revision 2025-11-25 replace their scope set
	// with the challenge's, so this keeps them from losing what they had.
	GrantedPlusNeeded
	// MinimalScopes asks only for what the request needs: the baseline
	// scopes and the cheapest path of the operation's requirement.
	MinimalScopes
)

// scopeAccumulatingRevision is the first MCP revision whose clients
// accumulate scopes across step-ups themselves (SEP-2350).
const scopeAccumulatingRevision = "2026-07-28"

// strategy resolves ScopesByRevision for a request's MCP-Protocol-Version.
// Revisions are dates (YYYY-MM-DD) and compare as strings; anything else is
// treated as an earlier revision.
func (s ChallengeScopes) strategy(version string) ChallengeScopes {
	if s != ScopesByRevision {
		return s
	}
	if len(version) == len(scopeAccumulatingRevision) && version[4] == '-' && version[7] == '-' && version >= scopeAccumulatingRevision {
		return MinimalScopes
	}
	return GrantedPlusNeeded
}

// CheckScopes reports whether t meets req, as an [*Error] with
// [ReasonScopeInsufficient] and a [*ScopeError] when it does not.
func (a *Authenticator) CheckScopes(t *Token, req scopes.Requirement) error {
	if a.norm.Satisfies(t.Scopes, req) {
		return nil
	}
	se := &ScopeError{Required: req, Granted: t.Scopes, Result: a.norm.Check(t.Scopes, req), Hints: a.norm.Explain(t.Scopes, req)}
	desc := "the token lacks scope " + se.Result.Missing.String() + " that this request needs"
	if len(se.Hints) > 0 {
		desc += "; " + se.Hints[0].Message
	}
	return &Error{Reason: ReasonScopeInsufficient, Description: desc, Err: se}
}

// Check authenticates r: it takes the bearer token from the Authorization
// header, validates it and checks the baseline scopes. The error is always
// an [*Error]; [Authenticator.WriteError] turns it into the response.
func (a *Authenticator) Check(r *http.Request) (*Token, error) {
	raw, err := BearerToken(r)
	if err != nil {
		return nil, err
	}
	var start time.Time
	if a.metrics != nil {
		start = time.Now()
	}
	t, err := a.Verify(r.Context(), raw)
	if a.metrics != nil {
		a.metrics.observeLatency(time.Since(start))
	}
	if err != nil {
		return nil, err
	}
	if err := a.CheckScopes(t, a.baseline); err != nil {
		return t, err
	}
	return t, nil
}

// Middleware returns next protected: OPTIONS requests (CORS preflights) pass
// through untouched; every other request must carry a valid token with the
// baseline scopes, which is then available to next through
// [TokenFromContext]. Refusals are answered by [Authenticator.WriteError] and
// logged once each. It serves no metadata; see [Authenticator.Handler].
func (a *Authenticator) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a.serve(w, r, next, nil)
	})
}

// Handler returns one handler for the whole server: the protected resource
// metadata at its path-inserted and root well-known paths, without a token,
// and everything else through [Authenticator.Middleware].
func (a *Authenticator) Handler(next http.Handler) http.Handler { return a.Protect(next, nil) }

// Protect is [Authenticator.Handler] plus the per-operation check that lets
// MCP clients step up: the JSON-RPC body of each POST (at most
// [Config.MaxBodyBytes], restored byte for byte) and the Mcp-Method and
// Mcp-Name headers name the operation; when lookup knows it and the token's
// scopes do not satisfy its requirement (with the baseline), the answer is
// 403 insufficient_scope with the scopes to ask for, in the challenge and in
// a JSON-RPC error body, before next sees the request. It also binds each
// Mcp-Session-Id to the subject that created it: another subject's token
// with that session id gets 404, as for an unknown session. lookup nil
// checks tokens and sessions only.
func (a *Authenticator) Protect(next http.Handler, lookup RequirementLookup) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if slices.Contains(a.metadataPaths, r.URL.Path) {
			a.MetadataHandler().ServeHTTP(w, r)
			return
		}
		a.serve(w, r, next, lookup)
	})
}

func (a *Authenticator) serve(w http.ResponseWriter, r *http.Request, next http.Handler, lookup RequirementLookup) {
	if r.Method == http.MethodOptions {
		next.ServeHTTP(w, r)
		return
	}
	o := a.decide(r, lookup)
	d := a.observe(r, &o)
	if o.err != nil {
		a.writeError(w, r, o.err, o.failed)
		return
	}
	if o.flights != nil {
		defer a.inflight.release(o.flights)
	}
	// Only a request with a session id or a POST can end, or be answered
	// with, a session; a traced one is watched for the status it gets.
	if o.sid != "" || r.Method == http.MethodPost || d != nil {
		rw := &responseWriter{ResponseWriter: w, a: a, r: r, t: o.t, sid: o.sid, firstSight: o.firstSight, decision: d}
		defer rw.finish()
		w = rw
	}
	next.ServeHTTP(w, r.WithContext(ContextWithToken(r.Context(), o.t)))
}

// outcome is what decide found out about one request.
type outcome struct {
	t          *Token
	msgs       []message
	failed     *Operation         // the operation refused, if one was
	required   scopes.Requirement // what the operations needed, beyond the baseline
	sid        string             // the session the request names
	firstSight bool               // the request bound sid at first sight
	flights    []string           // in-flight id keys claimed for the request
	err        error
}

// decide makes the whole decision for r: token, baseline scopes, the
// operations' requirements, then the session binding, or for a request
// without a session, its JSON-RPC ids.
func (a *Authenticator) decide(r *http.Request, lookup RequirementLookup) (o outcome) {
	if o.t, o.err = a.Check(r); o.err != nil {
		return o
	}
	if o.sid, o.err = sessionID(r); o.err != nil {
		return o
	}
	if lookup != nil && r.Method == http.MethodPost {
		o.msgs, o.err = a.operations(r)
		if o.err != nil {
			if len(o.msgs) == 1 {
				o.failed = &o.msgs[0].Operation
			}
			return o
		}
		for i := range o.msgs {
			m := &o.msgs[i]
			if !m.guarded {
				continue
			}
			req, known := lookup.Requirement(m.Method, m.Name)
			if !known {
				continue
			}
			if a.trace != nil {
				o.required = o.required.And(req) // shown in the trace only
			}
			if a.norm.Satisfies(o.t.Scopes, req) {
				continue
			}
			if isUndetermined(req) {
				o.err = fail(ReasonRequirementUnknown, "the scopes %s %q needs cannot be determined, so it is refused", m.Method, trunc(m.Name))
				o.failed = &m.Operation
				return o
			}
			// The challenge names the baseline too, so no client drops it.
			if o.err = a.CheckScopes(o.t, a.baseline.And(req)); o.err != nil {
				o.failed = &m.Operation
				return o
			}
		}
	}
	if o.sid != "" {
		o.firstSight, o.err = a.sessions.bind(o.sid, subjectKey(o.t))
		return o
	}
	if keys := inflightKeys(o.msgs); len(keys) > 0 {
		if o.err = a.inflight.claim(keys, subjectKey(o.t)); o.err == nil {
			o.flights = keys
		}
	}
	return o
}

// observe logs a refusal and feeds the metrics and the trace. A refusal is
// recorded in the trace at once; for an allowed request it returns the
// decision, for the response writer to record with the status the client
// gets (nil without a trace).
func (a *Authenticator) observe(r *http.Request, o *outcome) *Decision {
	var who caller
	if o.err != nil || a.trace != nil {
		who = callerOf(r, o.t)
	}
	if o.err != nil {
		a.logReject(r, who, o.failed, o.err)
	}
	if a.metrics == nil && a.trace == nil {
		return nil
	}
	d := Decision{Allowed: o.err == nil}
	if o.err != nil {
		e := asError(o.err)
		d.Status, d.Reason, d.Explanation = e.Reason.Status(), e.Reason, e.Description
		var se *ScopeError
		if errors.As(e, &se) {
			d.Required, d.Hints = se.Required.String(), se.Hints
		}
	}
	if a.metrics != nil {
		key := "allowed"
		if !d.Allowed {
			key = string(d.Reason)
		}
		a.metrics.Decisions.Add(key, 1)
	}
	if a.trace == nil {
		return nil
	}
	d.Time, d.RequestID, d.HTTPMethod, d.Path = a.now(), a.trace.requestID(r), r.Method, r.URL.Path
	d.Session, d.Protocol = traceSession(r.Header.Get("Mcp-Session-Id")), trunc(r.Header.Get("Mcp-Protocol-Version"))
	if d.Required == "" {
		d.Required = a.baseline.And(o.required).String()
	}
	if o.err != nil && o.msgs == nil && r.Method == http.MethodPost && d.Reason != ReasonRequestTooLarge {
		o.msgs, _ = a.operations(r) // refused before the body was read: read it for the trace
	}
	d.Messages = tracedMessages(o.msgs, o.failed)
	d.Token, d.Issuer, d.Subject, d.ClientID, d.Audience, d.Granted = who.token, who.iss, who.sub, who.clientID, who.aud, who.scopes
	if !d.Allowed {
		a.trace.Record(d)
		return nil
	}
	return &d
}

// caller is who a request says it is, for the log and the trace: the
// validated token when there is one, otherwise what an unverified token
// claims (never the token itself, only its fingerprint).
type caller struct {
	token, iss, sub, clientID, scopes string
	aud                               []string
}

func callerOf(r *http.Request, t *Token) caller {
	if t != nil {
		return caller{token: t.Fingerprint(), iss: t.Issuer, sub: t.Subject, clientID: t.ClientID, aud: t.Audience, scopes: t.Scopes.String()}
	}
	raw, err := BearerToken(r)
	if err != nil {
		return caller{}
	}
	iss, aud := peekClaims(raw)
	return caller{token: Fingerprint(raw), iss: iss, aud: aud}
}

// MetadataHandler serves the protected resource metadata document.
func (a *Authenticator) MetadataHandler() http.Handler {
	a.prmMu.RLock()
	defer a.prmMu.RUnlock()
	return a.prmHandler
}

// MetadataPaths returns the URL paths at which clients look for the
// metadata: the path-inserted one first, then the root one.
func (a *Authenticator) MetadataPaths() []string { return slices.Clone(a.metadataPaths) }

// Mount registers next, protected, on mux at pattern, and the metadata at
// its well-known paths.
func (a *Authenticator) Mount(mux *http.ServeMux, pattern string, next http.Handler) {
	meta := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { a.MetadataHandler().ServeHTTP(w, r) })
	for _, p := range a.metadataPaths {
		mux.Handle(p, meta)
	}
	mux.Handle(pattern, a.Middleware(next))
}

// Challenge returns the WWW-Authenticate challenge for err, in answer to r
// (whose MCP-Protocol-Version chooses the scopes of a 403 under
// [ScopesByRevision]; r may be nil).
func (a *Authenticator) Challenge(r *http.Request, err error) Challenge {
	e := asError(err)
	c := Challenge{ResourceMetadata: a.resourceMetadataURL, Error: e.Reason.OAuthError(), Description: e.Description}
	var se *ScopeError
	switch {
	case e.Reason == ReasonScopeInsufficient && errors.As(e, &se):
		var version string
		if r != nil {
			version = r.Header.Get("Mcp-Protocol-Version")
		}
		if a.challengeScopes.strategy(version) == MinimalScopes {
			c.Scope = se.Result.Minimal.String()
		} else {
			c.Scope = se.Result.GrantedPlusNeeded.String()
		}
	default:
		c.Scope = a.challengeBaseline
	}
	if c.Error == "" {
		c.Description = "" // RFC 6750 §3.1: a request without credentials gets no error information
	}
	return c
}

// Reject records err like every refusal of the middleware (one log record,
// the trace and the metrics when configured) and writes its response with
// [Authenticator.WriteError]. t is the token when one was validated (a scope
// failure), else nil.
func (a *Authenticator) Reject(w http.ResponseWriter, r *http.Request, t *Token, err error) {
	a.observe(r, &outcome{t: t, err: err})
	a.writeError(w, r, err, nil)
}

// WriteError writes the response for an authentication or authorization
// failure: the status of its [Reason]; for 401 and 403 the WWW-Authenticate
// challenge, exposed to browsers through CORS; for 503 a Retry-After; and a
// small JSON body with error, error_description and reason.
func (a *Authenticator) WriteError(w http.ResponseWriter, r *http.Request, err error) {
	a.writeError(w, r, err, nil)
}

// JSONRPCForbidden is the JSON-RPC error code of the body that accompanies
// a 403 for an MCP operation.
const JSONRPCForbidden = -32003

// JSONRPCHeaderMismatch is the JSON-RPC error code of the body of a 400 for
// Mcp-Method or Mcp-Name headers that disagree with the body or cannot be
// decoded (HeaderMismatch in the 2026-07-28 Streamable HTTP transport).
const JSONRPCHeaderMismatch = -32020

// writeError answers a refusal. A refused MCP operation (op, or any header
// mismatch) gets a JSON-RPC error response carrying the same information as
// the headers; anything else the body of WriteError.
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
	code := JSONRPCHeaderMismatch
	if e.Reason != ReasonHeaderMismatch {
		code = JSONRPCForbidden
		data["resource_metadata"] = a.resourceMetadataURL
	}
	var se *ScopeError
	if errors.As(e, &se) {
		data["scope"] = a.Challenge(r, e).Scope
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
		h.Set("WWW-Authenticate", a.Challenge(r, e).String())
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

// logReject writes the one log record of a refused request: reason, status,
// method and path, the token's fingerprint and the unverified iss and aud it
// claims (never the token itself).
func (a *Authenticator) logReject(r *http.Request, who caller, op *Operation, err error) {
	e := asError(err)
	level := slog.LevelWarn
	switch e.Reason {
	case ReasonTokenMissing:
		level = slog.LevelDebug
	case ReasonKeysetUnavailable, ReasonIntrospectionFailed:
		level = slog.LevelError
	}
	ctx := r.Context()
	if !a.logger.Enabled(ctx, level) {
		return
	}
	attrs := []slog.Attr{
		slog.String("reason", string(e.Reason)),
		slog.Int("status", e.Reason.Status()),
		slog.String("method", r.Method),
		slog.String("path", r.URL.Path),
	}
	if op != nil {
		attrs = append(attrs, slog.String("mcp_method", op.Method), slog.String("mcp_name", trunc(op.Name)))
	}
	if who.token != "" {
		attrs = append(attrs, slog.String("token", who.token), slog.String("iss", who.iss), slog.Any("aud", who.aud))
	}
	if who.sub != "" {
		attrs = append(attrs, slog.String("sub", who.sub), slog.String("client_id", who.clientID), slog.String("scopes", who.scopes))
	}
	attrs = append(attrs, slog.String("error", e.Error()))
	if se := (*ScopeError)(nil); errors.As(e, &se) {
		for _, h := range se.Hints {
			attrs = append(attrs, slog.Group("hint", slog.String("code", string(h.Code)), slog.String("message", h.Message)))
		}
	}
	a.logger.LogAttrs(ctx, level, "mcpauth: request refused", attrs...)
}

// peekClaims decodes iss and aud from a JWT payload without trusting it, for
// the log record of a refusal. Values are truncated.
func peekClaims(raw string) (iss string, aud []string) {
	parts := strings.SplitN(raw, ".", 4)
	if len(parts) != 3 {
		return "", nil
	}
	c, err := decodeObject(parts[1], "payload")
	if err != nil {
		return "", nil
	}
	iss, _ = optString(c, "iss")
	aud, _ = stringOrList(c, "aud")
	if len(aud) > 8 {
		aud = aud[:8]
	}
	for i := range aud {
		aud[i] = trunc(aud[i])
	}
	return trunc(iss), aud
}

func trunc(s string) string {
	if len(s) > 200 {
		return s[:200] + "..."
	}
	return s
}
