package main

import (
	"context"
	"io"
	"testing"

	"github.com/mcpauth/mcpauth/internal/exampletest"
)

// example runs this example for the suite, its embedded provider on a free port.
var example = exampletest.Example(func(ctx context.Context, o exampletest.Options, out io.Writer, ready func(mcpURL, issuer string)) error {
	return run(ctx, config{addr: o.Addr, clientID: o.ClientID, secret: o.Secret, autoApprove: o.AutoApprove, allowLoopbackCIMD: o.AllowLoopbackCIMD,
		cimdTLS: o.CIMDTLS, logger: o.Logger, upstreamAddr: "127.0.0.1:0", upstreamID: "proxy-upstream-client", upstreamSecret: "proxy-upstream-secret"}, out, ready)
})

// The suite's clients through the proxy: the go-sdk client with the static
// client, DCR and CIMD, each stepping up; the mcp-go client.
func TestGoSDKClient(t *testing.T) { exampletest.GoSDKClient(t, example) }

// The doctor names a mistyped URL, and the proxy's consent page that stops
// a flow.
func TestDoctorNewUser(t *testing.T) {
	exampletest.DoctorNewUser(t, example, "Allow mcpauth quickstart client")
}

// The same with the consent pages on: the user approves each.
func TestGoSDKClientWithConsent(t *testing.T) { exampletest.GoSDKClientWithConsent(t, example) }
func TestMCPGoClient(t *testing.T)            { exampletest.MCPGoClient(t, example) }
func TestDoctor(t *testing.T)                 { exampletest.Doctor(t, example) }
