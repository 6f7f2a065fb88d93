package config_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"

	"github.com/lenderops/encompass-lifecycle/internal/testenv"
	"github.com/lenderops/encompass-lifecycle/pkg/config"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// Secret values used in tests; no error or output may contain them.
const (
	clientSecret = "CS-s3cr3t-value"
	password     = "PW-s3cr3t-value"
	signingKey   = "SK-s3cr3t-value"
)

func base() map[string]string {
	return map[string]string{
		"ENCOMPASS_INSTANCE_ID":   "BE11111111",
		"ENCOMPASS_CLIENT_ID":     "client-1",
		"ENCOMPASS_CLIENT_SECRET": clientSecret,
		"ENCOMPASS_USERNAME":      "admin",
		"ENCOMPASS_PASSWORD":      password,
		"STATE_TABLE":             "lifecycle-state",
		"EVENT_BUS_NAME":          "lifecycle",
		"SCHEDULER_GROUP":         "lifecycle-held",
		"SCHEDULER_ROLE_ARN":      "arn:aws:iam::123456789012:role/lifecycle-scheduler",
		"SCHEDULER_DLQ_ARN":       "arn:aws:sqs:us-east-1:123456789012:lifecycle-held-dlq",
		"PROVISION_QUEUE_ARN":     "arn:aws:sqs:us-east-1:123456789012:lifecycle-provision.fifo",
		"DEPROVISION_QUEUE_ARN":   "arn:aws:sqs:us-east-1:123456789012:lifecycle-deprovision.fifo",
	}
}

func getenv(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

var awsCfg = config.WithAWSConfig(aws.Config{Region: "us-east-1", Credentials: testenv.Credentials})

func load(t *testing.T, env map[string]string, need config.Needs, opts ...config.Option) (*config.Config, error) {
	t.Helper()
	c, err := config.Load(context.Background(), getenv(env), need, append([]config.Option{awsCfg}, opts...)...)
	if err != nil {
		for _, s := range []string{clientSecret, password, signingKey} {
			if strings.Contains(err.Error(), s) {
				t.Fatalf("error leaks a secret: %v", err)
			}
		}
	}
	return c, err
}

func TestDefaults(t *testing.T) {
	t.Parallel()
	c, err := load(t, base(), config.ForProvision)
	if err != nil {
		t.Fatal(err)
	}
	if c.APIURL != config.DefaultAPIURL || c.UserAPI != "scim" || c.Grant != "password" || c.MaxInFlight != 4 ||
		c.MaxRemovalRatio != 0.2 || c.DryRun || c.LogLevel != slog.LevelInfo || c.MappingFile != "" {
		t.Fatalf("defaults: %+v", c)
	}
	ec := c.EncompassConfig()
	if ec.ClientSecret.Reveal() != clientSecret || ec.Password.Reveal() != password || ec.InstanceID != "BE11111111" || ec.Username != "admin" {
		t.Fatalf("encompass config %+v", ec)
	}
	// Without a username the grant is client_credentials.
	env := base()
	delete(env, "ENCOMPASS_USERNAME")
	delete(env, "ENCOMPASS_PASSWORD")
	if c, err := load(t, env, config.ForPoller); err != nil || c.Grant != "client_credentials" {
		t.Fatalf("grant %v %v", c, err)
	}
}

func TestValues(t *testing.T) {
	t.Parallel()
	env := base()
	for k, v := range map[string]string{
		"ENCOMPASS_API_URL": "http://127.0.0.1:8081/", "ENCOMPASS_USER_API": "v3", "ENCOMPASS_GRANT": "password",
		"DRY_RUN": "true", "POLLER_MAX_REMOVAL_RATIO": "1", "LOG_LEVEL": "DEBUG", "ENCOMPASS_MAX_IN_FLIGHT": "12",
		"MAPPING_FILE": "/etc/mapping.yaml", "STATE_TABLE": "arn:aws:dynamodb:us-east-1:123:table/state",
	} {
		env[k] = v
	}
	c, err := load(t, env, config.ForProvision)
	if err != nil {
		t.Fatal(err)
	}
	if c.APIURL != "http://127.0.0.1:8081" || c.UserAPI != "v3" || !c.DryRun || c.MaxRemovalRatio != 1 ||
		c.LogLevel != slog.LevelDebug || c.MaxInFlight != 12 || c.MappingFile != "/etc/mapping.yaml" {
		t.Fatalf("%+v", c)
	}
}

// invalidCase is base() with a change Load must refuse, and what the error
// must say.
type invalidCase struct {
	name   string
	need   config.Needs
	change map[string]string // "" deletes
	want   []string
}

// runInvalid runs each case as a parallel subtest.
func runInvalid(t *testing.T, tests []invalidCase) {
	t.Helper()
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			env := base()
			for k, v := range tc.change {
				if v == "" {
					delete(env, k)
				} else {
					env[k] = v
				}
			}
			_, err := load(t, env, tc.need)
			var cerr *config.Error
			if !errors.As(err, &cerr) {
				t.Fatalf("err = %v, want *config.Error", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("err = %q, want it to contain %q", err, w)
				}
			}
		})
	}
}

