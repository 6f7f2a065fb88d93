// Package config reads a function's configuration from the environment
// (CONTRACTS section 5) and Secrets Manager, and builds the AWS SDK config.
// It validates everything at cold start, so that a misconfigured function
// stops at once with one error naming each bad variable and never echoing a
// secret.
package config

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/url"
	"os"
	"path"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/lenderops/encompass-lifecycle/pkg/encompass"
	"github.com/lenderops/encompass-lifecycle/pkg/telemetry"
)

// Environment variable names (CONTRACTS section 5, plus
// ENCOMPASS_MAX_IN_FLIGHT).
const (
	EnvAPIURL             = "ENCOMPASS_API_URL"
	EnvInstanceID         = "ENCOMPASS_INSTANCE_ID"
	EnvSecretARN          = "ENCOMPASS_SECRET_ARN"
	EnvClientID           = "ENCOMPASS_CLIENT_ID"
	EnvClientSecret       = "ENCOMPASS_CLIENT_SECRET"
	EnvUsername           = "ENCOMPASS_USERNAME"
	EnvPassword           = "ENCOMPASS_PASSWORD"
	EnvGrant              = "ENCOMPASS_GRANT"
	EnvUserAPI            = "ENCOMPASS_USER_API"
	EnvMaxInFlight        = "ENCOMPASS_MAX_IN_FLIGHT"
	EnvStateTable         = "STATE_TABLE"
	EnvEventBusName       = "EVENT_BUS_NAME"
	EnvMappingFile        = "MAPPING_FILE"
	EnvWebhookSecretARN   = "WEBHOOK_SECRET_ARN"
	EnvWebhookSigningKeys = "WEBHOOK_SIGNING_KEYS"
	EnvDryRun             = "DRY_RUN"
	EnvMaxRemovalRatio    = "POLLER_MAX_REMOVAL_RATIO"
	EnvLogLevel           = "LOG_LEVEL"

	// Effective dates (CONTRACTS section 2a): where held events wait and
	// which queue each goes back to.
	EnvSchedulerGroup       = "SCHEDULER_GROUP"
	EnvSchedulerRoleARN     = "SCHEDULER_ROLE_ARN"
	EnvSchedulerDLQARN      = "SCHEDULER_DLQ_ARN"
	EnvProvisionQueueARN    = "PROVISION_QUEUE_ARN"
	EnvDeprovisionQueueARN  = "DEPROVISION_QUEUE_ARN"
	EnvImmediateTermination = "IMMEDIATE_TERMINATION_REASONS"

	// EnvClockFile is for local runs only (the demo and the end-to-end
	// tests): a file holding how far the function's clock runs ahead of
	// the machine's, so that a test can move the time of the real binaries
	// to an effective date instead of waiting for it. The stack never sets
	// it.
	EnvClockFile = "LOCAL_CLOCK_FILE"

	// Reconciliation (CONTRACTS section 7).
	EnvRosterBucket   = "ROSTER_BUCKET"
	EnvIgnoreLogins   = "RECONCILE_IGNORE_LOGINS"
	EnvMinRosterRatio = "RECONCILE_MIN_ROSTER_RATIO"
)

// Defaults.
const (
	DefaultAPIURL          = encompass.DefaultBaseURL
	DefaultUserAPI         = UserAPISCIM
	DefaultMaxRemovalRatio = 0.2
	DefaultMaxInFlight     = encompass.DefaultMaxInFlight
	DefaultMinRosterRatio  = 0.8
)

// Values of ENCOMPASS_USER_API and ENCOMPASS_GRANT.
const (
	UserAPISCIM            = "scim"
	UserAPIV3              = "v3"
	GrantPassword          = string(encompass.GrantPassword)
	GrantClientCredentials = string(encompass.GrantClientCredentials)
)

// Needs says which parts of the configuration a function requires.
type Needs uint

