// Package encompass is the one client for the Encompass (ICE Mortgage
// Technology) APIs this product uses: OAuth2, v3 users, SCIM 2.0 users and
// groups (Encompass and DDA (AIQ) profiles, Account Links), personas,
// organizations and webhook subscriptions.
//
// One Client is shared by every goroutine of a Lambda container. It owns the
// token (fetched once at a time, refreshed once on a 401), a limit on
// requests in flight (the tenant's limit of 30 is shared by every caller), and
// the retry policy (429, 5xx, network errors; exponential back-off with full
// jitter). Every failed call returns an error that IsRetryable classifies.
package encompass

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// DefaultBaseURL is the production API host.
const DefaultBaseURL = "https://api.elliemae.com"

// Defaults applied by New when the Config leaves a field zero.
const (
	DefaultMaxInFlight   = 4
	DefaultMaxAttempts   = 5
	DefaultTokenLifetime = 15 * time.Minute
	DefaultBaseDelay     = 200 * time.Millisecond
	DefaultMaxDelay      = 10 * time.Second
)

// Grant selects the OAuth2 grant used to obtain tokens.
type Grant string

// The supported grants. The zero value picks GrantPassword when a Username is
// configured and GrantClientCredentials otherwise.
const (
	GrantPassword          Grant = "password"
	GrantClientCredentials Grant = "client_credentials"
)

// Config configures a Client. Only InstanceID, ClientID and ClientSecret are
// required (plus Username and Password for the password grant).
type Config struct {
	// BaseURL is the API host, default DefaultBaseURL.
	BaseURL string
	// InstanceID is the lender's instance id (BE...).
	InstanceID string
	// ClientID and ClientSecret are the API client credentials.
	ClientID, ClientSecret string
	// Username and Password are used by the password grant; the username is
	// sent as <Username>@encompass:<InstanceID> unless it already contains '@'.
	Username, Password string
	// Grant overrides the grant choice; "" means automatic.
	Grant Grant
	// HTTPClient performs the requests; default a client with a 30 s timeout.
	HTTPClient *http.Client
	// MaxInFlight bounds this Client's concurrent HTTP exchanges, default
	// DefaultMaxInFlight. The tenant's limit (30) is shared by all callers.
	MaxInFlight int
	// MaxAttempts bounds the attempts of one call (first try included),
	// default DefaultMaxAttempts.
	MaxAttempts int
	// TokenLifetime is assumed when the token response has no expires_in,
	// default DefaultTokenLifetime.
	TokenLifetime time.Duration
	// BaseDelay and MaxDelay shape the exponential back-off with full
	// jitter: attempt n sleeps a random time in [0, min(MaxDelay, BaseDelay*2^n)).
	BaseDelay, MaxDelay time.Duration
	// OnCall, when set, sees every HTTP exchange (token requests included),
	// once per attempt. It must be safe for concurrent use and fast.
	OnCall func(CallInfo)
	// Logger receives debug logs; secrets are never logged. Default: discard.
	Logger *slog.Logger
}

// String prints the configuration with its secrets redacted, so that a
// Config that ends up in a log line or an error message leaks nothing.
func (c Config) String() string {
	return fmt.Sprintf("encompass.Config{BaseURL:%s InstanceID:%s ClientID:%s ClientSecret:%s Username:%s Password:%s Grant:%s}",
		c.BaseURL, c.InstanceID, c.ClientID, redact(c.ClientSecret), c.Username, redact(c.Password), c.Grant)
}

// LogValue redacts the secrets when a Config is logged with slog.
func (c Config) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("baseURL", c.BaseURL), slog.String("instanceId", c.InstanceID),
		slog.String("clientId", c.ClientID), slog.String("clientSecret", redact(c.ClientSecret)),
		slog.String("username", c.Username), slog.String("password", redact(c.Password)),
		slog.String("grant", string(c.Grant)))
}

// GoString keeps %#v from printing the secrets too.
func (c Config) GoString() string { return c.String() }

func redact(s string) string {
	if s == "" {
		return ""
	}
	return "[REDACTED]"
}

// CallInfo describes one HTTP exchange for the OnCall hook.
type CallInfo struct {
	// Method is the HTTP method.
	Method string
	// Endpoint is the templated path, e.g. "GET /encompass/v3/users/{id}",
	// so that metrics have a bounded set of names.
	Endpoint string
	// Status is the HTTP status, 0 when no response arrived.
	Status int
	// Duration is the time of this attempt's exchange.
	Duration time.Duration
	// Attempt counts from 1.
	Attempt int
	// Err is the attempt's error, nil on success.
	Err error
}

