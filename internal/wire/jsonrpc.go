package wire

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// JSON-RPC error codes of refusals.
const (
	// CodeForbidden is the JSON-RPC error code of a refused MCP operation:
	// the body of the 403, and the error of a check where an SDK dispatches.
	// It lies in the range JSON-RPC leaves to implementations (-32000 to
	// -32019), clear of the codes SDKs give meanings there (the TypeScript
	// SDK's connection closed -32000 and timeout -32001, resource not found
	// -32002, the go-sdk's client closing -32003 and server closing -32004,
	// which would make a go-sdk client drop the connection).
	CodeForbidden = -32010
	// CodeHeaderMismatch is the code of the body of a 400 for Mcp-Method or
	// Mcp-Name headers that disagree with the body or cannot be decoded
	// (HeaderMismatch in the 2026-07-28 Streamable HTTP transport).
	CodeHeaderMismatch = -32020
)

// Guarded reports whether method is an operation a requirement guards:
// tools/call, prompts/get or resources/read.
func Guarded(method string) bool {
	_, ok := guardedParam[method]
	return ok
}

func truncate(s string) string {
	if len(s) > 200 {
		return s[:200] + "..."
	}
	return s
}

// Operation is one guarded MCP operation a request asks for: tools/call and
// prompts/get with the tool or prompt name, resources/read with the URI.
type Operation struct {
	Method string          // "tools/call", "prompts/get" or "resources/read"
	Name   string          // the tool or prompt name, or the resource URI
	ID     json.RawMessage // the JSON-RPC id, nil for a notification or a header-only operation
}

// guardedParam maps each guarded method to the params member naming its target.
var guardedParam = map[string]int{
	"tools/call":     slotName,
	"prompts/get":    slotName,
	"resources/read": slotURI,
}

// MethodCancelled is the notification that cancels an in-flight request.
const MethodCancelled = "notifications/cancelled"

// maxBatch bounds the messages of one JSON-RPC batch that are inspected; a
// longer batch is refused.
const maxBatch = 64

// ErrNotJSONRPC marks a body that is not a JSON-RPC message at all. It is
// passed through: the MCP server answers it with a parse error and runs
// nothing.
var ErrNotJSONRPC = errors.New("not a JSON-RPC message")

// Message is what the check reads of one JSON-RPC request or notification.
type Message struct {
	Operation
	Guarded   bool            // a tools/call, prompts/get or resources/read
	Cancelled json.RawMessage // params.requestId of a notifications/cancelled
}

// ParseOperations returns the guarded operations in a JSON-RPC body, a single
// message or a batch. To leave no room between what this check sees and what
// the MCP server executes, it refuses what encoding/json would read
// ambiguously: a member named twice, also in another letter case ("name" and
// "Name" decode into the same field), and a method or name that is not a
// string. Its cost is linear in the size of body.
func ParseOperations(body []byte) ([]Operation, error) {
	msgs, err := ParseMessages(body)
	if err != nil {
		return nil, err
	}
	var ops []Operation
	for _, m := range msgs {
		if m.Guarded {
			ops = append(ops, m.Operation)
		}
	}
	return ops, nil
}

// ParseMessages reads every JSON-RPC message in body: every top-level JSON
// value, as a decoder reading a stream would see them (mcp-go's SSE
// transport decodes the first value and ignores what follows, so trailing
// data must not hide a call), and every element of a batch. Values that are
// not messages (a number, a string) are skipped; nothing runs them.
func ParseMessages(body []byte) ([]Message, error) {
	var (
		out []Message
		n   int
		err error
	)
	add := func(v []byte) bool {
		if n++; n > maxBatch {
			err = fmt.Errorf("more than %d messages in one request", maxBatch)
			return false
		}
		m, perr := parseMessage(v)
		switch {
		case errors.Is(perr, ErrNotJSONRPC):
		case perr != nil:
			err = perr
			return false
		default:
			out = append(out, m)
		}
		return true
	}
	for i := skipWS(body, 0); i < len(body); i = skipWS(body, i) {
		end := -1
		switch body[i] {
		case '[':
			end = walkArray(body, i, add)
		case '{':
			if end = scanValue(body, i); end > 0 && !add(body[i:end]) {
				end = -1
			}
		default:
			end = scanValue(body, i)
		}
		if err != nil {
			return nil, err
		}
		if end < 0 {
			break // where a decoder stops too
		}
		i = end
	}
	if n == 0 {
		return nil, ErrNotJSONRPC
	}
	return out, nil
}

