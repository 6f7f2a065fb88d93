package events_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"

	sample "github.com/lenderops/encompass-lifecycle/events"
	"github.com/lenderops/encompass-lifecycle/internal/lambdarun"
	"github.com/lenderops/encompass-lifecycle/pkg/config"
	"github.com/lenderops/encompass-lifecycle/pkg/encompass"
	"github.com/lenderops/encompass-lifecycle/pkg/encompass/encompasstest"
	"github.com/lenderops/encompass-lifecycle/pkg/hris"
)

var update = flag.Bool("update", false, "rewrite the sample files in events/ from this generator")

// Queue ARNs in the samples; the functions do not depend on them.
const (
	provisionQueueARN   = "arn:aws:sqs:us-east-1:123456789012:EncompassLifecycle-ProvisionQueue.fifo"
	deprovisionQueueARN = "arn:aws:sqs:us-east-1:123456789012:EncompassLifecycle-DeprovisionQueue.fifo"
	// sampleTime is when the samples were "sent"; fixed so that -update is
	// reproducible.
	sampleTime = "2026-11-20T15:04:05Z"
)

// hrisBody is one HRIS event body (CONTRACTS section 1) of the samples'
// story: Jane Doe is hired, moves, leaves and comes back.
func hrisBody(eventID, typ, occurredAt string, employee map[string]any) []byte {
	b, err := json.Marshal(map[string]any{
		"schemaVersion": "1",
		"eventId":       eventID,
		"type":          typ,
		"occurredAt":    occurredAt,
		"source":        "workday",
		"employee":      employee,
	})
	if err != nil {
		panic(err)
	}
	return b
}

var jane = map[string]any{
	"employeeId":         "E12345",
	"givenName":          "Jane",
	"middleName":         "Q",
	"familyName":         "Doe",
	"email":              "jane.doe@example.com",
	"workPhone":          "(555) 555-1234 x12",
	"mobilePhone":        "555.555.0000",
	"jobTitle":           "Senior Loan Officer",
	"jobCode":            "LO2",
	"department":         "Retail Lending",
	"location":           "Branch 12",
	"nmlsId":             "123456",
	"nmlsExpirationDate": "2027-06-30",
	"stateLicenses": []any{
		map[string]any{"state": "CA", "licenseNumber": "CA-99", "expirationDate": "2027-01-01", "status": "Approved"},
	},
	"ssoOnly": true,
}

// with returns the profile with changes applied: an update carries the
// employee's whole current profile, so that it also works for someone not
// linked yet (adopted or created by e-mail, CONTRACTS section 2).
func with(profile, changes map[string]any) map[string]any {
	out := maps.Clone(profile)
	maps.Copy(out, changes)
	return out
}

// sqsSample is one record of a FIFO queue delivery. The producer sets
// MessageGroupId = employeeId and MessageDeduplicationId = eventId.
type sqsSample struct {
	file, queueARN, groupID, dedupID string
	seq                              int
	body                             []byte
}

func (s sqsSample) event() events.SQSEvent {
	sent := mustTime(sampleTime).Add(time.Duration(s.seq) * time.Minute).UnixMilli()
	return events.SQSEvent{Records: []events.SQSMessage{{
		MessageId:     fmt.Sprintf("5f0c3a52-0000-4000-8000-%012d", s.seq),
		ReceiptHandle: fmt.Sprintf("sample-receipt-handle-%d", s.seq),
		Body:          string(s.body),
		Attributes: map[string]string{
			"ApproximateReceiveCount":          "1",
			"SentTimestamp":                    fmt.Sprint(sent),
			"SenderId":                         "AIDAEXAMPLEHRISPRODUCER",
			"ApproximateFirstReceiveTimestamp": fmt.Sprint(sent + 20),
			"SequenceNumber":                   fmt.Sprintf("1888%016d", s.seq),
			"MessageGroupId":                   s.groupID,
			"MessageDeduplicationId":           s.dedupID,
		},
		MessageAttributes: map[string]events.SQSMessageAttribute{},
		EventSource:       "aws:sqs",
		EventSourceARN:    s.queueARN,
		AWSRegion:         "us-east-1",
	}}}
}

