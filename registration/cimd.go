package registration

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/mcpauth/mcpauth/internal/cache"
	"github.com/mcpauth/mcpauth/internal/capped"
	"github.com/mcpauth/mcpauth/metadata"
)

// CIMDResolver fetches and validates Client ID Metadata Documents: the
// client_id is an https URL whose document describes the client. The zero
// value is not usable; use [NewCIMDResolver].
type CIMDResolver struct {
	client   *http.Client
	cache    *cache.Cache[*Client]
	keys     *cache.Cache[[]byte] // fetched jwks_uri documents
	opts     CIMDOptions
	redirect RedirectPolicy
}

// CIMDOptions configures a [CIMDResolver].
type CIMDOptions struct {
	// Timeout bounds one fetch, body included. Zero means 5 seconds.
	Timeout time.Duration
	// MaxBytes caps a document. Zero means 64 KiB: real clients' documents
	// have broken a 5 KB cap.
	MaxBytes int64
	// MinTTL and MaxTTL bound how long a document is cached, whatever its
	// Cache-Control says. Zero means 1 minute and 24 hours. A document with
	// no-store or no max-age is cached for MinTTL. Failures are never cached.
	MinTTL, MaxTTL time.Duration
	// Redirects is the policy the document's redirect_uris must follow.
	Redirects RedirectPolicy
	// InsecureAllowLoopback lets documents be fetched from loopback addresses
	// (and over http on loopback), for local development only. Private,
	// link-local and unspecified addresses stay refused.
	InsecureAllowLoopback bool
	// TLSConfig is used for fetches; nil means the system roots.
	TLSConfig *tls.Config
}

// NewCIMDResolver returns a resolver whose HTTP client refuses to connect to
// private, loopback, link-local, multicast and unspecified addresses. The
// check runs on the resolved address at dial time, so a DNS name that
// resolves (or re-resolves) to an internal address cannot bypass it.
// Redirects are not followed.
func NewCIMDResolver(opts CIMDOptions) *CIMDResolver {
	if opts.Timeout <= 0 {
		opts.Timeout = 5 * time.Second
	}
	if opts.MaxBytes <= 0 {
		opts.MaxBytes = 64 << 10
	}
	if opts.MinTTL <= 0 {
		opts.MinTTL = time.Minute
	}
	if opts.MaxTTL <= 0 {
		opts.MaxTTL = 24 * time.Hour
	}
	dialer := &net.Dialer{Timeout: opts.Timeout, Control: func(_, address string, _ syscall.RawConn) error {
		return dialAllowed(address, opts.InsecureAllowLoopback)
	}}
	transport := &http.Transport{
		DialContext:         dialer.DialContext,
		TLSClientConfig:     opts.TLSConfig,
		TLSHandshakeTimeout: opts.Timeout,
		MaxIdleConns:        16,
		IdleConnTimeout:     30 * time.Second,
	}
	return &CIMDResolver{
		client: &http.Client{Transport: transport, Timeout: opts.Timeout,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }},
		cache:    cache.New[*Client](cache.Options{MaxEntries: maxCachedDocuments, MaxBytes: maxCachedDocumentBytes}),
		keys:     cache.New[[]byte](cache.Options{MaxEntries: maxCachedDocuments, MaxBytes: maxCachedDocumentBytes}),
		opts:     opts,
		redirect: opts.Redirects,
	}
}

// dialAllowed is the check made on every connection, after name resolution
// and before connect: address is the IP and port about to be dialed.
func dialAllowed(address string, allowLoopback bool) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("%w: %q is not an IP address and port", ErrForbiddenAddress, address)
	}
	if allowLoopback && ap.Addr().Unmap().IsLoopback() {
		return nil
	}
	return checkPublicAddress(ap.Addr())
}

// Bounds on the document cache; past them, documents are fetched again.
const (
	maxCachedDocuments     = 10_000
	maxCachedDocumentBytes = 64 << 20
)

// ErrForbiddenAddress is wrapped when a document's host resolves to an
// address the resolver refuses (SSRF protection).
var ErrForbiddenAddress = errors.New("registration: forbidden address")

// CIMDError reports why a Client ID Metadata Document was refused.
type CIMDError struct {
	ClientID string
	Reason   string
	Err      error
}

