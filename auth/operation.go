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
	// The common case: one object and nothing else.
	if ms, err, ok := scanMembers(body); ok {
		if err != nil {
			return nil, err
		}
		op, guarded, err := messageOp(ms)
		if err != nil || !guarded {
			return nil, err
		}
		return []Operation{op}, nil
	}
	// Otherwise every top-level JSON value in the body, as a decoder reading
	// a stream would see them: mcp-go's SSE transport decodes the first value
	// and ignores what follows, so trailing data must not hide a call.
	dec := json.NewDecoder(bytes.NewReader(body))
	var ops []Operation
	n := 0
	for {
		var v json.RawMessage
		if dec.Decode(&v) != nil {
			break
		}
		msgs := []json.RawMessage{v}
		if bytes.TrimLeft(v, " \t\r\n")[0] == '[' {
			if json.Unmarshal(v, &msgs) != nil {
				break
			}
		}
		if n += len(msgs); n > maxBatch {
			return nil, fmt.Errorf("%d messages in one request; at most %d are accepted", n, maxBatch)
		}
		for _, m := range msgs {
			op, guarded, err := parseMessage(m)
			switch {
			case errors.Is(err, errNotJSONRPC):
				// Not a message (a number, a string...): nothing runs it. The
				// messages around it are still checked.
			case err != nil:
				return nil, err
			case guarded:
				ops = append(ops, op)
			}
		}
	}
	if n == 0 {
		return nil, errNotJSONRPC
	}
	return ops, nil
}

// parseMessage reads one JSON-RPC message. ok is false for a message that
// is not a guarded operation.
func parseMessage(b []byte) (Operation, bool, error) {
	ms, err := objectMembers(b)
	if err != nil {
		return Operation{}, false, err
	}
	return messageOp(ms)
}

// messageOp reads the guarded operation of one message's members.
func messageOp(ms members) (op Operation, ok bool, err error) {
	method, hasMethod := ms.get("method")
	if !hasMethod {
		return Operation{}, false, nil // a response or junk: nothing to run
	}
	if op.Method, err = decodeString(method); err != nil {
		return Operation{}, false, errors.New("the JSON-RPC method is not a string")
	}
	param, guarded := guardedParam[op.Method]
	if !guarded {
		return op, false, nil
	}
	op.ID, _ = ms.get("id")
	params, has := ms.get("params")
	if !has || bytes.Equal(bytes.TrimSpace(params), []byte("null")) {
		return op, true, nil // no target: the server refuses it; checked as the empty name
	}
	pm, err := objectMembers(params)
	if err != nil {
		return Operation{}, false, fmt.Errorf("%s params: %w", op.Method, err)
	}
	if v, has := pm.get(param); has {
		if op.Name, err = decodeString(v); err != nil {
			return Operation{}, false, fmt.Errorf("%s params.%s is not a string", op.Method, param)
		}
	}
	return op, true, nil
}

// member is one name/value pair of a JSON object, the name folded.
type member struct {
	name  string
	value json.RawMessage
}

// members is a small JSON object: a handful of members, looked up linearly.
type members []member

func (ms members) get(name string) (json.RawMessage, bool) {
	for _, m := range ms {
		if m.name == name {
			return m.value, true
		}
	}
	return nil, false
}

// objectMembers splits a JSON object into its members, keyed by their
// folded name (see foldKey), refusing a name that appears twice in any
// letter case. A fast scanner handles the common case; anything it does not
// understand goes to encoding/json's own tokenizer, so the answer never
// depends on the scanner.
func objectMembers(b []byte) (members, error) {
	if m, err, ok := scanMembers(b); ok {
		return m, err
	}
	return decodeMembers(b)
}

// decodeMembers is objectMembers with encoding/json's tokenizer.
func decodeMembers(b []byte) (members, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return nil, errNotJSONRPC
	}
	var out members
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return nil, errNotJSONRPC
		}
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, errNotJSONRPC
		}
		if out, err = addMember(out, t.(string), v); err != nil {
			return nil, err
		}
	}
	if _, err := dec.Token(); err != nil {
		return nil, errNotJSONRPC
	}
	return out, nil
}

func addMember(out members, name string, v json.RawMessage) (members, error) {
	name = foldKey(name)
	if _, dup := out.get(name); dup {
		return nil, fmt.Errorf("the member %q appears more than once (names are compared ignoring case, as encoding/json does)", name)
	}
	return append(out, member{name, v}), nil
}

// scanMembers is the fast path of objectMembers for a well-formed object
// whose names are plain ASCII without escapes (escapes and non-ASCII names,
// with their Unicode folds and invalid UTF-8, take the slow path). It checks
// structure only: values are decoded later by encoding/json, which rejects
// what this scan let through.
func scanMembers(b []byte) (out members, err error, ok bool) {
	out = make(members, 0, 6)
	ok = walkObject(b, func(name, value []byte) bool {
		out, err = addMember(out, knownKey(name), value)
		return err == nil
	})
	if err != nil {
		return nil, err, true
	}
	if !ok {
		return nil, nil, false
	}
	return out, nil, true
}

// knownKeys are the member names the check reads, and common others whose
// names need no allocation.
var knownKeys = [...]string{"method", "params", "id", "name", "uri", "jsonrpc", "arguments", "_meta"}

// knownKey returns the folded name of an ASCII member name, without
// allocating for the known ones.
func knownKey(b []byte) string {
	for _, k := range knownKeys {
		if len(b) == len(k) && asciiEqualFold(b, k) {
			return k
		}
	}
	return string(b)
}

func asciiEqualFold(b []byte, k string) bool {
	for i := range b {
		c := b[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != k[i] {
			return false
		}
	}
	return true
}

// foldKey maps a member name to the lowercase form of the field name
// encoding/json would match it to, including its Unicode folds (the Kelvin
// sign for k, the long s for s).
func foldKey(s string) string {
	for _, known := range knownKeys {
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
	hint := 512
	if r.ContentLength > 0 && r.ContentLength <= limit {
		hint = int(r.ContentLength) + 1 // +1 so the read that sees EOF needs no growth
	}
	body = make([]byte, 0, hint)
	lr := io.LimitReader(r.Body, limit+1)
	for {
		if len(body) == cap(body) {
			body = append(body, 0)[:len(body)]
		}
		n, rerr := lr.Read(body[len(body):cap(body)])
		body = body[:len(body)+n]
		if rerr != nil {
			if rerr != io.EOF {
				err = rerr
			}
			break
		}
	}
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