var sqsSamples = []sqsSample{
	{"provision-hire.json", provisionQueueARN, "E12345", "hris-sample-0001", 1,
		hrisBody("hris-sample-0001", "hire", "2026-11-20T15:00:00Z", jane)},
	{"provision-update.json", provisionQueueARN, "E12345", "hris-sample-0002", 2,
		hrisBody("hris-sample-0002", "update", "2026-11-20T15:01:00Z", with(jane, map[string]any{
			"jobTitle": "Loan Processor", "jobCode": "LP1", "department": "Processing", "middleName": nil,
		}))},
	{"deprovision-terminate.json", deprovisionQueueARN, "E12345", "hris-sample-0003", 3,
		hrisBody("hris-sample-0003", "terminate", "2026-11-20T15:02:00Z", map[string]any{"employeeId": "E12345"})},
	{"provision-rehire.json", provisionQueueARN, "E12345", "hris-sample-0004", 4,
		hrisBody("hris-sample-0004", "rehire", "2026-11-20T15:03:00Z", jane)},
	// A producer bug: the body is cut off. The provision function rejects it
	// (invalid_json) and publishes HRIS Event Rejected with the body.
	{"provision-malformed.json", provisionQueueARN, "E99999", "hris-sample-0099", 99,
		[]byte(`{"schemaVersion":"1","eventId":"hris-sample-0099","type":"hire","occurredAt":"2026-11-20T15:04:00Z","employee":{"employeeId":"E99999","givenName":"Trunc`)},
}

// webhookBody is a Loan update delivery (field-notes: eventId, eventTime,
// eventType, meta with resourceType and the rest).
var webhookBody = []byte(`{"eventId":"0c9f6a61-5d8e-4b7a-9a51-3f1e2d4c5b6a","eventTime":"2026-11-20T15:04:05Z","eventType":"update",` +
	`"meta":{"userId":"apiadmin","resourceType":"Loan","resourceId":"6a0c1f7e-2b3d-4e5f-8a9b-0c1d2e3f4a5b",` +
	`"instanceId":"BE11200922","resourceRef":"/encompass/v3/loans/6a0c1f7e-2b3d-4e5f-8a9b-0c1d2e3f4a5b"}}`)

// otherKey signs the bad-signature sample: a well-formed signature that no
// configured key produces.
const otherKey = "NotTheConfiguredKey#ForLocalTests2026"

func webhookRequest(method, path string, body []byte, signature string, seq int) events.APIGatewayV2HTTPRequest {
	headers := map[string]string{
		"content-type":      "application/json",
		"user-agent":        "Encompass-Webhook",
		"x-forwarded-proto": "https",
	}
	if method == "POST" {
		headers["content-length"] = fmt.Sprint(len(body))
		headers["elli-subscriptionid"] = sample.WebhookTestSubscriptionID
		headers["elli-environment"] = "prod"
		headers["elli-signature"] = signature
	}
	t := mustTime(sampleTime)
	return events.APIGatewayV2HTTPRequest{
		Version:  "2.0",
		RouteKey: method + " " + path,
		RawPath:  path,
		Headers:  headers,
		Body:     string(body),
		RequestContext: events.APIGatewayV2HTTPRequestContext{
			AccountID:    "123456789012",
			APIID:        "sampleapi",
			DomainName:   "sampleapi.execute-api.us-east-1.amazonaws.com",
			DomainPrefix: "sampleapi",
			Stage:        "$default",
			RequestID:    fmt.Sprintf("sample-request-%d", seq),
			Time:         t.Format("02/Jan/2006:15:04:05 -0700"),
			TimeEpoch:    t.UnixMilli(),
			HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{
				Method:    method,
				Path:      path,
				Protocol:  "HTTP/1.1",
				SourceIP:  "203.0.113.10",
				UserAgent: "Encompass-Webhook",
			},
		},
	}
}

// scheduledEvent is what the stack's EventBridge Scheduler target sends.
func scheduledEvent() events.EventBridgeEvent {
	return events.EventBridgeEvent{
		Version:    "0",
		ID:         "7c4b2e58-0000-4000-8000-000000000001",
		DetailType: "Scheduled Event",
		Source:     "aws.scheduler",
		AccountID:  "123456789012",
		Time:       mustTime(sampleTime),
		Region:     "us-east-1",
		Resources:  []string{"arn:aws:scheduler:us-east-1:123456789012:schedule/default/EncompassLifecycle-PollerSchedule"},
		Detail:     json.RawMessage(`{}`),
	}
}

