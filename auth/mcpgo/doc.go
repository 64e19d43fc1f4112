// Package mcpgo connects [auth] to github.com/mark3labs/mcp-go: scope
// annotations on tools, prompts and resources, the HTTP-level check that
// answers a missing scope with a 403 step-up challenge before mcp-go sees the
// call, handler middlewares that re-check it for transports that bypass HTTP,
// and optional hiding of what a caller cannot use.
//
// For most uses, annotate tools and wrap the transport with [Protect]:
//
//	s := server.NewMCPServer("notes", "1.0.0", mcpgo.ServerOptions(a)...)
//	s.AddTool(mcp.NewTool("add_note", mcpgo.RequireScopes("notes:write")), addNote)
//	http.ListenAndServe(":8080", mcpgo.Protect(a, s, server.NewStreamableHTTPServer(s)))
//
// # The annotation
//
// A requirement is stored in the item's _meta under [MetaKey], so clients and
// UIs see it in tools/list before calling: a list of alternative paths, each
// a list of scopes that are all needed.
//
//	"_meta": {"io.mcpauth/requiredScopes": [["admin"], ["notes:read", "notes:write"]]}
//
// Resource templates can carry the annotation for clients to see, but mcp-go
// offers no way to list templates, so reads through a template are checked
// only by the server's baseline scopes.
package mcpgo