// The parts a function can need.
const (
	// NeedEncompass: instance id, API URL, credentials, grant, user API.
	NeedEncompass Needs = 1 << iota
	// NeedState: STATE_TABLE.
	NeedState
	// NeedEventBus: EVENT_BUS_NAME.
	NeedEventBus
	// NeedWebhookKeys: WEBHOOK_SECRET_ARN or WEBHOOK_SIGNING_KEYS.
	NeedWebhookKeys
	// NeedScheduler: SCHEDULER_GROUP and SCHEDULER_ROLE_ARN, where held
	// events wait for their due time, and SCHEDULER_DLQ_ARN when it is set.
	NeedScheduler
	// NeedProvisionQueue: PROVISION_QUEUE_ARN.
	NeedProvisionQueue
	// NeedDeprovisionQueue: DEPROVISION_QUEUE_ARN.
	NeedDeprovisionQueue
	// NeedRoster: ROSTER_BUCKET, RECONCILE_IGNORE_LOGINS and
	// RECONCILE_MIN_ROSTER_RATIO.
	NeedRoster
)

// What each function needs.
const (
	// A provisioning function holds future-dated events on its own queue.
	ForProvision   = NeedEncompass | NeedState | NeedEventBus | NeedScheduler | NeedProvisionQueue
	ForDeprovision = NeedEncompass | NeedState | NeedEventBus | NeedScheduler | NeedDeprovisionQueue
	ForPoller      = NeedEncompass | NeedState | NeedEventBus
	ForWebhook     = NeedState | NeedEventBus | NeedWebhookKeys
	ForReconcile   = NeedEncompass | NeedState | NeedEventBus | NeedProvisionQueue | NeedDeprovisionQueue | NeedRoster
)

// Config is a function's validated configuration. Fields a function did not
// need are left at their defaults (or zero when they have none).
type Config struct {
	APIURL       string // without a trailing slash
	InstanceID   string
	SecretARN    string // ENCOMPASS_SECRET_ARN, when the credentials came from it
	ClientID     string
	ClientSecret Secret
	Username     string
	Password     Secret
	Grant        string // GrantPassword or GrantClientCredentials
	UserAPI      string // UserAPISCIM or UserAPIV3
	MaxInFlight  int

	StateTable   string
	EventBusName string
	MappingFile  string // empty: built-in rules

	WebhookSecretARN string
	// WebhookKeys maps an Elli-SubscriptionId to its signing keys (more than
	// one while a key is rotated), ready for the verifier. It prints and
	// marshals with every key redacted.
	WebhookKeys encompass.SigningKeys

	DryRun          bool
	MaxRemovalRatio float64
	LogLevel        slog.Level

	// SchedulerGroup, SchedulerRoleARN and SchedulerDLQARN are where held
	// events wait (an EventBridge Scheduler group), the role the Scheduler
	// assumes to send one back to its queue, and the queue of deliveries
	// that failed ("" when SCHEDULER_DLQ_ARN is unset: none).
	SchedulerGroup   string
	SchedulerRoleARN string
	SchedulerDLQARN  string
	// ProvisionQueueARN and DeprovisionQueueARN are the two HRIS queues.
	ProvisionQueueARN   string
	DeprovisionQueueARN string
	// ImmediateTerminationReasons are the terminationReason values, lower
	// case, that make a terminate apply at once whatever its effectiveAt.
	ImmediateTerminationReasons []string
	// ClockFile is LOCAL_CLOCK_FILE (local runs only; empty in AWS).
	ClockFile string
	// RosterBucket holds rosters and reconciliation reports; IgnoreLogins
	// are lower-case glob patterns of logins that are never orphans;
	// MinRosterRatio is the share of linked employees a roster must name.
	RosterBucket   string
	IgnoreLogins   []string
	MinRosterRatio float64

	// Secrets is the reader Load read the secrets with (nil when no secret
	// ARN was set). It holds what it read, so that a function that reads a
	// secret again while it runs (the webhook's signing keys) shares the
	// client and the cold start's copy.
	Secrets *Secrets

	// AWS is the SDK configuration (config.LoadDefaultConfig): region and
	// credentials from the Lambda environment, and the standard endpoint
	// variables (AWS_ENDPOINT_URL, AWS_ENDPOINT_URL_DYNAMODB, ...).
	AWS aws.Config
}

