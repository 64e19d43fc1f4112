package auth

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/mcpauth/mcpauth/scopes"
)

// Operation is one guarded MCP operation a request asks for: tools/call and
// prompts/get with the tool or prompt name, resources/read with the URI.
type Operation struct {
	Method string          // "tools/call", "prompts/get" or "resources/read"
	Name   string          // the tool or prompt name, or the resource URI
	ID     json.RawMessage // the JSON-RPC id, nil for a notification or a header-only operation
}

// RequirementLookup says which scopes an MCP operation needs. known is false
// for names the server does not have: those calls pass through, and the MCP
// server answers them as usual ("not found").
type RequirementLookup interface {
	Requirement(method, name string) (req scopes.Requirement, known bool)
}

// RequirementFunc adapts a function to [RequirementLookup].
type RequirementFunc func(method, name string) (scopes.Requirement, bool)

// Requirement calls f.
func (f RequirementFunc) Requirement(method, name string) (scopes.Requirement, bool) {
	return f(method, name)
}

// guardedParam maps each guarded method to the params member naming its target.
var guardedParam = map[string]string{
	"tools/call":     "name",
	"prompts/get":    "name",
	"resources/read": "uri",
}

// maxBatch bounds the messages of one JSON-RPC batch that are inspected; a
// longer batch is refused.
const maxBatch = 64

// errNotJSONRPC marks a body that is not a JSON-RPC message at all. It is
// passed through: the MCP server answers it with a parse error and runs
// nothing.
var errNotJSONRPC = errors.New("not a JSON-RPC message")

// ParseOperations returns the guarded operations in a JSON-RPC body, a single
// message or a batch. To leave no room between what this check sees and what
// the MCP server executes, it refuses what encoding/json would read
// ambiguously: a member named twice, also in another letter case ("name" and
// "Name" decode into the same field), and a method or name that is not a
// string.
func ParseOperations(body []byte) ([]Operation, error) {
	b := bytes.TrimLeft(body, " \t\r\n")
	if len(b) == 0 {
		return nil, errNotJSONRPC
	}
	if b[0] == '[' {
		var msgs []json.RawMessage
		if err := json.Unmarshal(b, &msgs); err != nil {
			return nil, errNotJSONRPC
		}
		if len(msgs) > maxBatch {
			return nil, fmt.Errorf("a batch of %d messages; at most %d are accepted", len(msgs), maxBatch)
		}
		var ops []Operation
		for _, m := range msgs {
			op, ok, err := parseMessage(m)
			if err != nil {
				return nil, err
			}
			if ok {
				ops = append(ops, op)
			}
		}
		return ops, nil
	}
	op, ok, err := parseMessage(b)
	if err != nil || !ok {
		return nil, err
	}
	return []Operation{op}, nil
}

// parseMessage reads one JSON-RPC message. ok is false for a message that
// is not a guarded operation.
func parseMessage(b []byte) (op Operation, ok bool, err error) {
	members, err := objectMembers(b)
	if err != nil {
		return Operation{}, false, err
	}
	method, hasMethod := members["method"]
	if !hasMethod {
		return Operation{}, false, nil // a response or junk: nothing to run
	}
	if err := json.Unmarshal(method, &op.Method); err != nil {
		return Operation{}, false, errors.New("the JSON-RPC method is not a string")
	}
	param, guarded := guardedParam[op.Method]
	if !guarded {
		return op, false, nil
	}
	op.ID = members["id"]
	params, has := members["params"]
	if !has || bytes.Equal(bytes.TrimSpace(params), []byte("null")) {
		return op, true, nil // no target: the server refuses it; checked as the empty name
	}
	pm, err := objectMembers(params)
	if err != nil {
		return Operation{}, false, fmt.Errorf("%s params: %w", op.Method, err)
	}
	if v, has := pm[param]; has {
		if err := json.Unmarshal(v, &op.Name); err != nil {
			return Operation{}, false, fmt.Errorf("%s params.%s is not a string", op.Method, param)
		}
	}
	return op, true, nil
}

// objectMembers splits a JSON object into its members, keyed by lowercased
// name, refusing a name that appears twice in any letter case.
func objectMembers(b []byte) (map[string]json.RawMessage, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return nil, errNotJSONRPC
	}
	out := map[string]json.RawMessage{}
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return nil, errNotJSONRPC
		}
		name := foldKey(t.(string))
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, errNotJSONRPC
		}
		if _, dup := out[name]; dup {
			return nil, fmt.Errorf("the member %q appears more than once (names are compared ignoring case, as encoding/json does)", name)
		}
		out[name] = v
	}
	if _, err := dec.Token(); err != nil {
		return nil, errNotJSONRPC
	}
	return out, nil
}

// foldKey maps a member name to the lowercase form of the field name
// encoding/json would match it to, including its Unicode folds (the Kelvin
// sign for k, the long s for s).
func foldKey(s string) string {
	for _, known := range [...]string{"method", "params", "id", "name", "uri", "jsonrpc"} {
		if strings.EqualFold(s, known) {
			return known
		}
	}
	return s
}

// peekBody reads the whole body, up to limit bytes, and puts back an
// identical one. over reports a body longer than limit.
func peekBody(r *http.Request, limit int64) (body []byte, over bool, err error) {
	if r.Body == nil || r.Body == http.NoBody {
		return nil, false, nil
	}
	body, err = io.ReadAll(io.LimitReader(r.Body, limit+1))
	if int64(len(body)) > limit {
		return nil, true, nil
	}
	r.Body = readCloser{bytes.NewReader(body), r.Body}
	return body, false, err
}

// operations finds the guarded operations of r: from the body, and from the
// Mcp-Method and Mcp-Name headers of the 2026-07-28 transport, which must
// agree with the body when both are present.
func (a *Authenticator) operations(r *http.Request) ([]Operation, error) {
	hMethod, hName := r.Header.Get("Mcp-Method"), r.Header.Get("Mcp-Name")
	body, over, err := peekBody(r, a.maxBody)
	switch {
	case over:
		return nil, fail(ReasonRequestTooLarge, "the request body is larger than %d bytes", a.maxBody)
	case err != nil:
		return nil, fail(ReasonRequestInvalid, "the request body cannot be read")
	}
	ops, err := ParseOperations(body)
	if err != nil && !errors.Is(err, errNotJSONRPC) {
		return nil, fail(ReasonRequestInvalid, "%v", err)
	}
	if hMethod == "" {
		return ops, nil
	}
	if _, guarded := guardedParam[hMethod]; !guarded {
		for _, op := range ops {
			return nil, fail(ReasonRequestInvalid, "the Mcp-Method header says %q but the body calls %q", hMethod, op.Method)
		}
		return nil, nil
	}
	if len(ops) > 1 {
		return nil, fail(ReasonRequestInvalid, "Mcp-Method and Mcp-Name headers cannot describe a batch")
	}
	if len(ops) == 1 && (ops[0].Method != hMethod || ops[0].Name != hName) {
		return nil, fail(ReasonRequestInvalid, "the Mcp-Method/Mcp-Name headers (%q, %q) disagree with the body (%q, %q)", hMethod, hName, ops[0].Method, ops[0].Name)
	}
	if len(ops) == 0 {
		ops = []Operation{{Method: hMethod, Name: hName}}
	}
	return ops, nil
}
