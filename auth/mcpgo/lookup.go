package mcpgo

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"time"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"
	"github.com/mcpauth/mcpauth/internal/kit"
	"github.com/mcpauth/mcpauth/scopes"
)

// Lookup returns the requirement of each tools/call, prompts/get and
// resources/read from s's registries, for the HTTP-level check (which turns
// a missing scope into a 403 that clients step up on): tools (also those
// added with AddTaskTool), prompts, resources and resource templates. Items
// that live in one session only (AddSessionTool, AddSessionResource,
// AddSessionResourceTemplate) are not visible without the session; they are
// reported unknown and left to the dispatch gate of [ServerOptions], which
// sees the session. When s has no gate, unknown names are refused, because
// their requirement cannot be determined. An item whose annotation cannot be
// read is refused too.
//
// Resolution costs O(1) per operation whatever the number of tools: tools,
// prompts and resources are map lookups; task tools and resource
// templates, which mcp-go has no accessor for, come from a listing kept for
// a second (see [listings]), so a batch of unknown names costs no more than
// a benign one.
func Lookup(s *server.MCPServer) func(method, name string) (req scopes.Requirement, known bool) {
	gated := hasGate(s)
	l := &listings{}
	return func(method, name string) (scopes.Requirement, bool) {
		req, found, err := resolve(internalCtx, s, l, method, name)
		switch {
		case errors.Is(err, errStale) && gated:
			return scopes.Requirement{}, false // the gate decides, failing closed
		case err != nil:
			return kit.Undetermined(), true
		case found:
			return req, true
		case gated:
			return scopes.Requirement{}, false // the gate decides, with the session in view
		}
		return kit.Undetermined(), true
	}
}

// internalKey marks the context of the listings resolve makes, so that the
// HideUnauthorized filters pass everything through.
type internalKey struct{}

var internalCtx = context.WithValue(context.Background(), internalKey{}, true)

// resolve finds the requirement of method/name the way mcp-go dispatches it
// in ctx: a session's own tools and resources before the server's, task
// tools after regular ones, resource templates after resources (when several
// templates match a URI, all their requirements apply). found is false when
// mcp-go has nothing to dispatch to.
func resolve(ctx context.Context, s *server.MCPServer, l *listings, method, name string) (req scopes.Requirement, found bool, err error) {
	session := server.ClientSessionFromContext(ctx)
	switch method {
	case "tools/call":
		if st, ok := session.(server.SessionWithTools); ok {
			if t, ok := st.GetSessionTools()[name]; ok {
				req, err = metaRequirement(t.Tool.Meta)
				return req, true, err
			}
		}
		if t := s.GetTool(name); t != nil {
			req, err = metaRequirement(t.Tool.Meta)
			return req, true, err
		}
		// Task tools (AddTaskTool) have no accessor: find them in a listing.
		meta, found, err := l.tool(s, name)
		if err != nil || !found {
			return req, false, err
		}
		req, err = metaRequirement(meta)
		return req, true, err
	case "prompts/get":
		if p, ok := s.ListPrompts()[name]; ok {
			req, err = metaRequirement(p.Prompt.Meta)
			return req, true, err
		}
	case "resources/read":
		if sr, ok := session.(server.SessionWithResources); ok {
			if r, ok := sr.GetSessionResources()[name]; ok {
				req, err = metaRequirement(r.Resource.Meta)
				return req, true, err
			}
		}
		if r, ok := s.ListResources()[name]; ok {
			req, err = metaRequirement(r.Resource.Meta)
			return req, true, err
		}
		// Templates: a session's first, as mcp-go matches them.
		if stt, ok := session.(server.SessionWithResourceTemplates); ok {
			var ts []mcp.ResourceTemplate
			for _, t := range stt.GetSessionResourceTemplates() {
				ts = append(ts, t.Template)
			}
			if req, found, err = matchTemplates(ts, name); found || err != nil {
				return req, found, err
			}
		}
		ts, fresh, err := l.templates(s)
		if err != nil {
			return req, false, err
		}
		if req, found, err = matchTemplates(ts, name); !found && err == nil && !fresh {
			err = errStale
		}
		return req, found, err
	}
	return req, false, nil
}

// matchTemplates combines the requirements of every template matching uri.
func matchTemplates(ts []mcp.ResourceTemplate, uri string) (req scopes.Requirement, found bool, err error) {
	for _, t := range ts {
		if t.URITemplate == nil || t.URITemplate.Template == nil || !t.URITemplate.Regexp().MatchString(uri) {
			continue
		}
		r, err := metaRequirement(t.Meta)
		if err != nil {
			return req, true, err
		}
		req, found = req.And(r), true
	}
	return req, found, nil
}