// Encompass is what the Encompass client needs; pass its fields to
// encompass.New (ClientSecret.Reveal(), Password.Reveal()).
type Encompass struct {
	BaseURL      string
	InstanceID   string
	ClientID     string
	ClientSecret Secret
	Username     string
	Password     Secret
	Grant        string
	UserAPI      string
	MaxInFlight  int
}

// EncompassConfig returns the Encompass client settings.
func (c *Config) EncompassConfig() Encompass {
	return Encompass{
		BaseURL: c.APIURL, InstanceID: c.InstanceID, ClientID: c.ClientID, ClientSecret: c.ClientSecret,
		Username: c.Username, Password: c.Password, Grant: c.Grant, UserAPI: c.UserAPI, MaxInFlight: c.MaxInFlight,
	}
}

// SecretsAPI is the part of the Secrets Manager client Load uses.
type SecretsAPI interface {
	GetSecretValue(ctx context.Context, in *secretsmanager.GetSecretValueInput, optFns ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error)
}

// Option configures Load.
type Option func(*loader)

type loader struct {
	aws     *aws.Config
	secrets SecretsAPI
}

// WithAWSConfig uses cfg instead of config.LoadDefaultConfig.
func WithAWSConfig(cfg aws.Config) Option { return func(l *loader) { l.aws = &cfg } }

// WithSecretsClient uses c to read secrets instead of a client built from
// the AWS config.
func WithSecretsClient(c SecretsAPI) Option { return func(l *loader) { l.secrets = c } }

// Error lists every missing or malformed variable.
type Error struct {
	// Problems are each "VARIABLE: what is wrong" ("ENCOMPASS_SECRET_ARN
	// clientId: ..." for a field of the secret a variable names).
	Problems []string
	// Variables names each variable at fault once, in the order of
	// Problems.
	Variables []string
}

func (e *Error) Error() string { return "config: " + strings.Join(e.Problems, "; ") }

// FromEnv is Load with the process environment.
func FromEnv(ctx context.Context, need Needs, opts ...Option) (*Config, error) {
	return Load(ctx, os.Getenv, need, opts...)
}

