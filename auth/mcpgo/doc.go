// Package mcpgo connects [auth] to github.com/mark3labs/mcp-go: scope
// annotations on tools, prompts and resources, the HTTP-level check that
// answers a missing scope with a 403 step-up challenge before mcp-go sees the
// call, a dispatch gate that checks it again where mcp-go dispatches (every
// transport, every registry: session tools and resources, task tools,
// resource templates), and optional hiding of what a caller cannot use.
//
// For most uses, annotate tools and wrap the transport with [Protect]:
//
//	s := server.NewMCPServer("notes", "1.0.0", mcpgo.ServerOptions(a)...)
//	s.AddTool(mcp.NewTool("add_note", mcpgo.RequireScopes("notes:write")), addNote)
//	http.ListenAndServe(":8080", mcpgo.Protect(a, s, server.NewStreamableHTTPServer(s, mcpgo.TransportOptions(a)...)))
//
// # The annotation
//
// A requirement is stored in the item's _meta under "io.mcpauth/requiredScopes", so clients and
// UIs see it in tools/list before calling: a list of alternative paths, each
// a list of scopes that are all needed.
//
//	"_meta": {"io.mcpauth/requiredScopes": [["admin"], ["notes:read", "notes:write"]]}
//
// Resource templates carry it too ([RequireTemplateScopes]); a read that
// matches several templates needs what all of them require. An annotation
// that is present but cannot be read makes the item unusable
// ([auth.ReasonRequirementUnknown]), never free.
package mcpgo
