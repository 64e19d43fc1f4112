package auth

import (
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/mcpauth/mcpauth/internal/wire"
)

// Observer receives what mcpauth measures, to export it as metrics. The
// middleware and the [Verifier] call it on the request path, so an
// implementation must be safe for concurrent use and quick. Package
// auth/expvarmetrics implements it with expvar, package auth/otelmetrics
// with OpenTelemetry.
// Without one ([Config.Observer] nil), nothing is measured and nothing is
// spent.
type Observer interface {
	// Decision reports one authorization decision: reason "" when the
	// request was allowed.
	Decision(reason Reason)
	// Verification reports how long validating a bearer token took, cache
	// hits included.
	Verification(d time.Duration)
	// TokenCache reports whether the verifier's token cache knew a token.
	TokenCache(hit bool)
	// KeyRefresh reports a fetch of an issuer's key set and its error;
	// issuer is "" for a failed background refresh, which jwx reports
	// without its URL.
	KeyRefresh(issuer string, err error)
}

// observe logs a refusal and feeds the metrics and the trace. A refusal is
// recorded in the trace at once; for an allowed request it returns the
// decision, to record with the status the client gets (nil without a
// trace).
func (a *Authenticator) observe(r *http.Request, o *outcome) *decisionRecord {
	var who caller
	if o.err != nil || a.trace != nil {
		who = callerOf(r, o.t)
	}
	if o.err != nil {
		a.logReject(r, who, o.failed, o.err)
	}
	if a.observer != nil {
		var reason Reason
		if o.err != nil {
			reason = asError(o.err).Reason
		}
		a.observer.Decision(reason)
	}
	if a.trace == nil {
		return nil
	}
	return a.traced(r, o, who)
}

// traced records a refused request in the trace, or returns the decision
// of an allowed one for the response writer to record.
func (a *Authenticator) traced(r *http.Request, o *outcome, who caller) *decisionRecord {
	d := &Decision{Allowed: o.err == nil}
	if o.err != nil {
		e := asError(o.err)
		d.Status, d.Reason, d.Explanation = e.Reason.Status(), e.Reason, e.Description
		var se *ScopeError
		if errors.As(e, &se) {
			d.Required, d.Hints = se.Required.String(), se.Hints
		}
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
		a.trace.record(*d)
		return nil
	}
	return &decisionRecord{trace: a.trace, d: *d}
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
	raw, err := bearerToken(r)
	if err != nil {
		return caller{}
	}
	iss, aud := peekClaims(raw)
	return caller{token: fingerprint(raw), iss: iss, aud: aud}
}

// logReject writes the one log record of a refused request: reason, status,
// method and path, the token's fingerprint and the unverified iss and aud it
// claims (never the token itself).
func (a *Authenticator) logReject(r *http.Request, who caller, op *wire.Operation, err error) {
	e := asError(err)
	level := slog.LevelWarn
	switch e.Reason {
	case ReasonTokenMissing:
		level = slog.LevelDebug
	case ReasonKeysetUnavailable, ReasonIntrospectionFailed, ReasonVerifierFailed:
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
	var c wire.Object
	if _, err := decodeInto(&c, make([]byte, 0, b64.DecodedLen(len(parts[1]))), []byte(parts[1]), "payload"); err != nil {
		return "", nil
	}
	iss, _ = optString(&c, "iss")
	aud, _ = stringOrList(&c, "aud")
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