// maxListPages bounds the pages an internal listing follows.
const maxListPages = 1000

// listTools lists the tools mcp-go would dispatch to in ctx, task tools
// included, through its own tools/list (filters apply, pages are followed).
func listTools(ctx context.Context, s *server.MCPServer) ([]mcp.Tool, error) {
	return list(ctx, s, "tools/list", func(r mcp.ListToolsResult) ([]mcp.Tool, mcp.Cursor) { return r.Tools, r.NextCursor })
}

// listTemplates lists the server's resource templates, as listTools does.
func listTemplates(ctx context.Context, s *server.MCPServer) ([]mcp.ResourceTemplate, error) {
	return list(ctx, s, "resources/templates/list", func(r mcp.ListResourceTemplatesResult) ([]mcp.ResourceTemplate, mcp.Cursor) {
		return r.ResourceTemplates, r.NextCursor
	})
}

var errListing = errors.New("the server's listing cannot be read")

// errStale is a name the listings do not know while they are too recent
// to be listed again: whether mcp-go would dispatch it is not known now,
// so the gate refuses it (fail closed) and the HTTP check leaves it to the
// gate, or refuses it on a server without one.
var errStale = errors.New("the requirement cannot be determined now (the server's listing was just read); retry")

// listingTTL is how long a listing answers for the server: at most one
// listing per second, whatever arrives.
const listingTTL = time.Second

// listings keeps the server-wide tools (task tools included) and resource
// templates of one MCP server, as its own listings show them, for
// listingTTL: what mcp-go has no accessor for costs one listing a second,
// not one per operation. A name the kept listing does not know is looked
// for in a new listing once the kept one is older than listingTTL; before
// that it is [errStale]. So a task tool or template added or replaced in
// the last second may be refused once, never allowed on a stale
// requirement for longer than listingTTL.
type listings struct {
	mu      sync.Mutex
	tools   map[string]*mcp.Meta
	toolsAt time.Time
	tmpl    []mcp.ResourceTemplate
	tmplAt  time.Time
}

// tool returns the meta of the server-wide tool name.
func (l *listings) tool(s *server.MCPServer, name string) (*mcp.Meta, bool, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	old := time.Now().Sub(l.toolsAt) >= listingTTL
	if old {
		tools, err := listTools(internalCtx, s)
		if err != nil {
			return nil, false, err
		}
		l.tools, l.toolsAt = make(map[string]*mcp.Meta, len(tools)), time.Now()
		for _, t := range tools {
			l.tools[t.Name] = t.Meta
		}
	}
	meta, found := l.tools[name]
	if !found && !old {
		return nil, false, errStale
	}
	return meta, found, nil
}

// templates returns the server-wide resource templates, and whether they
// were listed just now.
func (l *listings) templates(s *server.MCPServer) ([]mcp.ResourceTemplate, bool, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if time.Now().Sub(l.tmplAt) < listingTTL {
		return l.tmpl, false, nil
	}
	ts, err := listTemplates(internalCtx, s)
	if err != nil {
		return nil, false, err
	}
	l.tmpl, l.tmplAt = ts, time.Now()
	return ts, true, nil
}

// list runs a paginated list method of s in-process and collects the items
// page reads from each result (R, which mcp-go returns as a value or a
// pointer).
func list[R, T any](ctx context.Context, s *server.MCPServer, method string, page func(R) ([]T, mcp.Cursor)) ([]T, error) {
	ctx = context.WithValue(ctx, internalKey{}, true)
	var (
		out    []T
		cursor mcp.Cursor
	)
	for range maxListPages {
		params := map[string]any{}
		if cursor != "" {
			params["cursor"] = cursor
		}
		msg, _ := json.Marshal(map[string]any{"jsonrpc": "2.0", "id": 0, "method": method, "params": params})
		answer := s.HandleMessage(ctx, msg)
		if e, isErr := answer.(mcp.JSONRPCError); isErr && e.Error.Code == mcp.METHOD_NOT_FOUND {
			return nil, nil // a server without the capability lists nothing
		}
		resp, ok := answer.(mcp.JSONRPCResponse)
		if !ok {
			return nil, errListing
		}
		r, ok := resp.Result.(R)
		if p, isPtr := resp.Result.(*R); isPtr && p != nil {
			r, ok = *p, true
		}
		if !ok {
			return nil, errListing
		}
		items, next := page(r)
		out = append(out, items...)
		if next == "" {
			return out, nil
		}
		cursor = next
	}
	return nil, errListing
}
