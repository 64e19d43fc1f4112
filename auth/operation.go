package auth

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/mcpauth/mcpauth/internal/capped"
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

// undeterminedScope is the one scope of [Undetermined]: with a space in it,
// no token can carry it.
const undeterminedScope = "(requirement undetermined)"

// Undetermined returns the requirement a [RequirementLookup] reports, with
// known true, for an operation whose requirement cannot be determined (an
// annotation that cannot be read, an item only the MCP server's own dispatch
// can see when it runs no check of its own). Such an operation is refused
// with [ReasonRequirementUnknown], never allowed.
func Undetermined() scopes.Requirement { return scopes.All(undeterminedScope) }

func isUndetermined(req scopes.Requirement) bool {
	for _, p := range req.Paths() {
		if p.Contains(undeterminedScope) {
			return true
		}
	}
	return false
}

// RequirementFunc adapts a function to [RequirementLookup].
type RequirementFunc func(method, name string) (scopes.Requirement, bool)

// Requirement calls f.
func (f RequirementFunc) Requirement(method, name string) (scopes.Requirement, bool) {
	return f(method, name)
}

// guardedParam maps each guarded method to the params member naming its target.
var guardedParam = map[string]int{
	"tools/call":     slotName,
	"prompts/get":    slotName,
	"resources/read": slotURI,
}

// methodCancelled is the notification that cancels an in-flight request.
const methodCancelled = "notifications/cancelled"

// maxBatch bounds the messages of one JSON-RPC batch that are inspected; a
// longer batch is refused.
const maxBatch = 64

// errNotJSONRPC marks a body that is not a JSON-RPC message at all. It is
// passed through: the MCP server answers it with a parse error and runs
// nothing.
var errNotJSONRPC = errors.New("not a JSON-RPC message")

// message is what the check reads of one JSON-RPC request or notification.
type message struct {
	Operation
	guarded   bool            // a tools/call, prompts/get or resources/read
	cancelled json.RawMessage // params.requestId of a notifications/cancelled
}

// ParseOperations returns the guarded operations in a JSON-RPC body, a single
// message or a batch. To leave no room between what this check sees and what
// the MCP server executes, it refuses what encoding/json would read
// ambiguously: a member named twice, also in another letter case ("name" and
// "Name" decode into the same field), and a method or name that is not a
// string. Its cost is linear in the size of body.
func ParseOperations(body []byte) ([]Operation, error) {
	msgs, err := parseMessages(body)
	if err != nil {
		return nil, err
	}
	var ops []Operation
	for _, m := range msgs {
		if m.guarded {
			ops = append(ops, m.Operation)
		}
	}
	return ops, nil
}

// parseMessages reads every JSON-RPC message in body: every top-level JSON
// value, as a decoder reading a stream would see them (mcp-go's SSE
// transport decodes the first value and ignores what follows, so trailing
// data must not hide a call), and every element of a batch. Values that are
// not messages (a number, a string) are skipped; nothing runs them.
func parseMessages(body []byte) ([]message, error) {
	var (
		out []message
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
		case errors.Is(perr, errNotJSONRPC):
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
		return nil, errNotJSONRPC
	}
	return out, nil
}

// parseMessage reads one JSON-RPC message, an object; errNotJSONRPC means it
// is not a request or notification (a response, junk) and runs nothing.
func parseMessage(b []byte) (m message, err error) {
	ms, err := readMembers(b)
	if err != nil {
		return m, err
	}
	method, has := ms.get(slotMethod)
	if !has {
		return m, errNotJSONRPC // a response or junk: nothing to run
	}
	if m.Method, err = decodeString(method); err != nil {
		return message{}, errors.New("the JSON-RPC method is not a string")
	}
	m.ID, _ = ms.get(slotID)
	params, hasParams := ms.get(slotParams)
	hasParams = hasParams && !bytes.Equal(bytes.TrimSpace(params), []byte("null"))
	if slot, guarded := guardedParam[m.Method]; guarded {
		m.guarded = true
		if !hasParams {
			return m, nil // no target: the server refuses it; checked as the empty name
		}
		pm, err := readMembers(params)
		if err != nil {
			return message{}, fmt.Errorf("%s params: %w", m.Method, err)
		}
		if v, has := pm.get(slot); has {
			if m.Name, err = decodeString(v); err != nil {
				return message{}, fmt.Errorf("%s params.%s is not a string", m.Method, slotNames[slot])
			}
		}
		return m, nil
	}
	if m.Method == methodCancelled && hasParams {
		if pm, err := readMembers(params); err == nil {
			m.cancelled, _ = pm.get(slotRequestID)
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
// their number. A b that is not a well-formed object is errNotJSONRPC.
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
		return members{}, errNotJSONRPC
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
func (a *Authenticator) operations(r *http.Request) ([]message, error) {
	hMethod, hName := r.Header.Get("Mcp-Method"), r.Header.Get("Mcp-Name")
	body, over, err := peekBody(r, a.maxBody)
	switch {
	case over:
		return nil, fail(ReasonRequestTooLarge, "the request body is larger than %d bytes", a.maxBody)
	case err != nil:
		return nil, fail(ReasonRequestInvalid, "the request body cannot be read")
	case deeperThan(body, a.maxDepth):
		return nil, fail(ReasonRequestInvalid, "the request body nests JSON arrays and objects deeper than %d levels (Config.MaxJSONDepth)", a.maxDepth)
	}
	msgs, err := parseMessages(body)
	if err != nil && !errors.Is(err, errNotJSONRPC) {
		return nil, fail(ReasonRequestInvalid, "%v", err)
	}
	if hMethod == "" {
		return msgs, nil
	}
	name, err := decodeHeaderValue(hName)
	if err != nil {
		return msgs, fail(ReasonHeaderMismatch, "the Mcp-Name header: %v", err)
	}
	_, guarded := guardedParam[hMethod]
	if len(msgs) > 1 {
		return msgs, fail(ReasonHeaderMismatch, "Mcp-Method and Mcp-Name headers cannot describe a batch")
	}
	if len(msgs) == 1 {
		m := msgs[0]
		if m.Method != hMethod || guarded && m.Name != name {
			return msgs, fail(ReasonHeaderMismatch, "the Mcp-Method/Mcp-Name headers (%q, %q) disagree with the body (%q, %q)", hMethod, trunc(name), m.Method, trunc(m.Name))
		}
		return msgs, nil
	}
	if !guarded {
		return nil, nil
	}
	return []message{{Operation: Operation{Method: hMethod, Name: name}, guarded: true}}, nil
}

// The sentinel around a header value in base64, for values outside the
// header-safe characters (the 2026-07-28 Streamable HTTP transport).
const (
	base64HeaderPrefix = "=?base64?"
	base64HeaderSuffix = "?="
)

// decodeHeaderValue decodes an Mcp-Name value: plain, or standard base64
// (with padding) between =?base64? and ?=.
func decodeHeaderValue(v string) (string, error) {
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
		return "", fmt.Errorf("%q is not valid base64 between %s and %s", trunc(enc), base64HeaderPrefix, base64HeaderSuffix)
	}
	return string(b), nil
}
