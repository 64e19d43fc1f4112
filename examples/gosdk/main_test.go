package main

import (
	"context"
	"io"
	"testing"

	"github.com/mcpauth/mcpauth/internal/exampletest"
)

// example runs this example for the suite.
var example = exampletest.Example(func(ctx context.Context, o exampletest.Options, out io.Writer, ready func(mcpURL, issuer string)) error {
	return run(ctx, options{addr: o.Addr, authAddr: o.AuthAddr, clientID: o.ClientID, secret: o.Secret, autoApprove: o.AutoApprove,
		allowLoopbackCIMD: o.AllowLoopbackCIMD, cimdTLS: o.CIMDTLS, refreshAlways: o.RefreshAlways, logger: o.Logger}, out, ready)
})

// The end-to-end suite of the notes examples, against this one (go-sdk).

func TestStartupBannerAndWalkthrough(t *testing.T) {
	exampletest.BannerAndWalkthrough(t, example)
}
func TestGoSDKClient(t *testing.T) { exampletest.GoSDKClient(t, example) }

// The doctor names a mistyped URL, and the consent page that stops a flow.
func TestDoctorNewUser(t *testing.T) {
	exampletest.DoctorNewUser(t, example, "Authorize mcpauth quickstart client")
}

// The same with the development server's consent page on: the user approves.
func TestGoSDKClientWithConsent(t *testing.T) {
	exampletest.GoSDKClientWithConsent(t, example)
}
func TestMCPGoClient(t *testing.T) { exampletest.MCPGoClient(t, example) }
func TestDoctor(t *testing.T)      { exampletest.Doctor(t, example) }
func TestDoctorRefreshWarning(t *testing.T) {
	exampletest.DoctorRefreshWarning(t, example)
}