// Error returns the message: what was expected and what was seen. It is
// shown to whoever sent the client_id, so a fetch's cause is described,
// never quoted: the address a name resolved to or the resolver's own would
// otherwise answer anyone who asks (a DNS oracle). Err keeps the cause
// for the operator.
func (e *CIMDError) Error() string {
	return fmt.Sprintf("registration: client metadata document %q: %s", e.ClientID, e.Reason)
}

// fetchFailure describes why a fetch failed without quoting any address.
func fetchFailure(err error) string {
	var dns *net.DNSError
	var cert *tls.CertificateVerificationError
	switch {
	case errors.Is(err, ErrForbiddenAddress):
		return "fetch refused: the host resolves to an address that is not publicly routable (private, loopback, link-local or reserved)"
	case errors.As(err, &dns):
		return "fetch failed: the host name cannot be resolved"
	case errors.As(err, &cert):
		return "fetch failed: the server's TLS certificate is not trusted for this host"
	case errors.Is(err, context.DeadlineExceeded) || os.IsTimeout(err):
		return "fetch failed: the server did not answer in time"
	}
	return "fetch failed: the connection to the host failed"
}

// Unwrap returns the underlying cause.
func (e *CIMDError) Unwrap() error { return e.Err }

// IsCIMDClientID reports whether id has the shape of a CIMD client id: an
// https URL with a path other than "/", and no fragment or userinfo.
func IsCIMDClientID(id string) bool {
	u, err := url.Parse(id)
	return err == nil && (u.Scheme == "https" || u.Scheme == "http") && u.Host != "" && u.Path != "" && u.Path != "/" &&
		u.Fragment == "" && u.User == nil && !strings.Contains(id, "#")
}

// Resolve returns the client whose id is the URL clientID, from the cache or
// by fetching and validating its document.
func (r *CIMDResolver) Resolve(ctx context.Context, clientID string) (*Client, error) {
	if c, ok := r.cache.Get(clientID); ok {
		return c, nil
	}
	fail := func(reason string, err error) (*Client, error) {
		return nil, &CIMDError{ClientID: clientID, Reason: reason, Err: err}
	}
	if !IsCIMDClientID(clientID) {
		return fail("the client_id is not an https URL with a path", nil)
	}
	body, cc, reason, err := r.fetch(ctx, clientID)
	if reason != "" {
		return fail(reason, err)
	}
	c, err := r.validate(clientID, body)
	if err != nil {
		return fail(err.Error(), nil)
	}
	r.cache.Set(clientID, c, int64(len(clientID)+len(body)), r.ttl(cc)) // when full, fetched again next time
	return c, nil
}

// fetch GETs the JSON document at u through the guarded client: https
// only (http on loopback when allowed), no redirects, capped at MaxBytes.
// It returns the body and its Cache-Control, or why not.
func (r *CIMDResolver) fetch(ctx context.Context, u string) (body []byte, cacheControl, reason string, err error) {
	return fetchJSON(ctx, r.client, u, r.opts.MaxBytes, r.opts.InsecureAllowLoopback)
}

// fetchJSON GETs the JSON document at u with client: https only (http on
// a loopback host when allowLoopback), capped at maxBytes. It returns the
// body and its Cache-Control, or why not.
func fetchJSON(ctx context.Context, client *http.Client, u string, maxBytes int64, allowLoopback bool) (body []byte, cacheControl, reason string, err error) {
	pu, err := url.Parse(u)
	if err != nil || pu.Host == "" {
		return nil, "", "the URL cannot be parsed", err
	}
	if pu.Scheme != "https" && !(pu.Scheme == "http" && allowLoopback && metadata.IsLoopbackHost(pu.Hostname())) {
		return nil, "", "the URL must use https", nil
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, "", "cannot build the request", err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return nil, "", fetchFailure(err), err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		if resp.StatusCode >= 300 && resp.StatusCode < 400 {
			return nil, "", fmt.Sprintf("the server answered a redirect (HTTP %d), which is not followed", resp.StatusCode), nil
		}
		return nil, "", fmt.Sprintf("HTTP %d, expected 200", resp.StatusCode), nil
	}
	if mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type")); mt != "application/json" && !strings.HasSuffix(mt, "+json") {
		return nil, "", fmt.Sprintf("Content-Type %q is not JSON", resp.Header.Get("Content-Type")), nil
	}
	body, over, err := capped.ReadAll(resp.Body, maxBytes, resp.ContentLength)
	if err != nil {
		return nil, "", "reading the document failed", err
	}
	if over {
		return nil, "", fmt.Sprintf("the document is larger than %d bytes", maxBytes), nil
	}
	return body, resp.Header.Get("Cache-Control"), "", nil
}