// Load reads and validates the configuration from getenv. The AWS SDK
// config comes from config.LoadDefaultConfig (which reads the process
// environment, not getenv) unless WithAWSConfig is given. Secrets are read
// through one Secrets reader (Config.Secrets), once per ARN per process (a
// Lambda container).
func Load(ctx context.Context, getenv func(string) string, need Needs, opts ...Option) (*Config, error) {
	l := &loader{}
	for _, o := range opts {
		o(l)
	}
	env := func(name string) string { return strings.TrimSpace(getenv(name)) }
	ce := &Error{}
	badPart := func(variable, label, format string, args ...any) {
		ce.Problems = append(ce.Problems, label+": "+fmt.Sprintf(format, args...))
		if !slices.Contains(ce.Variables, variable) {
			ce.Variables = append(ce.Variables, variable)
		}
	}
	bad := func(name, format string, args ...any) { badPart(name, name, format, args...) }

	c := &Config{
		APIURL:          DefaultAPIURL,
		UserAPI:         DefaultUserAPI,
		MaxInFlight:     DefaultMaxInFlight,
		MaxRemovalRatio: DefaultMaxRemovalRatio,
		MinRosterRatio:  DefaultMinRosterRatio,
		MappingFile:     env(EnvMappingFile),
	}

	// Plain values first: they need no network.
	if v := env(EnvLogLevel); v != "" {
		lvl, err := telemetry.ParseLevel(v)
		if err != nil {
			bad(EnvLogLevel, "%v", err)
		}
		c.LogLevel = lvl
	}
	if v := env(EnvDryRun); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			bad(EnvDryRun, "must be true or false, got %q", v)
		}
		c.DryRun = b
	}
	readRatio(env, bad, EnvMaxRemovalRatio, true, &c.MaxRemovalRatio)
	if need&NeedState != 0 {
		c.StateTable = varSpec{EnvStateTable, "the DynamoDB state table name", validTable,
			"not a DynamoDB table name or ARN: %q"}.read(env, bad)
	}
	if need&NeedEventBus != 0 {
		c.EventBusName = varSpec{EnvEventBusName, "the EventBridge bus name", busName.MatchString,
			"not an EventBridge bus name or ARN: %q"}.read(env, bad)
	}
	if need&NeedEncompass != 0 {
		if v := env(EnvAPIURL); v != "" {
			u, err := url.Parse(v)
			switch {
			case err != nil:
				bad(EnvAPIURL, "not a URL")
			case u.User != nil:
				// Never echo it: the user info may hold a password.
				bad(EnvAPIURL, "must not carry user info (credentials belong in %s)", EnvSecretARN)
			case (u.Scheme != "http" && u.Scheme != "https") || u.Host == "":
				bad(EnvAPIURL, "must be an absolute http(s) URL, got %q", v)
			case u.RawQuery != "" || u.Fragment != "":
				bad(EnvAPIURL, "must not have a query or fragment, got %q", v)
			default:
				c.APIURL = strings.TrimRight(u.String(), "/")
			}
		}
		c.InstanceID = varSpec{EnvInstanceID, "the lender's Encompass instance id, e.g. BE11111111", instanceID.MatchString,
			"must be letters, digits, '-', '_' or '.' (at most 64), got %q"}.read(env, bad)
		if v := env(EnvUserAPI); v != "" {
			if v != UserAPISCIM && v != UserAPIV3 {
				bad(EnvUserAPI, "must be %q or %q, got %q", UserAPISCIM, UserAPIV3, v)
			}
			c.UserAPI = v
		}
		if v := env(EnvMaxInFlight); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 || n > 1000 {
				bad(EnvMaxInFlight, "must be a whole number from 1 to 1000, got %q", v)
			} else {
				c.MaxInFlight = n
			}
		}
		if v := env(EnvGrant); v != "" && v != GrantPassword && v != GrantClientCredentials {
			bad(EnvGrant, "must be %q or %q, got %q", GrantPassword, GrantClientCredentials, v)
		}
	}
	c.loadScheduling(env, need, bad)
	if need&NeedRoster != 0 {
		c.readRoster(env, bad)
	}
	if need&NeedWebhookKeys != 0 && env(EnvWebhookSecretARN) == "" && getenv(EnvWebhookSigningKeys) == "" {
		bad(EnvWebhookSecretARN, "required: set %s or, for local runs, %s", EnvWebhookSecretARN, EnvWebhookSigningKeys)
	}
	if len(ce.Problems) > 0 {
		return nil, ce
	}

	// AWS and secrets.
	if l.aws != nil {
		c.AWS = *l.aws
	} else {
		cfg, err := awsconfig.LoadDefaultConfig(ctx)
		if err != nil {
			return nil, fmt.Errorf("config: AWS SDK configuration: %w", err)
		}
		c.AWS = cfg
	}
	lazySecrets := func() *Secrets {
		if c.Secrets == nil {
			client := l.secrets
			if client == nil {
				client = secretsmanager.NewFromConfig(c.AWS)
			}
			// Load reads each secret once; a caller that wants a newer
			// copy later says how old it may be (Secrets.WithMaxAge).
			c.Secrets = NewSecrets(client, 0, nil)
		}
		return c.Secrets
	}

	if need&NeedEncompass != 0 {
		if err := c.loadCredentials(ctx, env, getenv, lazySecrets, badPart); err != nil {
			return nil, err
		}
	}
	if need&NeedWebhookKeys != 0 {
		if err := c.loadWebhookKeys(ctx, env, getenv, lazySecrets, bad); err != nil {
			return nil, err
		}
	}
	if len(ce.Problems) > 0 {
		return nil, ce
	}
	return c, nil
}

