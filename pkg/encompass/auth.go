package encompass

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
)

// tokenPath is the OAuth2 token endpoint.
const tokenPath = "/oauth2/v1/token"

// tokenEndpoint names token requests in CallInfo.
const tokenEndpoint = "POST " + tokenPath

// expiryMargin refreshes a token this long before the server's stated
// expiry, so that a request does not start with a token about to die.
const expiryMargin = time.Minute

// tokenSource caches one access token for the whole Client. A one-slot
// channel serves as a mutex that honours the context: while one goroutine
// fetches, the others wait (single flight) or give up with their context.
type tokenSource struct {
	c       *Client
	lock    chan struct{}
	tok     string
	expires time.Time
	gen     uint64 // increases with every fetched token
	fetch   func(ctx context.Context) (*oauth2.Token, error)
	now     func() time.Time
}

func newTokenSource(c *Client) *tokenSource {
	ts := &tokenSource{c: c, lock: make(chan struct{}, 1), now: time.Now}
	tokenURL := c.base.String() + tokenPath
	hc := &http.Client{Transport: &tokenTransport{c: c, next: transportOf(c.http)}, Timeout: c.http.Timeout}
	cfg := c.cfg
	switch cfg.Grant {
	case GrantClientCredentials:
		cc := &clientcredentials.Config{
			ClientID:       cfg.ClientID,
			ClientSecret:   cfg.ClientSecret,
			TokenURL:       tokenURL,
			Scopes:         []string{"lp"},
			EndpointParams: map[string][]string{"instance_id": {cfg.InstanceID}},
		}
		ts.fetch = func(ctx context.Context) (*oauth2.Token, error) {
			return cc.Token(context.WithValue(ctx, oauth2.HTTPClient, hc))
		}
	default:
		oc := &oauth2.Config{
			ClientID:     cfg.ClientID,
			ClientSecret: cfg.ClientSecret,
			Endpoint:     oauth2.Endpoint{TokenURL: tokenURL},
			Scopes:       []string{"lp"},
		}
		user := cfg.Username
		if !strings.Contains(user, "@") {
			user = user + "@encompass:" + cfg.InstanceID
		}
		ts.fetch = func(ctx context.Context) (*oauth2.Token, error) {
			return oc.PasswordCredentialsToken(context.WithValue(ctx, oauth2.HTTPClient, hc), user, cfg.Password)
		}
	}
	return ts
}

func transportOf(hc *http.Client) http.RoundTripper {
	if hc.Transport != nil {
		return hc.Transport
	}
	return http.DefaultTransport
}

// token returns a valid access token and its generation, fetching one when
// there is none or it is past its (assumed) lifetime.
func (ts *tokenSource) token(ctx context.Context) (string, uint64, error) {
	select {
	case ts.lock <- struct{}{}:
	case <-ctx.Done():
		return "", 0, ctx.Err()
	}
	defer func() { <-ts.lock }()
	if ts.tok != "" && ts.now().Before(ts.expires) {
		return ts.tok, ts.gen, nil
	}
	t, err := ts.fetch(ctx)
	if err != nil {
		return "", 0, tokenError(err)
	}
	if t.AccessToken == "" {
		return "", 0, fmt.Errorf("token: answer has no access_token: %w", ErrUnauthorized)
	}
	now := ts.now()
	// The answer usually lacks expires_in, which oauth2 reports as a zero
	// expiry ("never expires"); assume the conservative lifetime instead.
	expires := now.Add(ts.c.cfg.TokenLifetime)
	if !t.Expiry.IsZero() {
		// Refresh a little early, but never so early that a short-lived
		// token counts as expired on arrival (and every call fetches one).
		margin := min(expiryMargin, t.Expiry.Sub(now)/4)
		if e := t.Expiry.Add(-margin); e.Before(expires) {
			expires = e
		}
	}
	ts.tok, ts.expires = t.AccessToken, expires
	ts.gen++
	ts.c.log.Debug("encompass token fetched", "grant", string(ts.c.cfg.Grant), "validFor", expires.Sub(now).Round(time.Second).String())
	return ts.tok, ts.gen, nil
}

// invalidateGen drops the token of generation gen, if it is still the
// current one: when several calls get a 401 for the same token, only one
// new token is fetched.
func (ts *tokenSource) invalidateGen(gen uint64) {
	ts.lock <- struct{}{}
	defer func() { <-ts.lock }()
	if ts.gen == gen {
		ts.tok = ""
	}
}

func (ts *tokenSource) invalidate() {
	ts.lock <- struct{}{}
	defer func() { <-ts.lock }()
	ts.tok = ""
}

// tokenError turns an oauth2 error into this package's errors. The
// RetrieveError's own message quotes the whole answer body; only the
// OAuth2 error code and description are kept.
func tokenError(err error) error {
	var re *oauth2.RetrieveError
	if errors.As(err, &re) {
		ae := &APIError{Method: http.MethodPost, Endpoint: tokenPath, Code: re.ErrorCode, Summary: truncate(re.ErrorDescription, maxErrorText)}
		if re.Response != nil {
			ae.StatusCode = re.Response.StatusCode
			ae.CorrelationID = re.Response.Header.Get("X-Correlation-ID")
			if re.Response.Header.Get("X-Rate-Limit-Remaining") == "0" {
				if reset, ok := parseReset(re.Response.Header.Get("X-Rate-Limit-Reset")); ok {
					ae.RateLimitReset = reset
				}
			}
		}
		if ae.Summary == "" {
			ae.Summary = http.StatusText(ae.StatusCode)
		}
		if retryableStatus(ae.StatusCode) {
			return fmt.Errorf("token: %w", ae)
		}
		return fmt.Errorf("token: %w: %w", ErrUnauthorized, ae)
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("token: %w", err)
	}
	// Anything else is a transport failure (or a malformed answer, which a
	// retry may fix just as well).
	return fmt.Errorf("token: %w: %w", errTransport, err)
}

// tokenTransport holds an in-flight slot and reports to the hook for token
// requests, which oauth2 sends itself.
type tokenTransport struct {
	c    *Client
	next http.RoundTripper
}

func (t *tokenTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if err := t.c.acquire(req.Context()); err != nil {
		return nil, err
	}
	defer t.c.release()
	start := time.Now()
	resp, err := t.next.RoundTrip(req)
	status := 0
	if resp != nil {
		status = resp.StatusCode
		t.c.noteRateLimit(resp)
	}
	t.c.report(CallInfo{Method: req.Method, Endpoint: tokenEndpoint, Status: status, Duration: time.Since(start), Attempt: 1, Err: err})
	return resp, err
}
