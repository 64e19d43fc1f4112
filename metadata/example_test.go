package metadata_test

import (
	"fmt"

	"github.com/mcpauth/mcpauth/metadata"
)

func ExampleWellKnownURLs() {
	path, root, _ := metadata.WellKnownURLs("https://mcp.example.com/public/mcp")
	fmt.Println(path)
	fmt.Println(root)
	// Output:
	// https://mcp.example.com/.well-known/oauth-protected-resource/public/mcp
	// https://mcp.example.com/.well-known/oauth-protected-resource
}

func ExampleDiscoveryURLs() {
	urls, _ := metadata.DiscoveryURLs("https://auth.example.com/tenant1")
	for _, u := range urls {
		fmt.Println(u)
	}
	// Output:
	// https://auth.example.com/.well-known/oauth-authorization-server/tenant1
	// https://auth.example.com/.well-known/openid-configuration/tenant1
	// https://auth.example.com/tenant1/.well-known/openid-configuration
}

func ExampleCanonicalResource() {
	r, _ := metadata.CanonicalResource("HTTPS://MCP.Example.com/mcp/", false)
	fmt.Println(r)
	_, err := metadata.CanonicalResource("http://mcp.internal/mcp", false)
	fmt.Println(err)
	// Output:
	// https://mcp.example.com/mcp
	// metadata: invalid resource identifier: "http://mcp.internal/mcp" uses http on a non-loopback host; use https
}