// envVars is the `sam local invoke --env-vars` file: Encompass is the
// simulator (`make sim` on the host, reached from SAM's container as
// host.docker.internal) with its public default credentials; DynamoDB is
// dynalite on the host; EventBridge and Secrets Manager stay the SDK's
// defaults (empty means unset). The secret ARNs are emptied so that the
// functions use the variables instead.
func envVars() map[string]map[string]string {
	encompassVars := map[string]string{
		"ENCOMPASS_API_URL":       "http://host.docker.internal:8081",
		"ENCOMPASS_INSTANCE_ID":   encompasstest.DefaultInstanceID,
		"ENCOMPASS_SECRET_ARN":    "",
		"ENCOMPASS_CLIENT_ID":     encompasstest.DefaultClientID,
		"ENCOMPASS_CLIENT_SECRET": encompasstest.DefaultClientSecret,
		"ENCOMPASS_USERNAME":      encompasstest.DefaultUsername,
		"ENCOMPASS_PASSWORD":      encompasstest.DefaultPassword,
		"ENCOMPASS_USER_API":      "scim",
	}
	keys, _ := json.Marshal(map[string]string{sample.WebhookTestSubscriptionID: sample.WebhookTestSigningKey})
	// Held events (CONTRACTS section 2a): the provisioning functions need a
	// Scheduler group, role and dead-letter queue and their queue's ARN to
	// start; the samples are due now, so nothing calls the Scheduler.
	held := func(queueVar, queueARN string) map[string]string {
		m := maps.Clone(encompassVars)
		maps.Copy(m, map[string]string{
			"SCHEDULER_GROUP":            "encompass-lifecycle-held-events",
			"SCHEDULER_ROLE_ARN":         "arn:aws:iam::123456789012:role/EncompassLifecycle-HeldEventsSchedulerRole",
			"SCHEDULER_DLQ_ARN":          "arn:aws:sqs:us-east-1:123456789012:EncompassLifecycle-HeldEventsDLQ",
			"AWS_ENDPOINT_URL_SCHEDULER": "",
			queueVar:                     queueARN,
		})
		return m
	}
	return map[string]map[string]string{
		"Parameters": {
			"STATE_TABLE":                      "encompass-lifecycle-state",
			"EVENT_BUS_NAME":                   "encompass-lifecycle",
			"LOG_LEVEL":                        "debug",
			"AWS_ENDPOINT_URL_DYNAMODB":        "http://host.docker.internal:8000",
			"AWS_ENDPOINT_URL_EVENTBRIDGE":     "",
			"AWS_ENDPOINT_URL_SECRETS_MANAGER": "",
		},
		"ProvisionFunction":   held("PROVISION_QUEUE_ARN", provisionQueueARN),
		"DeprovisionFunction": held("DEPROVISION_QUEUE_ARN", deprovisionQueueARN),
		"PollerFunction":      encompassVars,
		// Reconcile reads the roster bucket and sends to the queues of the
		// template (real AWS) unless AWS_ENDPOINT_URL_S3 and _SQS point at
		// local servers; `make reconcile` runs it against local ones.
		"ReconcileFunction": encompassVars,
		"WebhookFunction": {
			"WEBHOOK_SECRET_ARN":   "",
			"WEBHOOK_SIGNING_KEYS": string(keys),
		},
	}
}

// samples generates every file of events/.
func samples() map[string]any {
	files := map[string]any{}
	for _, s := range sqsSamples {
		files[s.file] = s.event()
	}
	files["poller-scheduled.json"] = scheduledEvent()
	files["webhook-loan-update.json"] = webhookRequest("POST", "/webhooks/encompass", webhookBody,
		encompass.Sign(sample.WebhookTestSigningKey, webhookBody), 1)
	files["webhook-bad-signature.json"] = webhookRequest("POST", "/webhooks/encompass", webhookBody,
		encompass.Sign(otherKey, webhookBody), 2)
	files["webhook-health.json"] = webhookRequest("GET", "/webhooks/encompass/health", nil, "", 3)
	files["env.json"] = envVars()
	return files
}

