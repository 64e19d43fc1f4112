// Package clienttest holds what the end-to-end tests need to drive real MCP
// clients through OAuth: a browser that approves an authorization request,
// and the official Go SDK's glue around it. Tests only.
package clienttest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/mcpauth/mcpauth/auth"
	sdkauth "github.com/modelcontextprotocol/go-sdk/auth"
	sdk "github.com/modelcontextprotocol/go-sdk/mcp"
)

// Approve plays the user's browser on an authorization URL of an
// auto-approving server and returns the query of the redirect back to the
// request's redirect_uri, following the servers in between (an
// authorization proxy sends the browser upstream and back).
func Approve(authURL string) (url.Values, error) {
	u, err := url.Parse(authURL)
	if err != nil {
		return nil, err
	}
	return ApproveUntil(authURL, u.Query().Get("redirect_uri"))
}

// ApproveUntil follows redirects from authURL in a new browser (its own
// cookies) until one goes to redirectURI, and returns that one's query.
func ApproveUntil(authURL, redirectURI string) (url.Values, error) {
	jar, _ := cookiejar.New(nil)
	return FollowIn(&http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}, authURL, redirectURI)
}

// FollowIn plays the user in browser b (a client with a cookie jar that
// does not follow redirects itself): from authURL it follows redirects,
// and approves the consent pages it meets (the proxy's, the development
// server's) by posting their form, until a redirect goes to redirectURI,
// whose query it returns.
func FollowIn(b *http.Client, authURL, redirectURI string) (url.Values, error) {
	next := authURL
	for range 10 {
		resp, err := b.Get(next)
		if err != nil {
			return nil, err
		}
		if resp.StatusCode == http.StatusOK {
			page, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
			resp.Body.Close()
			if resp, err = approve(b, resp.Request.URL, string(page)); err != nil {
				return nil, fmt.Errorf("authorization: a page at %s: %w", next, err)
			}
		}
		resp.Body.Close()
		if resp.StatusCode < 300 || resp.StatusCode > 399 {
			return nil, fmt.Errorf("authorization: HTTP %d at %s", resp.StatusCode, next)
		}
		loc, err := resp.Location()
		if err != nil {
			return nil, err
		}
		if strings.HasPrefix(loc.String(), redirectURI) {
			if e := loc.Query().Get("error"); e != "" {
				return nil, fmt.Errorf("authorization error %s: %s", e, loc.Query().Get("error_description"))
			}
			return loc.Query(), nil
		}
		next = loc.String()
	}
	return nil, errors.New("authorization: more than 10 redirects")
}

var (
	formAction  = regexp.MustCompile(`<form method="post" action="([^"]*)"`)
	hiddenInput = regexp.MustCompile(`<input type="hidden" name="([^"]*)" value="([^"]*)">`)
)

// approve posts the consent form of page (at base) with decision=approve.
func approve(b *http.Client, base *url.URL, page string) (*http.Response, error) {
	m := formAction.FindStringSubmatch(page)
	if m == nil {
		return nil, errors.New("no consent form on the page")
	}
	action, err := base.Parse(html.UnescapeString(m[1]))
	if err != nil {
		return nil, err
	}
	form := FormFields(page)
	form.Set("decision", "approve")
	return b.PostForm(action.String(), form)
}

// FormFields returns the hidden fields of the forms on an HTML page.
func FormFields(page string) url.Values {
	v := url.Values{}
	for _, m := range hiddenInput.FindAllStringSubmatch(page, -1) {
		v.Add(html.UnescapeString(m[1]), html.UnescapeString(m[2]))
	}
	return v
}

// CodeFetcher is a go-sdk AuthorizationCodeFetcher that approves through
// [Approve] and counts authorizations, so a test can see a step-up.
func CodeFetcher(count *atomic.Int32) sdkauth.AuthorizationCodeFetcher {
	return func(ctx context.Context, args *sdkauth.AuthorizationArgs) (*sdkauth.AuthorizationResult, error) {
		count.Add(1)
		q, err := Approve(args.URL)
		if err != nil {
			return nil, err
		}
		return &sdkauth.AuthorizationResult{Code: q.Get("code"), State: q.Get("state"), Iss: q.Get("iss")}, nil
	}
}

// CallText calls a tool with a text argument through a go-sdk session and
// returns its first text content; a tool error is an error.
func CallText(ctx context.Context, s *sdk.ClientSession, tool, text string) (string, error) {
	res, err := s.CallTool(ctx, &sdk.CallToolParams{Name: tool, Arguments: map[string]any{"text": text}})
	if err != nil {
		return "", err
	}
	out := res.Content[0].(*sdk.TextContent).Text
	if res.IsError {
		return "", fmt.Errorf("tool error: %s", out)
	}
	return out, nil
}

// ScopesSupported returns the scopes_supported of the protected resource
// metadata a serves, as a client reads it.
func ScopesSupported(t testing.TB, a *auth.Authenticator) []string {
	t.Helper()
	rec := httptest.NewRecorder()
	a.MetadataHandler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, a.MetadataPaths()[0], nil))
	var doc struct {
		ScopesSupported []string `json:"scopes_supported"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &doc); err != nil {
		t.Fatalf("metadata: %v: %s", err, rec.Body)
	}
	return doc.ScopesSupported
}