// Client talks to one Encompass instance. Create it with New; it is safe for
// concurrent use and should be shared by a whole container.
type Client struct {
	// Users is the v3 user API.
	Users *UsersService
	// SCIM is the SCIM 2.0 user and group API, Encompass and DDA (AIQ)
	// profiles.
	SCIM *SCIMService
	// AccountLinks is the SCIM Account Links API: global user ids for
	// users created outside SCIM.
	AccountLinks *AccountLinksService
	// Personas resolves persona names to ids (cached per Client).
	Personas *PersonasService
	// Organizations resolves organization names to ids (cached per Client).
	Organizations *OrganizationsService
	// Webhooks manages webhook subscriptions.
	Webhooks *WebhooksService

	cfg     Config
	base    *url.URL
	http    *http.Client
	tokens  *tokenSource
	sem     *slots
	gate    rateGate
	log     *slog.Logger
	sleeper func(ctxDone <-chan struct{}, d time.Duration) bool
}

// New validates cfg, applies defaults and returns a Client. It makes no
// network call; the first token is fetched by the first request.
func New(cfg Config) (*Client, error) {
	if cfg.BaseURL == "" {
		cfg.BaseURL = DefaultBaseURL
	}
	base, err := url.Parse(strings.TrimRight(cfg.BaseURL, "/"))
	if err != nil || base.Scheme == "" || base.Host == "" {
		return nil, fmt.Errorf("encompass: invalid BaseURL %q", cfg.BaseURL)
	}
	var missing []string
	if cfg.InstanceID == "" {
		missing = append(missing, "InstanceID")
	}
	if cfg.ClientID == "" {
		missing = append(missing, "ClientID")
	}
	if cfg.ClientSecret == "" {
		missing = append(missing, "ClientSecret")
	}
	switch cfg.Grant {
	case "":
		if cfg.Username != "" {
			cfg.Grant = GrantPassword
		} else {
			cfg.Grant = GrantClientCredentials
		}
	case GrantPassword, GrantClientCredentials:
	default:
		return nil, fmt.Errorf("encompass: unknown grant %q (want %q or %q)", cfg.Grant, GrantPassword, GrantClientCredentials)
	}
	if cfg.Grant == GrantPassword {
		if cfg.Username == "" {
			missing = append(missing, "Username")
		}
		if cfg.Password == "" {
			missing = append(missing, "Password")
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("encompass: missing configuration: %s", strings.Join(missing, ", "))
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: 30 * time.Second}
	}
	if cfg.MaxInFlight <= 0 {
		cfg.MaxInFlight = DefaultMaxInFlight
	}
	if cfg.MaxAttempts <= 0 {
		cfg.MaxAttempts = DefaultMaxAttempts
	}
	if cfg.TokenLifetime <= 0 {
		cfg.TokenLifetime = DefaultTokenLifetime
	}
	if cfg.BaseDelay <= 0 {
		cfg.BaseDelay = DefaultBaseDelay
	}
	if cfg.MaxDelay <= 0 {
		cfg.MaxDelay = DefaultMaxDelay
	}
	if cfg.MaxDelay < cfg.BaseDelay {
		cfg.MaxDelay = cfg.BaseDelay
	}
	logger := cfg.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	c := &Client{
		cfg:     cfg,
		base:    base,
		http:    cfg.HTTPClient,
		sem:     newSlots(cfg.MaxInFlight),
		log:     logger,
		sleeper: sleepCtx,
	}
	c.tokens = newTokenSource(c)
	c.Users = &UsersService{c: c}
	c.SCIM = &SCIMService{c: c}
	c.AccountLinks = &AccountLinksService{c: c}
	c.Personas = &PersonasService{c: c}
	c.Organizations = &OrganizationsService{c: c}
	c.Webhooks = &WebhooksService{c: c}
	return c, nil
}

// InvalidateToken drops the cached token so that the next call fetches a new
// one. The client does this itself on a 401; it is exported for operators'
// tools and tests.
func (c *Client) InvalidateToken() { c.tokens.invalidate() }

// ErrInvalidArgument reports a call the client refused to send (an empty or
// path-changing id, a create without its key field, an empty patch). It is
// permanent: the same call can never succeed.
var ErrInvalidArgument = errors.New("encompass: invalid argument")