func TestInvalid(t *testing.T) {
	t.Parallel()
	tests := []invalidCase{
		{"missing instance", config.ForProvision, map[string]string{"ENCOMPASS_INSTANCE_ID": ""}, []string{"ENCOMPASS_INSTANCE_ID: required"}},
		{"hostile instance", config.ForProvision, map[string]string{"ENCOMPASS_INSTANCE_ID": "BE1/../x"}, []string{"ENCOMPASS_INSTANCE_ID: must be"}},
		{"user api", config.ForProvision, map[string]string{"ENCOMPASS_USER_API": "soap"}, []string{`ENCOMPASS_USER_API: must be "scim" or "v3", got "soap"`}},
		{"grant", config.ForProvision, map[string]string{"ENCOMPASS_GRANT": "implicit"}, []string{`ENCOMPASS_GRANT: must be "password" or "client_credentials", got "implicit"`}},
		{"relative url", config.ForProvision, map[string]string{"ENCOMPASS_API_URL": "api.elliemae.com"}, []string{"ENCOMPASS_API_URL: must be an absolute http(s) URL"}},
		{"ftp url", config.ForProvision, map[string]string{"ENCOMPASS_API_URL": "ftp://x"}, []string{"ENCOMPASS_API_URL: must be an absolute http(s) URL"}},
		{"url with password", config.ForProvision, map[string]string{"ENCOMPASS_API_URL": "https://u:" + password + "@x"}, []string{"ENCOMPASS_API_URL: must not carry user info"}},
		{"url with query", config.ForProvision, map[string]string{"ENCOMPASS_API_URL": "https://x/?a=b"}, []string{"ENCOMPASS_API_URL: must not have a query"}},
		{"dry run", config.ForProvision, map[string]string{"DRY_RUN": "yes please"}, []string{`DRY_RUN: must be true or false, got "yes please"`}},
		{"ratio zero", config.ForPoller, map[string]string{"POLLER_MAX_REMOVAL_RATIO": "0"}, []string{"POLLER_MAX_REMOVAL_RATIO: must be a number greater than 0 and at most 1"}},
		{"ratio big", config.ForPoller, map[string]string{"POLLER_MAX_REMOVAL_RATIO": "1.5"}, []string{"POLLER_MAX_REMOVAL_RATIO"}},
		{"ratio NaN", config.ForPoller, map[string]string{"POLLER_MAX_REMOVAL_RATIO": "NaN"}, []string{"POLLER_MAX_REMOVAL_RATIO"}},
		{"log level", config.ForProvision, map[string]string{"LOG_LEVEL": "trace"}, []string{`LOG_LEVEL: must be one of debug, info, warn, error, got "trace"`}},
		{"in flight", config.ForProvision, map[string]string{"ENCOMPASS_MAX_IN_FLIGHT": "0"}, []string{"ENCOMPASS_MAX_IN_FLIGHT: must be a whole number"}},
		{"in flight text", config.ForProvision, map[string]string{"ENCOMPASS_MAX_IN_FLIGHT": "four"}, []string{"ENCOMPASS_MAX_IN_FLIGHT"}},
		{"table", config.ForProvision, map[string]string{"STATE_TABLE": ""}, []string{"STATE_TABLE: required"}},
		{"table name", config.ForProvision, map[string]string{"STATE_TABLE": "a b"}, []string{"STATE_TABLE: not a DynamoDB table name"}},
		{"bus", config.ForWebhook, map[string]string{"EVENT_BUS_NAME": "", "WEBHOOK_SIGNING_KEYS": `{"s":"k"}`}, []string{"EVENT_BUS_NAME: required"}},
		{"no client secret", config.ForProvision, map[string]string{"ENCOMPASS_CLIENT_SECRET": ""}, []string{"ENCOMPASS_CLIENT_SECRET: required"}},
		{"password grant without password", config.ForProvision, map[string]string{"ENCOMPASS_PASSWORD": ""}, []string{"ENCOMPASS_PASSWORD: required for the password grant"}},
		{"webhook keys missing", config.ForWebhook, nil, []string{"WEBHOOK_SECRET_ARN: required"}},
		{"webhook keys not json", config.ForWebhook, map[string]string{"WEBHOOK_SIGNING_KEYS": signingKey}, []string{"WEBHOOK_SIGNING_KEYS: is not valid JSON"}},
		{"webhook keys wrong shape", config.ForWebhook, map[string]string{"WEBHOOK_SIGNING_KEYS": `{"sub":{"k":"` + signingKey + `"}}`}, []string{"a subscription's value must be a key string or a list"}},
		{"webhook keys empty list", config.ForWebhook, map[string]string{"WEBHOOK_SIGNING_KEYS": `{"sub":[]}`}, []string{"empty list of keys"}},
		{"webhook keys array", config.ForWebhook, map[string]string{"WEBHOOK_SIGNING_KEYS": `["` + signingKey + `"]`}, []string{"WEBHOOK_SIGNING_KEYS: is not a JSON object"}},
		{"several at once", config.ForProvision, map[string]string{"STATE_TABLE": "", "LOG_LEVEL": "loud"}, []string{"STATE_TABLE: required", "LOG_LEVEL: must be"}},
	}
	runInvalid(t, tests)
}