// validate checks a fetched document and builds its client.
func (r *CIMDResolver) validate(clientID string, body []byte) (*Client, error) {
	var md Metadata
	if err := json.Unmarshal(body, &md); err != nil {
		return nil, errors.New("the document is not a JSON client metadata object")
	}
	switch {
	case md.ClientID != clientID:
		return nil, fmt.Errorf("its client_id %q does not equal the URL it was fetched from", md.ClientID)
	case md.ClientSecret != "":
		return nil, errors.New("it contains a client_secret; documents are public and must not")
	case strings.HasPrefix(md.TokenEndpointAuthMethod, "client_secret"):
		return nil, fmt.Errorf("token_endpoint_auth_method %q needs a shared secret, which a public document cannot hold", md.TokenEndpointAuthMethod)
	case len(md.RedirectURIs) == 0 && (len(md.GrantTypes) == 0 || slices.Contains(md.GrantTypes, "authorization_code")):
		return nil, errors.New("it has no redirect_uris (only a client of grants without a browser, such as client_credentials, may omit them)")
	case md.TokenEndpointAuthMethod == PrivateKeyJWT && md.JWKSURI == "" && md.JWKS == nil:
		return nil, errors.New("token_endpoint_auth_method private_key_jwt needs jwks_uri or jwks")
	case md.TokenEndpointAuthMethod != "" && md.TokenEndpointAuthMethod != "none" && md.TokenEndpointAuthMethod != PrivateKeyJWT:
		return nil, fmt.Errorf("token_endpoint_auth_method %q is not supported; a document's client authenticates with none or private_key_jwt", md.TokenEndpointAuthMethod)
	case slices.Contains(md.GrantTypes, "client_credentials") && md.TokenEndpointAuthMethod != PrivateKeyJWT:
		return nil, errors.New("the client_credentials grant needs an authenticated client: token_endpoint_auth_method private_key_jwt")
	}
	for _, u := range md.RedirectURIs {
		if err := r.redirect.Validate(u); err != nil {
			return nil, err
		}
	}
	if md.TokenEndpointAuthMethod == "" {
		md.TokenEndpointAuthMethod = "none"
	}
	return &Client{ID: clientID, Kind: KindCIMD, Metadata: md, IssuedAt: time.Now(), policy: r.redirect}, nil
}

// ttl derives the cache lifetime from Cache-Control within the bounds.
func (r *CIMDResolver) ttl(cc string) time.Duration {
	ttl := r.opts.MinTTL
	for _, d := range strings.Split(cc, ",") {
		d = strings.TrimSpace(strings.ToLower(d))
		if d == "no-store" {
			return 0
		}
		if v, ok := strings.CutPrefix(d, "max-age="); ok {
			if n, err := strconv.Atoi(v); err == nil {
				ttl = time.Duration(n) * time.Second
			}
		}
	}
	return min(max(ttl, r.opts.MinTTL), r.opts.MaxTTL)
}

// Resolver finds a client by id across the three models: URL-shaped ids go
// to CIMD, others to the static clients and then the DCR store.
type Resolver struct {
	Static map[string]*Client
	Store  Store         // nil: no DCR
	CIMD   *CIMDResolver // nil: no CIMD
	// HTTPClient fetches the jwks_uri of static clients (configured by the
	// operator); nil means a 10 second timeout. Self-registered clients'
	// are fetched only through the CIMD resolver's guarded client.
	HTTPClient *http.Client
}

// Used tells the DCR store, when it keeps used registrations longer (a
// [UsedStore]), that c has just signed a user in or received a token. It
// is best effort: a failure only shortens the registration's life.
func (r *Resolver) Used(ctx context.Context, c *Client) {
	if us, ok := r.Store.(UsedStore); ok && c.Kind == KindDynamic {
		_ = us.Used(ctx, c.ID)
	}
}

// Client returns the client with id.
func (r *Resolver) Client(ctx context.Context, id string) (*Client, error) {
	if IsCIMDClientID(id) {
		if r.CIMD == nil {
			return nil, fmt.Errorf("%w: %q looks like a Client ID Metadata Document URL, and CIMD is not enabled", ErrNotFound, id)
		}
		return r.CIMD.Resolve(ctx, id)
	}
	if c, ok := r.Static[id]; ok {
		return c, nil
	}
	if r.Store != nil {
		return r.Store.Get(ctx, id)
	}
	return nil, ErrNotFound
}