var (
	// bucketName is S3's rule for a general purpose bucket name.
	bucketName = regexp.MustCompile(`^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$`)
	instanceID = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)
	tableName  = regexp.MustCompile(`^[A-Za-z0-9._-]{3,255}$`)
	busName    = regexp.MustCompile(`^(arn:[A-Za-z0-9:/._-]+|[A-Za-z0-9/._-]{1,256})$`)
)

func validTable(s string) bool {
	if strings.HasPrefix(s, "arn:") {
		return strings.Contains(s, ":table/") && tableName.MatchString(s[strings.LastIndex(s, "/")+1:])
	}
	return tableName.MatchString(s)
}

// badFunc reports what is wrong with the variable name.
type badFunc func(name, format string, args ...any)

// badPartFunc reports what is wrong with a part of variable (a field of the
// secret it names), called label in the message.
type badPartFunc func(variable, label, format string, args ...any)

// varSpec says what a variable must hold.
type varSpec struct {
	name string
	// required says what the variable is, for "required (...)" when it is
	// unset; "" when it may be unset.
	required string
	// valid checks a value that is set; invalid says why one is refused: a
	// format whose one %q is the value.
	valid   func(string) bool
	invalid string
}

// read reads the variable and reports it when it is required and unset, or
// set and not valid; a refused value is echoed shortened.
func (s varSpec) read(env func(string) string, bad badFunc) string {
	v := env(s.name)
	switch {
	case v == "" && s.required != "":
		bad(s.name, "required (%s)", s.required)
	case v != "" && !s.valid(v):
		bad(s.name, s.invalid, shorten(v))
	}
	return v
}

// readRatio reads a share into *to when the variable is set: a number of
// at most 1, and above 0 when positive (else at least 0).
func readRatio(env func(string) string, bad badFunc, name string, positive bool, to *float64) {
	v := env(name)
	if v == "" {
		return
	}
	f, err := strconv.ParseFloat(v, 64)
	low, want := f < 0, "a number from 0 to 1"
	if positive {
		low, want = f <= 0, "a number greater than 0 and at most 1"
	}
	if err != nil || math.IsNaN(f) || low || f > 1 {
		bad(name, "must be %s, got %q", want, shorten(v))
		return
	}
	*to = f
}

// readRoster reads the reconcile function's variables.
func (c *Config) readRoster(env func(string) string, bad badFunc) {
	c.RosterBucket = varSpec{EnvRosterBucket, "the S3 bucket of rosters and reconciliation reports",
		func(v string) bool { return bucketName.MatchString(v) && !strings.Contains(v, "..") },
		"not an S3 bucket name (3 to 63 lower-case letters, digits, '.' and '-'), got %q"}.read(env, bad)
	if v := env(EnvIgnoreLogins); v != "" {
		for _, p := range strings.Split(v, ",") {
			p = strings.ToLower(strings.TrimSpace(p))
			if p == "" {
				continue
			}
			if _, err := path.Match(p, ""); err != nil {
				bad(EnvIgnoreLogins, "%q is not a glob pattern (*, ?, [...])", shorten(p))
				continue
			}
			c.IgnoreLogins = append(c.IgnoreLogins, p)
		}
	}
	readRatio(env, bad, EnvMinRosterRatio, false, &c.MinRosterRatio)
}

// QueueURL is the URL of the queue whose ARN is arn
// (https://sqs.<region>.amazonaws.com/<account>/<name>). With a local
// endpoint (AWS_ENDPOINT_URL_SQS) the SDK sends requests to the endpoint;
// the URL names the queue.
func QueueURL(arn string) string {
	parts := strings.Split(arn, ":")
	if len(parts) != 6 {
		return ""
	}
	domain := "amazonaws.com"
	if strings.HasPrefix(parts[1], "aws-cn") {
		domain = "amazonaws.com.cn"
	}
	return fmt.Sprintf("https://sqs.%s.%s/%s/%s", parts[3], domain, parts[4], parts[5])
}

// encompassSecret is the JSON of ENCOMPASS_SECRET_ARN.
type encompassSecret struct {
	ClientID     string `json:"clientId"`
	ClientSecret string `json:"clientSecret"`
	Username     string `json:"username"`
	Password     string `json:"password"`
}