// parseMessage reads one JSON-RPC message, an object; ErrNotJSONRPC means it
// is not a request or notification (a response, junk) and runs nothing.
func parseMessage(b []byte) (m Message, err error) {
	ms, err := readMembers(b)
	if err != nil {
		return m, err
	}
	method, has := ms.get(slotMethod)
	if !has {
		return m, ErrNotJSONRPC // a response or junk: nothing to run
	}
	if m.Method, err = DecodeString(method); err != nil {
		return Message{}, errors.New("the JSON-RPC method is not a string")
	}
	m.ID, _ = ms.get(slotID)
	params, hasParams := ms.get(slotParams)
	hasParams = hasParams && !bytes.Equal(bytes.TrimSpace(params), []byte("null"))
	if slot, guarded := guardedParam[m.Method]; guarded {
		m.Guarded = true
		if !hasParams {
			return m, nil // no target: the server refuses it; checked as the empty name
		}
		pm, err := readMembers(params)
		if err != nil {
			return Message{}, fmt.Errorf("%s params: %w", m.Method, err)
		}
		if v, has := pm.get(slot); has {
			if m.Name, err = DecodeString(v); err != nil {
				return Message{}, fmt.Errorf("%s params.%s is not a string", m.Method, slotNames[slot])
			}
		}
		return m, nil
	}
	if m.Method == MethodCancelled && hasParams {
		if pm, err := readMembers(params); err == nil {
			m.Cancelled, _ = pm.get(slotRequestID)
		}
	}
	return m, nil
}

// The members the check reads. The first five are matched as encoding/json
// matches struct fields, ignoring case (with Unicode folds: the long s is an
// s); requestId exactly, as mcp-go reads it from a map.
const (
	slotMethod = iota
	slotParams
	slotID
	slotName
	slotURI
	slotRequestID
	nSlots
)

var slotNames = [nSlots]string{"method", "params", "id", "name", "uri", "requestId"}

var foldedNames = func() (b [slotRequestID][]byte) {
	for i := range b {
		b[i] = []byte(slotNames[i])
	}
	return b
}()

// members are the values of the members the check reads, of one object.
type members struct {
	v   [nSlots]json.RawMessage
	set uint8
}

func (ms *members) get(slot int) (json.RawMessage, bool) {
	return ms.v[slot], ms.set&(1<<slot) != 0
}

// readMembers reads the members the check needs from the JSON object b,
// refusing one named twice (in any letter case for the folded names).
// Other members are skipped unread, so the cost is linear in len(b) whatever
// their number. A b that is not a well-formed object is ErrNotJSONRPC.
func readMembers(b []byte) (ms members, err error) {
	ok := isObject(b, func(name []byte, plain bool, value []byte) bool {
		slot := slotOf(name, plain)
		if slot < 0 {
			return true
		}
		if ms.set&(1<<slot) != 0 {
			err = fmt.Errorf("the member %q appears more than once (names are compared ignoring case, as encoding/json does)", slotNames[slot])
			return false
		}
		ms.set |= 1 << slot
		ms.v[slot] = value
		return true
	})
	if err != nil {
		return members{}, err
	}
	if !ok {
		return members{}, ErrNotJSONRPC
	}
	return ms, nil
}

// maxEscapedName bounds the raw length of an escaped or non-ASCII member
// name that can still decode to one of slotNames: each of their at most 9
// characters takes at most 6 bytes escaped (\uXXXX).
const maxEscapedName = 64

// slotOf returns the slot of a member name (raw, between its quotes), or -1.
func slotOf(name []byte, plain bool) int {
	if !plain {
		// Only an ASCII letter folds to the first letter of a slot name (m,
		// p, i, n, u, r: none has a non-ASCII fold), so a name that starts
		// with another byte and no escape is no slot name; this keeps names
		// of non-ASCII text from costing a decode each.
		if c := name[0] | 0x20; name[0] != '\\' && c != 'm' && c != 'p' && c != 'i' && c != 'n' && c != 'u' && c != 'r' || len(name) > maxEscapedName {
			return -1
		}
		var buf [4 * maxEscapedName]byte
		d, ok := appendUnquoted(buf[:0], name)
		if !ok {
			return -1 // invalid JSON: nothing decodes it
		}
		name = d
	}
	if string(name) == slotNames[slotRequestID] {
		return slotRequestID
	}
	for i, k := range foldedNames {
		// A plain name folds only to a name of its length; an escaped one may
		// be longer (the Kelvin sign takes three bytes for a k).
		if (len(name) == len(k) || !plain && len(name) > len(k)) && bytes.EqualFold(name, k) {
			return i
		}
	}
	return -1
}

// The sentinel around a header value in base64, for values outside the
// header-safe characters (the 2026-07-28 Streamable HTTP transport).
const (
	base64HeaderPrefix = "=?base64?"
	base64HeaderSuffix = "?="
)

// DecodeHeaderValue decodes an Mcp-Name value: plain, or standard base64
// (with padding) between =?base64? and ?=.
func DecodeHeaderValue(v string) (string, error) {
	rest, ok := strings.CutPrefix(v, base64HeaderPrefix)
	if !ok {
		return v, nil
	}
	enc, ok := strings.CutSuffix(rest, base64HeaderSuffix)
	if !ok {
		return v, nil
	}
	b, err := base64.StdEncoding.DecodeString(enc) // as mcp-go decodes it
	if err != nil {
		return "", fmt.Errorf("%q is not valid base64 between %s and %s", truncate(enc), base64HeaderPrefix, base64HeaderSuffix)
	}
	return string(b), nil
}
