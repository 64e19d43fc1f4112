package auth

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/mcpauth/mcpauth/internal/wire"
	"github.com/mcpauth/mcpauth/scopes"
)

// This file is the request flow of the HTTP layer, in order (serve):
//  1. the metadata paths (Protect) and CORS preflights pass without a token;
//  2. the token is taken from the Authorization header and verified by the
//     TokenVerifier, and the baseline scopes checked (check, scopecheck.go);
//  3. the operations of the body are read (operation.go) and their
//     requirements checked (decide);
//  4. the session is bound to its subject (session.go), or a sessionless
//     request's JSON-RPC ids claimed (inflight.go);
//  5. the decision is logged, observed and traced (observe.go);
//  6. a refusal is answered (respond.go, challenge.go: Config.ErrorWriter or
//     WriteError), or the request goes on with its token in the context,
//     and its response watched for the session the server creates
//     (sessionWatch, session.go) and the status to trace (response.go).
//
// Check is steps 2 and 5 alone, for callers who answer themselves.

// Middleware returns next protected: OPTIONS requests (CORS preflights) pass
// through untouched; every other request must carry a valid token with the
// baseline scopes, which is then available to next through
// [TokenFromContext]. Refusals are answered with a challenge and
// logged once each. It serves no metadata; see [Authenticator.Protect],
// or mount [Authenticator.MetadataHandler] at [Authenticator.MetadataPaths].
func (a *Authenticator) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a.serve(w, r, next, nil)
	})
}

// Protect returns one handler for the whole server: the protected resource
// metadata at its path-inserted and root well-known paths, without a token,
// and everything else through [Authenticator.Middleware], plus, with a
// lookup, the per-operation check that lets MCP clients step up: the
// JSON-RPC body of each POST (at most [Config.MaxBodyBytes], restored byte
// for byte) and the Mcp-Method and Mcp-Name headers name the operation
// (tools/call and prompts/get by name, resources/read by URI); lookup says
// what it requires, known false for names the server does not have (those
// pass, and the MCP server answers them "not found"). When the token's
// scopes do not satisfy the requirement (with the baseline), the answer is
// 403 insufficient_scope with the scopes to ask for, in the challenge and
// in a JSON-RPC error body, before next sees the request. It also binds
// each Mcp-Session-Id to the subject that created it: another subject's
// token with that session id gets 404, as for an unknown session. lookup
// nil checks tokens and sessions only. The SDK adapters (auth/mcpgo,
// auth/gosdk) call it with the lookup of the server's registry.
func (a *Authenticator) Protect(next http.Handler, lookup func(method, name string) (req scopes.Requirement, known bool)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if slices.Contains(a.metadataPaths, r.URL.Path) {
			a.MetadataHandler().ServeHTTP(w, r)
			return
		}
		a.serve(w, r, next, lookup)
	})
}

// lookup says what an MCP operation requires; see Protect.
type lookup = func(method, name string) (req scopes.Requirement, known bool)

func (a *Authenticator) serve(w http.ResponseWriter, r *http.Request, next http.Handler, lookup lookup) {
	if r.Method == http.MethodOptions {
		next.ServeHTTP(w, r)
		return
	}
	o := a.decide(r, lookup)
	rec := a.observe(r, &o)
	if o.err != nil {
		a.refuse(w, r, o.err, o.failed)
		return
	}
	if o.flights != nil {
		defer a.inflight.release(o.flights)
	}
	// Only a request with a session id or a POST can end, or be answered
	// with, a session; a traced one is watched for the status it gets.
	if watch := o.sid != "" || r.Method == http.MethodPost; watch || rec != nil {
		rw := &responseWriter{ResponseWriter: w, rec: rec, late: a}
		if watch {
			rw.watch = sessionWatch{sessions: a.sessions, subject: o.subject, sid: o.sid, method: r.Method, b: o.b, res: o.res, firstSight: o.firstSight,
				next: next, r: r, t: o.t, now: a.now}
		}
		defer rw.finish()
		w = rw
	}
	switch {
	case o.checked != nil:
		r = r.WithContext(context.WithValue(r.Context(), ctxKey{}, &checkedRequest{t: o.t, body: o.checked}))
	case o.t != nil:
		r = r.WithContext(ContextWithToken(r.Context(), o.t))
	}
	next.ServeHTTP(w, r)
}

// outcome is what decide found out about one request.
type outcome struct {
	t          *Token
	subject    string // whose the request's sessions are: the token's, or an anonymous source's
	msgs       []wire.Message
	failed     *wire.Operation    // the operation refused, if one was
	required   scopes.Requirement // what the operations needed, beyond the baseline
	sid        string             // the session the request names
	b          *binding           // sid's binding, held for the request
	res        *reservation       // a place held for the session an initialize creates
	firstSight bool               // the request bound sid at first sight
	flights    []string           // in-flight id keys claimed for the request
	checked    []byte             // a one-message body whose guarded operations were all known and allowed
	err        error
}