// Only what a function needs is required: the webhook needs no Encompass.
func TestNeeds(t *testing.T) {
	t.Parallel()
	env := map[string]string{"STATE_TABLE": "tbl", "EVENT_BUS_NAME": "bus",
		"WEBHOOK_SIGNING_KEYS": `{"sub-1":"` + signingKey + `","sub-2":["old","new"]}`}
	c, err := load(t, env, config.ForWebhook)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.WebhookKeys) != 2 || c.WebhookKeys["sub-1"][0] != signingKey || len(c.WebhookKeys["sub-2"]) != 2 {
		t.Fatalf("keys %v", c.WebhookKeys)
	}
	if _, err := load(t, env, config.ForProvision); err == nil || !strings.Contains(err.Error(), "ENCOMPASS_INSTANCE_ID") {
		t.Fatalf("provision without instance: %v", err)
	}
}

// secretARN is an ARN no other test or earlier run in this process used:
// secrets are cached per ARN for the life of the process (a Lambda
// container), so a reused ARN would be served from the cache under
// go test -count=N.
func secretARN(t *testing.T) string {
	return fmt.Sprintf("arn:aws:secretsmanager:us-east-1:123:secret:%s-%d", t.Name(), arnSeq.Add(1))
}

var arnSeq atomic.Int64

func TestSecretsManager(t *testing.T) {
	t.Parallel()
	sm := testenv.SecretsManager(t)
	arn := secretARN(t)
	sm.Put(arn, fmt.Sprintf(`{"clientId":"from-secret","clientSecret":%q,"username":"svc","password":%q}`, clientSecret, password))
	env := base()
	env["ENCOMPASS_SECRET_ARN"] = arn
	delete(env, "ENCOMPASS_CLIENT_SECRET")
	for range 3 {
		c, err := load(t, env, config.ForProvision, config.WithSecretsClient(sm.Client))
		if err != nil {
			t.Fatal(err)
		}
		if c.ClientID != "from-secret" || c.ClientSecret.Reveal() != clientSecret || c.Username != "svc" || c.SecretARN != arn {
			t.Fatalf("%+v", c)
		}
	}
	if sm.Calls(arn) != 1 {
		t.Fatalf("secret read %d times, want once per container", sm.Calls(arn))
	}

	whARN := arn + "-webhook"
	sm.Put(whARN, `{"sub":"`+signingKey+`"}`)
	c, err := load(t, map[string]string{"STATE_TABLE": "tbl", "EVENT_BUS_NAME": "bus", "WEBHOOK_SECRET_ARN": whARN}, config.ForWebhook, config.WithSecretsClient(sm.Client))
	if err != nil || c.WebhookKeys["sub"][0] != signingKey {
		t.Fatalf("%v %v", c, err)
	}
}

