package main

import (
	"testing"

	"github.com/mcpauth/mcpauth/internal/exampletest"
)

// The end-to-end suite of the notes examples, against this one (mcp-go).

func TestStartupBannerAndWalkthrough(t *testing.T) {
	exampletest.BannerAndWalkthrough(t, exampletest.Build(build))
}
func TestGoSDKClient(t *testing.T) { exampletest.GoSDKClient(t, exampletest.Build(build)) }

// The doctor names a mistyped URL, and the consent page that stops a flow.
func TestDoctorNewUser(t *testing.T) {
	exampletest.DoctorNewUser(t, exampletest.Build(build), "Authorize mcpauth quickstart client")
}

// The same with the development server's consent page on: the user approves.
func TestGoSDKClientWithConsent(t *testing.T) {
	exampletest.GoSDKClientWithConsent(t, exampletest.Build(build))
}
func TestMCPGoClient(t *testing.T) { exampletest.MCPGoClient(t, exampletest.Build(build)) }
func TestDoctor(t *testing.T)      { exampletest.Doctor(t, exampletest.Build(build)) }
func TestDoctorRefreshWarning(t *testing.T) {
	exampletest.DoctorRefreshWarning(t, exampletest.Build(build))
}
