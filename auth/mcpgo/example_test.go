package mcpgo_test

import (
	"encoding/json"
	"fmt"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/mcpauth/mcpauth/auth/mcpgo"
	"github.com/mcpauth/mcpauth/scopes"
)

func ExampleRequireScopes() {
	tool := mcp.NewTool("add_note", mcpgo.RequireScopes("notes:write"))
	meta, _ := json.Marshal(tool.Meta)
	fmt.Println(string(meta))
	// Output: {"io.mcpauth/requiredScopes":[["notes:write"]]}
}

func ExampleRequire() {
	tool := mcp.NewTool("purge", mcpgo.Require(scopes.AnyOf(scopes.All("admin"), scopes.All("notes:read", "notes:write"))))
	req, _ := mcpgo.RequirementOf(tool.Meta)
	fmt.Println(req)
	// Output: admin | notes:read notes:write
}