func TestSecretsManagerErrors(t *testing.T) {
	t.Parallel()
	sm := testenv.SecretsManager(t)
	prefix := secretARN(t)
	sm.Put(prefix+"-bad", `{"clientId":"x","clientSecret":"`+clientSecret)
	sm.Put(prefix+"-type", `{"clientId":"x","clientSecret":["`+clientSecret+`"]}`)
	sm.Put(prefix+"-nouser", `{"clientId":"x","clientSecret":"`+clientSecret+`","password":"`+password+`"}`)
	for suffix, want := range map[string]string{
		"-missing": "ResourceNotFoundException",
		"-bad":     "is not valid JSON",
		"-type":    `field "clientSecret" must be a string`,
		"-nouser":  "", // password without username: client_credentials grant, fine
	} {
		env := base()
		delete(env, "ENCOMPASS_USERNAME")
		env["ENCOMPASS_SECRET_ARN"] = prefix + suffix
		_, err := load(t, env, config.ForProvision, config.WithSecretsClient(sm.Client))
		if want == "" {
			if err != nil {
				t.Errorf("%s: %v", suffix, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "ENCOMPASS_SECRET_ARN") {
			t.Errorf("%s: err = %v, want %q", suffix, err, want)
		}
	}
}

func TestSecretNeverPrints(t *testing.T) {
	t.Parallel()
	c, err := load(t, base(), config.ForProvision)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("cfg", "config", c, "secret", c.ClientSecret)
	j, _ := json.Marshal(c.EncompassConfig())
	for _, out := range []string{fmt.Sprintf("%v %+v %#v %s", c, c, c, c.Password), buf.String(), string(j)} {
		if strings.Contains(out, clientSecret) || strings.Contains(out, password) {
			t.Fatalf("secret printed: %s", out)
		}
	}
	if !strings.Contains(string(j), "[REDACTED]") {
		t.Fatalf("no redaction marker: %s", j)
	}
}

// The SDK's standard endpoint variables reach local servers: the AWS config
// Load builds sends DynamoDB to dynalite, EventBridge and Secrets Manager to
// the fakes. (Not parallel: it sets process environment.)
func TestEndpointVariables(t *testing.T) {
	d := testenv.DynamoDB(t)
	table := d.CreateTable(t)
	eb := testenv.EventBridge(t)
	sm := testenv.SecretsManager(t)
	arn := secretARN(t)
	sm.Put(arn, `{"clientId":"c","clientSecret":"`+clientSecret+`"}`)
	t.Setenv("AWS_REGION", "us-east-1")
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIDTEST")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "test")
	t.Setenv("AWS_CONFIG_FILE", "/dev/null")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
	t.Setenv("AWS_ENDPOINT_URL_DYNAMODB", d.URL)
	t.Setenv("AWS_ENDPOINT_URL_EVENTBRIDGE", eb.URL)
	t.Setenv("AWS_ENDPOINT_URL_SECRETS_MANAGER", sm.URL)
	env := base()
	env["ENCOMPASS_SECRET_ARN"] = arn
	env["STATE_TABLE"] = table
	c, err := config.Load(context.Background(), getenv(env), config.ForProvision)
	if err != nil {
		t.Fatal(err)
	}
	if sm.Calls(arn) != 1 || c.ClientID != "c" {
		t.Fatalf("secret not read through the endpoint variable: %d calls", sm.Calls(arn))
	}
	ddb := dynamodb.NewFromConfig(c.AWS)
	if _, err := ddb.DescribeTable(context.Background(), &dynamodb.DescribeTableInput{TableName: aws.String(c.StateTable)}); err != nil {
		t.Fatalf("dynamodb via AWS_ENDPOINT_URL_DYNAMODB: %v", err)
	}
	_, err = eventbridge.NewFromConfig(c.AWS).PutEvents(context.Background(), &eventbridge.PutEventsInput{Entries: []ebtypes.PutEventsRequestEntry{{
		Source: aws.String("s"), DetailType: aws.String("d"), Detail: aws.String(`{"eventId":"x"}`), EventBusName: aws.String(c.EventBusName),
	}}})
	if err != nil || eb.Count("d") != 1 {
		t.Fatalf("eventbridge via AWS_ENDPOINT_URL_EVENTBRIDGE: %v", err)
	}
}

// Whatever the webhook key JSON looks like, an error never quotes a key (nor
// a subscription id, which may be a key pasted in the wrong place). The JSON
// goes through Load, so the one parser (encompass.ParseSigningKeys) and the
// error that names the variable are both covered.
func FuzzParseSigningKeys(f *testing.F) {
	for _, seed := range []string{
		`{"sub":"KEYMARK"}`, `{"KEYMARK":1}`, `{"sub":["KEYMARK",""]}`, `["KEYMARK"]`, `"KEYMARK"`, `{"sub":{"KEYMARK":1}}`,
		`{"sub":"KEYMARK"`, `KEYMARK`, `{"a":"b","sub":[1,"KEYMARK"]}`, `{"":"KEYMARK"}`, `{"sub":[]}`, `{"KEYMARK":[]}`, `{"KEYMARK":""}`,
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		env := map[string]string{"STATE_TABLE": "tbl", "EVENT_BUS_NAME": "bus", "WEBHOOK_SIGNING_KEYS": raw}
		c, err := config.Load(context.Background(), getenv(env), config.ForWebhook, awsCfg)
		if err != nil {
			if strings.Contains(err.Error(), "KEYMARK") {
				t.Fatalf("error quotes input: %v", err)
			}
			return
		}
		keys := c.WebhookKeys
		if len(keys) == 0 {
			t.Fatal("no error and no keys")
		}
		for _, ks := range keys {
			for _, k := range ks {
				if k == "" {
					t.Fatal("empty key accepted")
				}
			}
		}
		// However the configuration is printed, no key shows.
		var buf bytes.Buffer
		slog.New(slog.NewJSONHandler(&buf, nil)).Info("cfg", "config", c, "keys", keys)
		j, err := json.Marshal(keys)
		if err != nil {
			t.Fatal(err)
		}
		out := fmt.Sprintf("%v %+v %#v %s", c, c, c, keys) + buf.String() + string(j)
		for _, ks := range keys {
			for _, k := range ks {
				if len(k) >= 8 && strings.Contains(out, k) {
					t.Fatalf("key printed: %s", out)
				}
			}
		}
	})
}

// The one parser keeps the messages an operator reads at cold start, each
// naming the variable.
func TestWebhookKeyErrors(t *testing.T) {
	t.Parallel()
	for raw, want := range map[string]string{
		` `:                          "WEBHOOK_SIGNING_KEYS: is empty: want a JSON object",
		`{`:                          "WEBHOOK_SIGNING_KEYS: is not valid JSON (syntax error at byte 1)",
		`"` + signingKey + `"`:       "WEBHOOK_SIGNING_KEYS: is not a JSON object (got a JSON string)",
		`{}`:                         "WEBHOOK_SIGNING_KEYS: has no subscriptions",
		`{" ":"` + signingKey + `"}`: "WEBHOOK_SIGNING_KEYS: has an empty subscription id",
		`{"` + signingKey + `":1}`:   "WEBHOOK_SIGNING_KEYS: a subscription's value must be a key string or a list of key strings",
		`{"sub":[""]}`:               "WEBHOOK_SIGNING_KEYS: a subscription has an empty key",
	} {
		_, err := load(t, map[string]string{"STATE_TABLE": "tbl", "EVENT_BUS_NAME": "bus", "WEBHOOK_SIGNING_KEYS": raw}, config.ForWebhook)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: err = %v, want %q", raw, err, want)
		}
	}
}

// Webhook keys in a Config never print, whichever way it is printed.
func TestWebhookKeysNeverPrint(t *testing.T) {
	t.Parallel()
	c, err := load(t, map[string]string{"STATE_TABLE": "tbl", "EVENT_BUS_NAME": "bus",
		"WEBHOOK_SIGNING_KEYS": `{"sub-1":["` + signingKey + `","Other-Key-0123456789abcdef!"]}`}, config.ForWebhook)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("cfg", "config", c, "keys", c.WebhookKeys)
	slog.New(slog.NewTextHandler(&buf, nil)).Info("cfg", "config", c, "keys", c.WebhookKeys)
	j, err := json.Marshal(struct{ Keys any }{c.WebhookKeys})
	if err != nil {
		t.Fatal(err)
	}
	out := fmt.Sprintf("%v %+v %#v %s %#v", c, c, c, c.WebhookKeys, c.WebhookKeys) + buf.String() + string(j)
	if strings.Contains(out, signingKey) || strings.Contains(out, "Other-Key") {
		t.Fatalf("a webhook key printed: %s", out)
	}
	if !strings.Contains(out, "sub-1") {
		t.Fatalf("subscription ids should still show: %s", out)
	}
}