// decide makes the whole decision for r: token, baseline scopes, the
// operations' requirements, then the session binding, or for a request
// without a session, its JSON-RPC ids and, for an initialize, a place for
// the session it creates.
func (a *Authenticator) decide(r *http.Request, lookup lookup) (o outcome) {
	if o.t, o.err = a.check(r); o.err != nil {
		if a.anonymous && errors.Is(o.err, ReasonTokenMissing) {
			a.decideAnonymous(r, &o)
		}
		return o
	}
	o.subject = subjectKey(o.t)
	if o.sid, o.err = sessionID(r); o.err != nil {
		return o
	}
	if lookup != nil && r.Method == http.MethodPost {
		var body []byte
		o.msgs, body, o.err = a.readOperations(r)
		if o.err != nil {
			if len(o.msgs) == 1 {
				o.failed = &o.msgs[0].Operation
			}
			return o
		}
		allKnown := true
		for i := range o.msgs {
			m := &o.msgs[i]
			if !m.Guarded {
				continue
			}
			req, known := lookup(m.Method, m.Name)
			if !known {
				allKnown = false
				continue
			}
			if a.trace != nil {
				o.required = o.required.And(req) // shown in the trace only
			}
			if a.norm.Satisfies(o.t.Scopes, req) {
				continue
			}
			// The challenge names the baseline too, so no client drops it;
			// an undetermined requirement is refused there too.
			if o.err = a.CheckScopes(o.t, a.baseline.And(req)); o.err != nil {
				o.failed = &m.Operation
				return o
			}
		}
		if allKnown && len(o.msgs) == 1 && body != nil {
			o.checked = body
		}
	}
	if o.sid != "" {
		// Every session the SDK creates through this layer is bound when it
		// is created, and its binding lasts as long as it does: an id nobody
		// holds was ended, has expired or was never created here, and gets
		// 404 (some SDKs accept any well-formed id, even one ended with
		// DELETE). The legacy SSE transport's ids, which no response names,
		// are bound at first sight.
		switch o.b, o.err = a.sessions.use(o.sid, o.subject); {
		case o.b != nil || o.err != nil:
		case strings.HasPrefix(o.sid, "sse:"):
			o.b, o.err = a.sessions.bind(o.sid, o.subject, nil, nil)
			o.firstSight = o.err == nil
		default:
			o.err = fail(ReasonSessionMismatch, "unknown session: it was ended, has expired or was never created here; start a new one with initialize")
		}
		return o
	}
	if keys := inflightKeys(o.msgs); len(keys) > 0 {
		if o.err = a.inflight.claim(keys, o.subject); o.err != nil {
			return o
		}
		o.flights = keys
	}
	if r.Method == http.MethodPost && initializes(o.msgs) {
		if o.res, o.err = a.sessions.reserve(o.subject); o.err != nil && o.flights != nil {
			a.inflight.release(o.flights)
			o.flights = nil
		}
	}
	return o
}

// initializes reports whether msgs hold an initialize request, which
// creates a session.
func initializes(msgs []wire.Message) bool {
	for _, m := range msgs {
		if m.Method == "initialize" {
			return true
		}
	}
	return false
}

// Check decides whether r may proceed, as [Authenticator.Middleware] does,
// without writing anything: it takes the bearer token from the
// Authorization header, verifies it and checks the baseline scopes. It
// returns the token, or an [*Error] whose Reason says why not; a refusal is
// logged, observed and traced as the middleware's are, so answer it with
// [Authenticator.WriteError] (or answer it your own way, keeping the
// challenge). Check reads no body and binds no session: for an MCP
// endpoint, use [Authenticator.Protect].
func (a *Authenticator) Check(r *http.Request) (*Token, error) {
	o := outcome{}
	o.t, o.err = a.check(r)
	if rec := a.observe(r, &o); rec != nil {
		rec.record(0, nil, "") // allowed; the status is the caller's to choose
	}
	if o.err != nil {
		return nil, o.err
	}
	return o.t, nil
}

// check authenticates r: it takes the bearer token from the Authorization
// header, validates it and checks the baseline scopes. The error is always
// an [*Error]; a verifier's error that is not one is ReasonVerifierFailed.
func (a *Authenticator) check(r *http.Request) (*Token, error) {
	raw, scheme, err := bearerCredentials(r)
	if err != nil {
		return nil, err
	}
	if scheme == schemeDPoP && a.dpop == nil {
		return nil, fail(ReasonTokenMissing, "the DPoP scheme is not enabled at this resource (Config.DPoP); send the token as a bearer token")
	}
	var start time.Time
	if a.observer != nil {
		start = time.Now()
	}
	// A token the verifier's cache holds is these exact bytes, checked
	// before: its characters need no second look, and a miss is not looked
	// up twice.
	t := a.owned.cached(raw)
	if t == nil {
		if err := checkB64Token(raw); err != nil {
			return nil, err
		}
		if a.owned != nil {
			t, err = a.owned.verifyUncached(r.Context(), raw)
		} else if err = checkTokenSize(raw, defaultMaxTokenBytes); err == nil { // a custom verifier's input is bounded here
			t, err = a.verifier.Verify(r.Context(), raw)
		}
		if err != nil {
			return nil, asError(err)
		}
	}
	if a.observer != nil {
		a.observer.Verification(time.Since(start))
	}
	if t == nil || t.Subject == "" {
		return nil, fail(ReasonClaimInvalid, "the token verifier returned a token without a subject")
	}
	switch {
	case scheme == schemeDPoP:
		if err := a.checkProof(r, raw, t); err != nil {
			return nil, err
		}
	case t.DPoPKeyThumbprint != "":
		// RFC 9449 §7.1: a bound token is never a bearer token.
		return nil, fail(ReasonDPoPRequired, "the token is DPoP-bound: send it with the DPoP scheme and a proof, not as a bearer token")
	case a.dpop != nil && a.dpop.required:
		return nil, fail(ReasonDPoPRequired, "this resource accepts only DPoP-bound tokens, with the DPoP scheme and a proof")
	}
	if err := a.CheckScopes(t, a.baseline); err != nil {
		return t, err
	}
	return t, nil
}
