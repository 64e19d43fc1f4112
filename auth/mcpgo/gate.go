package mcpgo

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"sync"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"
	"github.com/mcpauth/mcpauth/auth"
	"github.com/mcpauth/mcpauth/internal/kit"
	"github.com/mcpauth/mcpauth/internal/wire"
	"github.com/mcpauth/mcpauth/scopes"
)

// Option configures [ServerOptions].
type Option func(*options)

type options struct{ hide bool }

// HideUnauthorized makes tools/list and prompts/list show only what the
// caller's token can use. mcp-go applies the same filter to calls, so hidden
// items are also uncallable. By default everything is listed, so clients can
// discover what exists and step up. The filtered lists are marked
// cacheScope "private" with ttlMs 0 (SEP-2549): a list for one caller must
// not reach another through a shared cache. A WithMethodCacheHints for
// these methods given after ServerOptions must keep them private.
func HideUnauthorized() Option { return func(o *options) { o.hide = true } }

// ServerOptions returns the mcp-go server options that check every
// tools/call, prompts/get and resources/read where mcp-go dispatches it,
// whatever the transport (Streamable HTTP, SSE, stdio, in-process): a gate
// that runs before each request resolves the operation as mcp-go will (a
// session's own tools and resources, task tools, resource templates) and
// refuses it, naming what is missing, when the context's token lacks the
// scopes, when there is no token, or when the requirement cannot be read.
// The gate is an OnRequestInitialization hook: pass your own server.Hooks
// with server.WithHooks before these options, or add [Gate] to them.
func ServerOptions(a *auth.Authenticator, opts ...Option) []server.ServerOption {
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	out := []server.ServerOption{
		func(s *server.MCPServer) {
			h := s.GetHooks()
			if h == nil {
				h = &server.Hooks{}
				server.WithHooks(h)(s)
			}
			if !hasGate(s) {
				h.AddOnRequestInitialization(Gate(a))
			}
		},
	}
	if o.hide {
		// Lists filtered for the caller must not be served to another from
		// a shared cache (SEP-2549): private, revalidated on use.
		out = append(out,
			server.WithMethodCacheHints(mcp.MethodToolsList, 0, mcp.CacheScopePrivate),
			server.WithMethodCacheHints(mcp.MethodPromptsList, 0, mcp.CacheScopePrivate),
			server.WithToolFilter(func(ctx context.Context, tools []mcp.Tool) []mcp.Tool {
				return usable(ctx, a, tools, func(t mcp.Tool) *mcp.Meta { return t.Meta })
			}),
			server.WithPromptFilter(func(ctx context.Context, prompts []mcp.Prompt) []mcp.Prompt {
				return usable(ctx, a, prompts, func(p mcp.Prompt) *mcp.Meta { return p.Meta })
			}),
		)
	}
	return out
}

// Gate returns the hook [ServerOptions] installs: add it to your own
// server.Hooks with AddOnRequestInitialization when you configure hooks
// after ServerOptions.
//
//go:noinline
func Gate(a *auth.Authenticator) server.OnRequestInitializationFunc {
	var mu sync.Mutex
	kept := map[*server.MCPServer]*listings{} // the servers this gate guards: usually one
	listingsOf := func(s *server.MCPServer) *listings {
		mu.Lock()
		defer mu.Unlock()
		if kept[s] == nil {
			kept[s] = &listings{}
		}
		return kept[s]
	}
	return func(ctx context.Context, id any, message any) error {
		raw, ok := message.(json.RawMessage)
		if !ok {
			return errors.New("forbidden: the request cannot be read")
		}
		if checked := kit.Checked(ctx); checked != nil && bytes.Equal(checked, raw) {
			return nil // these bytes were decided for this request by Protect: the same parse, lookup and token
		}
		ops, err := wire.ParseOperations(raw)
		if err != nil {
			return fmt.Errorf("forbidden: %w", err)
		}
		s := server.ServerFromContext(ctx)
		for _, op := range ops {
			if s == nil {
				return errors.New("forbidden: no MCP server in the context")
			}
			req, found, err := resolve(ctx, s, listingsOf(s), op.Method, op.Name)
			if err != nil {
				return fmt.Errorf("forbidden: %s %q: %w", op.Method, op.Name, err)
			}
			if !found {
				continue // mcp-go answers "not found" and runs nothing
			}
			if msg := deniedReq(ctx, a, req); msg != "" {
				return &deniedError{msg}
			}
		}
		return nil
	}
}

// gatePC identifies the hook Gate returns (Gate is never inlined, so all
// its hooks share one code pointer).
var gatePC = reflect.ValueOf(Gate(nil)).Pointer()

// hasGate reports whether s runs the gate before requests.
func hasGate(s *server.MCPServer) bool {
	h := s.GetHooks()
	if h == nil {
		return false
	}
	for _, f := range h.OnRequestInitialization {
		if reflect.ValueOf(f).Pointer() == gatePC {
			return true
		}
	}
	return false
}

// usable keeps the items the context's token may use (all of them in the
// listings resolve makes).
func usable[T any](ctx context.Context, a *auth.Authenticator, items []T, meta func(T) *mcp.Meta) []T {
	if ctx.Value(internalKey{}) != nil {
		return items
	}
	var kept []T
	for _, it := range items {
		if denied(ctx, a, meta(it)) == "" {
			kept = append(kept, it)
		}
	}
	return kept
}

// denied returns why the context's token may not use an item annotated with
// meta, or "" when it may.
func denied(ctx context.Context, a *auth.Authenticator, meta *mcp.Meta) string {
	req, err := metaRequirement(meta)
	if err != nil {
		return "forbidden: " + err.Error()
	}
	return deniedReq(ctx, a, req)
}

// deniedReq returns why the context's token does not meet req, or "".
func deniedReq(ctx context.Context, a *auth.Authenticator, req scopes.Requirement) string {
	err := a.CheckScopes(auth.TokenFromContext(ctx), req)
	if err == nil {
		return ""
	}
	var e *auth.Error
	if errors.As(err, &e) {
		return "forbidden: " + e.Description + " (needs [" + req.String() + "])"
	}
	return "forbidden: " + err.Error()
}

type deniedError struct{ msg string }

func (e *deniedError) Error() string { return e.msg }
