package auth

import (
	"net/http"
	"strings"

	"github.com/mcpauth/mcpauth/internal/source"
)

// discoveryMethods are what a caller without a token may ask when
// [Config.AnonymousDiscovery] is set: what the server is and what it
// offers, never an operation.
var discoveryMethods = map[string]bool{
	"initialize": true, "notifications/initialized": true, "ping": true, "server/discover": true,
	"tools/list": true, "prompts/list": true, "resources/list": true, "resources/templates/list": true,
}

// anonymousPrefix starts the session owner key of callers without a token;
// a subject's key starts with its issuer, never with a NUL.
const anonymousPrefix = "\x00anonymous\x00"

// decideAnonymous lets a POST without a token through when every message
// it holds is a discovery method; o keeps its 401 otherwise. Its sessions
// belong to its source (the remote address, or Config.AnonymousSource),
// within the same bounds as a subject's; the first request with a token
// in such a session makes it the token's subject's.
func (a *Authenticator) decideAnonymous(r *http.Request, o *outcome) {
	if r.Method != http.MethodPost {
		return
	}
	msgs, err := a.operations(r)
	if err != nil || len(msgs) == 0 {
		return
	}
	for _, m := range msgs {
		if !discoveryMethods[m.Method] {
			return
		}
	}
	o.err, o.msgs, o.subject = nil, msgs, anonymousPrefix+source.Key(r, a.anonymousSource)
	if o.sid, o.err = sessionID(r); o.err != nil {
		return
	}
	if o.sid != "" {
		if o.b, o.err = a.sessions.use(o.sid, o.subject); o.b == nil && o.err == nil {
			o.err = fail(ReasonSessionMismatch, "unknown session: start a new one with initialize")
		}
		return
	}
	if initializes(msgs) {
		o.res, o.err = a.sessions.reserve(o.subject)
	}
}

func isAnonymous(subject string) bool { return strings.HasPrefix(subject, anonymousPrefix) }