func (c *Config) loadCredentials(ctx context.Context, env, getenv func(string) string, secrets func() *Secrets, badPart badPartFunc) error {
	var where, idName, secretName, userName, passName string
	// A field of the secret is reported as its variable's problem.
	bad := func(label, format string, args ...any) {
		variable := label
		if where != "" {
			variable = where
		}
		badPart(variable, label, format, args...)
	}
	if arn := env(EnvSecretARN); arn != "" {
		raw, err := secrets().Get(ctx, arn)
		if err != nil {
			return fmt.Errorf("config: %s: %w", EnvSecretARN, err)
		}
		var s encompassSecret
		if err := decodeObject(raw, &s); err != nil {
			bad(EnvSecretARN, "secret %s %v", arn, err)
			return nil
		}
		c.SecretARN = arn
		c.ClientID, c.ClientSecret = strings.TrimSpace(s.ClientID), Secret(s.ClientSecret)
		c.Username, c.Password = strings.TrimSpace(s.Username), Secret(s.Password)
		where = EnvSecretARN
		idName, secretName, userName, passName = where+" clientId", where+" clientSecret", where+" username", where+" password"
	} else {
		c.ClientID, c.ClientSecret = env(EnvClientID), Secret(getenv(EnvClientSecret))
		c.Username, c.Password = env(EnvUsername), Secret(getenv(EnvPassword))
		idName, secretName, userName, passName = EnvClientID, EnvClientSecret, EnvUsername, EnvPassword
	}
	if c.ClientID == "" {
		bad(idName, "required (or set %s)", EnvSecretARN)
	}
	if c.ClientSecret == "" {
		bad(secretName, "required (or set %s)", EnvSecretARN)
	}
	c.Grant = env(EnvGrant)
	if c.Grant == "" {
		c.Grant = GrantClientCredentials
		if c.Username != "" {
			c.Grant = GrantPassword
		}
	}
	if c.Grant == GrantPassword {
		if c.Username == "" {
			bad(userName, "required for the password grant")
		}
		if c.Password == "" {
			bad(passName, "required for the password grant")
		}
	}
	return nil
}

func (c *Config) loadWebhookKeys(ctx context.Context, env, getenv func(string) string, secrets func() *Secrets, bad badFunc) error {
	var raw, name string
	if arn := env(EnvWebhookSecretARN); arn != "" {
		s, err := secrets().Get(ctx, arn)
		if err != nil {
			return fmt.Errorf("config: %s: %w", EnvWebhookSecretARN, err)
		}
		c.WebhookSecretARN, raw, name = arn, s, EnvWebhookSecretARN
	} else {
		raw, name = getenv(EnvWebhookSigningKeys), EnvWebhookSigningKeys
	}
	keys, err := encompass.ParseSigningKeys([]byte(raw))
	if err != nil {
		// The parser's errors never quote a key or a subscription id.
		var ske *encompass.SigningKeysError
		if errors.As(err, &ske) {
			bad(name, "%s", ske.Problem)
		} else {
			bad(name, "%v", err)
		}
		return nil
	}
	c.WebhookKeys = keys
	return nil
}

// decodeObject unmarshals a JSON object without ever putting the input (a
// secret) in the error: json's own messages can quote parts of it.
func decodeObject(raw string, v any) error {
	if strings.TrimSpace(raw) == "" {
		return errors.New("is empty: want a JSON object")
	}
	if err := json.Unmarshal([]byte(raw), v); err != nil {
		var syn *json.SyntaxError
		var typ *json.UnmarshalTypeError
		switch {
		case errors.As(err, &syn):
			return fmt.Errorf("is not valid JSON (syntax error at byte %d)", syn.Offset)
		case errors.As(err, &typ):
			if typ.Field != "" {
				return fmt.Errorf("is not the expected JSON: field %q must be a %s", typ.Field, typ.Type)
			}
			return fmt.Errorf("is not a JSON object (got a JSON %s)", typ.Value)
		default:
			return errors.New("is not the expected JSON object")
		}
	}
	return nil
}
