package auth

import (
	"bytes"
	"errors"
	"net/http"

	"github.com/mcpauth/mcpauth/internal/capped"
	"github.com/mcpauth/mcpauth/internal/wire"
)

// peekBody reads the whole body, up to limit bytes, and puts back an
// identical one. over reports a body longer than limit.
func peekBody(r *http.Request, limit int64) (body []byte, over bool, err error) {
	if r.Body == nil || r.Body == http.NoBody {
		return nil, false, nil
	}
	body, over, err = capped.ReadAll(r.Body, limit, r.ContentLength)
	if over {
		return nil, true, nil
	}
	r.Body = readCloser{bytes.NewReader(body), r.Body}
	return body, false, err
}

// operations finds the messages of r: from the body, and from the
// Mcp-Method and Mcp-Name headers of the 2026-07-28 transport, which must
// agree with the body when both are present. With a header mismatch it
// returns the body's messages too, for the JSON-RPC id of the answer.
func (a *Authenticator) operations(r *http.Request) ([]wire.Message, error) {
	msgs, _, err := a.readOperations(r)
	return msgs, err
}

// readOperations is operations that also returns the body it read, nil
// when the operation comes from the headers alone.
func (a *Authenticator) readOperations(r *http.Request) ([]wire.Message, []byte, error) {
	hMethod, hName := r.Header.Get("Mcp-Method"), r.Header.Get("Mcp-Name")
	body, over, err := peekBody(r, a.maxBody)
	switch {
	case over:
		return nil, body, fail(ReasonRequestTooLarge, "the request body is larger than %d bytes", a.maxBody)
	case err != nil:
		return nil, body, fail(ReasonRequestInvalid, "the request body cannot be read")
	case wire.DeeperThan(body, a.maxDepth):
		return nil, body, fail(ReasonRequestInvalid, "the request body nests JSON arrays and objects deeper than %d levels (Config.MaxJSONDepth)", a.maxDepth)
	}
	msgs, err := wire.ParseMessages(body)
	if err != nil && !errors.Is(err, wire.ErrNotJSONRPC) {
		return nil, body, fail(ReasonRequestInvalid, "%v", err)
	}
	if hMethod == "" {
		return msgs, body, nil
	}
	name, err := wire.DecodeHeaderValue(hName)
	if err != nil {
		return msgs, body, fail(ReasonHeaderMismatch, "the Mcp-Name header: %v", err)
	}
	guarded := wire.Guarded(hMethod)
	if len(msgs) > 1 {
		return msgs, body, fail(ReasonHeaderMismatch, "Mcp-Method and Mcp-Name headers cannot describe a batch")
	}
	if len(msgs) == 1 {
		m := msgs[0]
		if m.Method != hMethod || guarded && m.Name != name {
			return msgs, body, fail(ReasonHeaderMismatch, "the Mcp-Method/Mcp-Name headers (%q, %q) disagree with the body (%q, %q)", hMethod, trunc(name), m.Method, trunc(m.Name))
		}
		return msgs, body, nil
	}
	if !guarded {
		return nil, body, nil
	}
	// The operation is the headers' alone: the body is not its message.
	return []wire.Message{{Operation: wire.Operation{Method: hMethod, Name: name}, Guarded: true}}, nil, nil
}
