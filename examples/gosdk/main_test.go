package main

import (
	"testing"

	"github.com/mcpauth/mcpauth/internal/exampletest"
)

// The end-to-end suite of the notes examples, against this one (go-sdk).

func TestStartupBannerAndWalkthrough(t *testing.T) { exampletest.BannerAndWalkthrough(t, build) }
func TestGoSDKClient(t *testing.T)                 { exampletest.GoSDKClient(t, build) }
func TestMCPGoClient(t *testing.T)                 { exampletest.MCPGoClient(t, build) }
func TestDoctor(t *testing.T)                      { exampletest.Doctor(t, build) }
func TestDoctorRefreshWarning(t *testing.T)        { exampletest.DoctorRefreshWarning(t, build) }