func encode(v any) []byte {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		panic(err)
	}
	return b.Bytes()
}

func mustTime(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

// TestSamplesAreUpToDate: the committed files are what the generator
// writes, so a hand edit (or a stale signature) cannot slip in.
func TestSamplesAreUpToDate(t *testing.T) {
	want := samples()
	if *update {
		for name, v := range want {
			if err := os.WriteFile(name, encode(v), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	onDisk, err := filepath.Glob("*.json")
	if err != nil {
		t.Fatal(err)
	}
	if got := slices.Sorted(maps.Keys(want)); !slices.Equal(onDisk, got) {
		t.Errorf("events/ holds %v, the generator writes %v (run go test ./events -update)", onDisk, got)
	}
	for name, v := range want {
		b, err := os.ReadFile(name)
		if err != nil {
			t.Errorf("%s: %v (run go test ./events -update)", name, err)
			continue
		}
		if !bytes.Equal(b, encode(v)) {
			t.Errorf("%s differs from the generator (run go test ./events -update)", name)
		}
	}
}

// decodeStrict decodes a file into the function's event type, refusing
// fields the type does not have, so that a misspelt key is caught.
func decodeStrict(t *testing.T, name string, v any) {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		t.Fatalf("%s does not decode into %T: %v", name, v, err)
	}
}

// TestEveryFileDecodesIntoItsFunctionsEvent is the check of the issue:
// each file is the event type its function takes, and its content means
// what its name says.
func TestEveryFileDecodesIntoItsFunctionsEvent(t *testing.T) {
	files, err := filepath.Glob("*.json")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 10 {
		t.Fatalf("only %d sample files", len(files))
	}
	for _, name := range files {
		t.Run(name, func(t *testing.T) {
			switch {
			case name == "env.json":
				checkEnvVars(t, name)
			case strings.HasPrefix(name, "provision-"):
				checkSQS(t, name, hris.QueueProvision, provisionQueueARN)
			case strings.HasPrefix(name, "deprovision-"):
				checkSQS(t, name, hris.QueueDeprovision, deprovisionQueueARN)
			case strings.HasPrefix(name, "poller-"):
				var ev events.EventBridgeEvent
				decodeStrict(t, name, &ev)
				if ev.DetailType != "Scheduled Event" || ev.Time.IsZero() || string(ev.Detail) != "{}" {
					t.Errorf("not a scheduled event: %+v", ev)
				}
			case strings.HasPrefix(name, "webhook-"):
				checkWebhook(t, name)
			default:
				t.Fatalf("no function takes %s: name it provision-, deprovision-, poller- or webhook-", name)
			}
		})
	}
}

func checkSQS(t *testing.T, name string, q hris.Queue, arn string) {
	var ev events.SQSEvent
	decodeStrict(t, name, &ev)
	if len(ev.Records) == 0 {
		t.Fatal("no records")
	}
	for _, rec := range ev.Records {
		if rec.EventSource != "aws:sqs" || rec.EventSourceARN != arn || !strings.HasSuffix(rec.EventSourceARN, ".fifo") {
			t.Errorf("record from %s %s", rec.EventSource, rec.EventSourceARN)
		}
		got, err := hris.Decode([]byte(rec.Body), q, time.Now())
		if name == "provision-malformed.json" {
			e, ok := hris.AsError(err)
			if !ok || e.Reason != hris.ReasonInvalidJSON {
				t.Fatalf("malformed body decoded to %+v, %v; want an invalid_json rejection", got, err)
			}
			continue
		}
		if err != nil {
			t.Fatalf("body does not decode as an HRIS event: %v", err)
		}
		// FIFO attributes as the producer is told to set them.
		if g := rec.Attributes["MessageGroupId"]; g != got.Employee.EmployeeID {
			t.Errorf("MessageGroupId %q, employeeId %q", g, got.Employee.EmployeeID)
		}
		if d := rec.Attributes["MessageDeduplicationId"]; d != got.EventID {
			t.Errorf("MessageDeduplicationId %q, eventId %q", d, got.EventID)
		}
		wantType := strings.TrimSuffix(strings.SplitN(name, "-", 2)[1], ".json")
		if string(got.Type) != wantType {
			t.Errorf("%s holds a %q event", name, got.Type)
		}
	}
}

func checkWebhook(t *testing.T, name string) {
	var req events.APIGatewayV2HTTPRequest
	decodeStrict(t, name, &req)
	if req.Version != "2.0" || req.RequestContext.HTTP.Method != strings.Fields(req.RouteKey)[0] {
		t.Errorf("not an HTTP API payload 2.0 request: version %q, route %q", req.Version, req.RouteKey)
	}
	if name == "webhook-health.json" {
		if req.RouteKey != "GET /webhooks/encompass/health" || req.Headers["elli-signature"] != "" {
			t.Errorf("health request = %s with signature %q", req.RouteKey, req.Headers["elli-signature"])
		}
		return
	}
	if req.RouteKey != "POST /webhooks/encompass" || req.IsBase64Encoded {
		t.Errorf("route %q, base64 %v", req.RouteKey, req.IsBase64Encoded)
	}
	if _, err := encompass.ParseWebhookEvent([]byte(req.Body)); err != nil {
		t.Errorf("body is not a webhook delivery: %v", err)
	}
	keys := encompass.SigningKeys{sample.WebhookTestSubscriptionID: {sample.WebhookTestSigningKey}}
	err := keys.Verify(req.Headers["elli-subscriptionid"], []byte(req.Body), req.Headers["elli-signature"])
	switch name {
	case "webhook-bad-signature.json":
		if !errors.Is(err, encompass.ErrBadSignature) {
			t.Errorf("bad-signature sample verifies as %v, want ErrBadSignature", err)
		}
	default:
		if err != nil {
			t.Errorf("signature does not verify with the documented test key: %v", err)
		}
	}
}

func checkEnvVars(t *testing.T, name string) {
	if !encompass.ValidSigningKey(sample.WebhookTestSigningKey) {
		t.Error("the documented test key does not meet Encompass's key policy")
	}
	for _, fn := range []string{"provision", "deprovision", "poller", "webhook"} {
		// The project's runner reads the same file as SAM does.
		vars, err := lambdarun.LoadEnvVars(name, lambdarun.LogicalID(fn))
		if err != nil {
			t.Fatalf("%s: %v", fn, err)
		}
		if vars["STATE_TABLE"] == "" || vars["EVENT_BUS_NAME"] == "" {
			t.Errorf("%s: no table or bus: %v", fn, vars)
		}
		if fn == "webhook" {
			keys, err := encompass.ParseSigningKeys([]byte(vars["WEBHOOK_SIGNING_KEYS"]))
			if err != nil || len(keys[sample.WebhookTestSubscriptionID]) != 1 {
				t.Errorf("webhook keys = %v, %v", keys, err)
			}
			if _, ok := vars["WEBHOOK_SECRET_ARN"]; !ok {
				t.Error("WEBHOOK_SECRET_ARN must be overridden (emptied) for the local keys to be used")
			}
			continue
		}
		if vars["ENCOMPASS_INSTANCE_ID"] != encompasstest.DefaultInstanceID || vars["ENCOMPASS_CLIENT_ID"] != encompasstest.DefaultClientID ||
			!strings.HasSuffix(vars["ENCOMPASS_API_URL"], ":8081") {
			t.Errorf("%s does not point at the simulator: %v", fn, vars)
		}
		if v, ok := vars["ENCOMPASS_SECRET_ARN"]; !ok || v != "" {
			t.Errorf("%s: ENCOMPASS_SECRET_ARN must be overridden with \"\", got %q, %v", fn, v, ok)
		}
		// The function starts with them: its own configuration check.
		need := map[string]config.Needs{"provision": config.ForProvision, "deprovision": config.ForDeprovision, "poller": config.ForPoller}[fn]
		if _, err := config.Load(context.Background(), func(k string) string { return vars[k] }, need,
			config.WithAWSConfig(aws.Config{Region: "us-east-1"})); err != nil {
			t.Errorf("%s would not start with %s: %v", fn, name, err)
		}
	}
}
