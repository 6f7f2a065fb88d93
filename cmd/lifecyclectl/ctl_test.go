package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/lenderops/encompass-lifecycle/internal/testenv"
	"github.com/lenderops/encompass-lifecycle/pkg/state"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// secrets are variables an operator's shell may hold; nothing lifecyclectl
// prints may contain their values.
var secrets = map[string]string{
	"AWS_SECRET_ACCESS_KEY":   "wJalrXUtnFEMI-K7MDENG-bPxRfiCYzzSECRET",
	"AWS_SESSION_TOKEN":       "IQoJb3JpZ2luX2VjEJ-session-token-value",
	"ENCOMPASS_CLIENT_SECRET": "encompass-client-secret-value-123",
	"ENCOMPASS_PASSWORD":      "Encompass-Password-456!",
}

type harness struct {
	t      *testing.T
	table  string
	client *dynamodb.Client
	store  *state.Store
	sqs    *testenv.SQSFake
	env    map[string]string
	now    time.Time
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	d := testenv.DynamoDB(t)
	h := &harness{t: t, table: d.CreateTable(t), client: d.Client, sqs: testenv.SQS(t), env: map[string]string{}}
	h.now = time.Now().UTC()
	h.store = state.New(d.Client, h.table, state.WithClock(func() time.Time { return h.now }))
	h.env["STATE_TABLE"] = h.table
	for k, v := range secrets {
		h.env[k] = v
	}
	return h
}

// run runs one command line and returns its exit status, stdout and stderr.
func (h *harness) run(args ...string) (int, string, string) {
	h.t.Helper()
	var stdout, stderr bytes.Buffer
	d := &deps{
		stdout: &stdout, stderr: &stderr,
		getenv: func(k string) string { return h.env[k] },
		now:    func() time.Time { return h.now },
		store: func(_ context.Context, table string) (*state.Store, error) {
			return state.New(h.client, table, state.WithClock(func() time.Time { return h.now })), nil
		},
		sqs: func(context.Context) (sqsAPI, error) { return h.sqs.Client, nil },
	}
	code := run(context.Background(), args, d)
	for name, v := range secrets {
		if strings.Contains(stdout.String(), v) || strings.Contains(stderr.String(), v) {
			h.t.Errorf("%v: the value of %s was printed", args, name)
		}
	}
	return code, stdout.String(), stderr.String()
}

func (h *harness) rawPut(item map[string]ddbtypes.AttributeValue) {
	h.t.Helper()
	if _, err := h.client.PutItem(context.Background(), &dynamodb.PutItemInput{TableName: aws.String(h.table), Item: item}); err != nil {
		h.t.Fatal(err)
	}
}

func sv(s string) ddbtypes.AttributeValue { return &ddbtypes.AttributeValueMemberS{Value: s} }

// seedAlice writes what provisioning leaves for an active, moved employee.
func (h *harness) seedAlice() {
	h.t.Helper()
	ctx := context.Background()
	occurred := h.now.Add(-2 * time.Hour).Truncate(time.Second)
	if err := h.store.PutEmployee(ctx, state.Employee{EmployeeID: "E1001", UserID: "alice.nguyen", GlobalUserID: "g-77", UserName: "alice.nguyen",
		LastOccurredAt: occurred, LastEventID: "hris-0007", Status: state.StatusActive}, 0); err != nil {
		h.t.Fatal(err)
	}
	if _, err := h.store.Claim(ctx, state.EventKey("hris-0007"), "m-7", state.ClaimOptions{EmployeeID: "E1001"}); err != nil {
		h.t.Fatal(err)
	}
	if err := h.store.CompleteClaim(ctx, state.EventKey("hris-0007"), `{"state":"published","outcome":"User Updated"}`); err != nil {
		h.t.Fatal(err)
	}
	for i, f := range []map[string]string{
		{"loginId": "alice.nguyen", "title": "Loan Officer"},
		{"organizationId": "org-2", "title": "Senior Loan Processor", "password": "never-stored-but-never-printed"},
	} {
		if err := h.store.RecordWrite(ctx, state.Write{LoginID: "Alice.Nguyen", UserID: "alice.nguyen", EmployeeID: "E1001",
			EventID: []string{"hris-0001", "hris-0007"}[i], At: h.now.Add(time.Duration(i-2) * time.Hour), Fields: f}); err != nil {
			h.t.Fatal(err)
		}
	}
}

func TestUsage(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{nil, 2, "lifecyclectl employee"},
		{[]string{"help"}, 0, "lifecyclectl redrive"},
		{[]string{"-h"}, 0, "lifecyclectl rejected"},
		{[]string{"pending", "-h"}, 0, "-overdue"},
		{[]string{"cancel"}, 2, `unknown command "cancel"`},
		{[]string{"employee", "-h"}, 0, "-writes"},
	} {
		code, _, stderr := h.run(tc.args...)
		if code != tc.code || !strings.Contains(stderr, tc.want) {
			t.Errorf("%v: exit %d, stderr %q; want %d and %q", tc.args, code, stderr, tc.code, tc.want)
		}
	}
}

func TestEmployee(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.seedAlice()
	code, out, stderr := h.run("employee", "E1001")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, want := range []string{
		"employee E1001 (table " + h.table + ")",
		"status       active (link version 1",
		"login alice.nguyen, userId alice.nguyen, globalUserId g-77",
		"last event   hris-0007 (published User Updated), occurred " + h.now.Add(-2*time.Hour).Truncate(time.Second).Format(time.RFC3339),
		"terminated   no",
		"held events  none",
		"last writes  newest first (write log USER#alice.nguyen",
		`hris-0007  organizationId="org-2" password="[REDACTED]" title="Senior Loan Processor"`,
		`hris-0001  loginId="alice.nguyen" title="Loan Officer"`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if strings.Index(out, "hris-0007  organizationId") > strings.Index(out, "hris-0001  loginId") {
		t.Errorf("writes not newest first:\n%s", out)
	}
	if strings.Contains(out, "never-stored-but-never-printed") {
		t.Error("a password field's value was printed")
	}

	// -writes 1 and -json, flags after the id.
	code, out, stderr = h.run("employee", "E1001", "-writes", "1", "-json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var rep employeeReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if rep.Link == nil || rep.Link.Status != "active" || rep.Link.GlobalUserID != "g-77" || rep.LastEvent == nil || rep.LastEvent.Outcome != "User Updated" ||
		len(rep.Writes) != 1 || rep.Writes[0].EventID != "hris-0007" || rep.Writes[0].Fields["password"] != "[REDACTED]" || rep.Terminated != nil {
		t.Errorf("json report %+v", rep)
	}
}

func TestEmployeeTerminatedAndHeld(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	ctx := context.Background()
	if err := h.store.PutEmployee(ctx, state.Employee{EmployeeID: "E1003", UserID: "carol.diaz", UserName: "carol.diaz",
		LastOccurredAt: h.now.Add(-time.Hour), LastEventID: "hris-0005", Status: state.StatusTerminated}, 0); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"E0001", "E1003", "E2000"} {
		if err := h.store.MarkTerminated(ctx, id, "u-"+id, strings.ToLower(id)+".login"); err != nil {
			t.Fatal(err)
		}
	}
	// A resignation held until the day after tomorrow.
	due := h.now.Add(48 * time.Hour).Truncate(time.Second)
	if err := h.store.PutHeld(ctx, state.Held{EmployeeID: "E1003", EventID: "hris-0100", Type: "terminate", DueAt: due, OccurredAt: h.now,
		Queue: "deprovision", ScheduleName: "held-hris-0100", Body: `{"eventId":"hris-0100"}`}); err != nil {
		t.Fatal(err)
	}
	code, out, stderr := h.run("employee", "E1003")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, want := range []string{"status       terminated", "terminated   yes, since", "(login e1003.login)", "held events  1",
		"due " + due.Format(time.RFC3339) + "  terminate hris-0100", "last event   hris-0005, occurred", "last writes  none in the last 7 days"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	// A tombstone: a link without an account.
	if err := h.store.PutEmployee(ctx, state.Employee{EmployeeID: "E9", LastOccurredAt: h.now, LastEventID: "t-9", Status: state.StatusTombstone}, 0); err != nil {
		t.Fatal(err)
	}
	if code, out, _ := h.run("employee", "E9"); code != 0 || !strings.Contains(out, "no account (a tombstone") || !strings.Contains(out, "no Encompass login") {
		t.Errorf("tombstone: exit %d\n%s", code, out)
	}
}

func TestEmployeeBadInput(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.seedAlice()
	// Malformed items: the link says what is wrong; the other sections still show.
	h.rawPut(map[string]ddbtypes.AttributeValue{"pk": sv("EMP#E666"), "sk": sv("PROFILE"), "employeeId": sv("E666"),
		"status": sv("zombie"), "version": &ddbtypes.AttributeValueMemberN{Value: "1"}, "lastOccurredAt": sv("2026-11-20T00:00:00Z")})
	h.rawPut(map[string]ddbtypes.AttributeValue{"pk": sv("TERMINATED"), "sk": sv("E666"), "employeeId": sv("E666"), "terminatedAt": sv("2026-11-20T00:00:00Z")})
	code, out, stderr := h.run("employee", "E666")
	if code != 1 || !strings.Contains(out, `ERROR        link: state: malformed item`) || !strings.Contains(out, "terminated   yes") ||
		!strings.Contains(stderr, "1 section(s) could not be read") {
		t.Errorf("malformed link: exit %d\n%s\n%s", code, out, stderr)
	}
	// A malformed entry of the employee in the terminated index is
	// reported, not skipped.
	h.rawPut(map[string]ddbtypes.AttributeValue{"pk": sv("TERMINATED"), "sk": sv("E1001"), "terminatedAt": sv("yesterday")})
	if code, out, _ := h.run("employee", "E1001"); code != 1 || !strings.Contains(out, "ERROR        terminated index") || !strings.Contains(out, "status       active") {
		t.Errorf("malformed terminated entry: exit %d\n%s", code, out)
	}
	if _, err := h.client.DeleteItem(context.Background(), &dynamodb.DeleteItemInput{TableName: aws.String(h.table),
		Key: map[string]ddbtypes.AttributeValue{"pk": sv("TERMINATED"), "sk": sv("E1001")}}); err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct {
		name string
		args []string
		env  map[string]string
		code int
		want string
	}{
		{"unknown employee", []string{"employee", "E404"}, nil, 1, "employee E404 is not in table"},
		{"no id", []string{"employee"}, nil, 2, "want EMPLOYEE_ID"},
		{"two ids", []string{"employee", "E1", "E2"}, nil, 2, "want EMPLOYEE_ID"},
		{"terminal escape in the id", []string{"employee", "E1\x1b[2J"}, nil, 2, "control or invisible character"},
		{"zero-width space", []string{"employee", "E1\u200b"}, nil, 2, "control or invisible character"},
		{"id too long", []string{"employee", strings.Repeat("E", 600)}, nil, 2, "ids are at most 512"},
		{"no table", []string{"employee", "E1001"}, map[string]string{"STATE_TABLE": ""}, 2, "set STATE_TABLE or -table"},
		{"table that does not exist", []string{"employee", "-table", "no-such-table", "E1001"}, nil, 1, "ResourceNotFoundException"},
		{"bad -writes", []string{"employee", "-writes", "-1", "E1001"}, nil, 2, "want 0 to 1000"},
		{"unknown flag", []string{"employee", "-bogus", "E1001"}, nil, 2, "flag provided but not defined"},
	} {
		for k, v := range tc.env {
			h.env[k] = v
		}
		code, _, stderr := h.run(tc.args...)
		if code != tc.code || !strings.Contains(stderr, tc.want) {
			t.Errorf("%s: exit %d, stderr %q; want %d and %q", tc.name, code, stderr, tc.code, tc.want)
		}
		h.env["STATE_TABLE"] = h.table
	}
}

func TestRejected(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	ctx := context.Background()
	big := bytes.Repeat([]byte("{\"pad\":\"é\x00\xff"), (state.MaxRejectedBodyBytes)/12)
	if _, err := h.store.PutRejectedBody(ctx, "ev-big", "m-1", big, 0); err != nil {
		t.Fatal(err)
	}
	code, out, stderr := h.run("rejected", "ev-big")
	if code != 0 || out != string(big) {
		t.Fatalf("exit %d, %d bytes on stdout (want the %d bytes verbatim): %s", code, len(out), len(big), stderr)
	}
	if !strings.Contains(stderr, "body 1 of 1: event ev-big, message m-1, ") || !strings.Contains(stderr, "in 3 parts, sha256 ") {
		t.Errorf("stderr %q", stderr)
	}

	dir := t.TempDir()
	path := filepath.Join(dir, "body.json")
	if code, out, stderr := h.run("rejected", "-o", path, "ev-big"); code != 0 || out != "" {
		t.Fatalf("-o: exit %d, stdout %d bytes: %s", code, len(out), stderr)
	}
	if got, err := os.ReadFile(path); err != nil || !bytes.Equal(got, big) {
		t.Fatalf("file: %d bytes, %v", len(got), err)
	}
	if code, _, stderr := h.run("rejected", "-o", path, "ev-big"); code != 1 || !strings.Contains(stderr, "file exists") {
		t.Errorf("an existing file was overwritten: exit %d %s", code, stderr)
	}

	// Two messages carried one event id.
	if _, err := h.store.PutRejectedBody(ctx, "ev-two", "m-a", []byte("first"), 0); err != nil {
		t.Fatal(err)
	}
	if _, err := h.store.PutRejectedBody(ctx, "ev-two", "m-b", []byte("second"), 0); err != nil {
		t.Fatal(err)
	}
	if code, out, stderr := h.run("rejected", "ev-two"); code != 2 || out != "" || !strings.Contains(stderr, "message m-a: 5 bytes") || !strings.Contains(stderr, "choose one with -message") {
		t.Errorf("two bodies: exit %d, stdout %q, stderr %q", code, out, stderr)
	}
	if code, out, _ := h.run("rejected", "-message", "m-b", "ev-two"); code != 0 || out != "second" {
		t.Errorf("-message: exit %d %q", code, out)
	}
	if code, _, stderr := h.run("rejected", "-o", filepath.Join(dir, "two"), "ev-two"); code != 0 {
		t.Errorf("-o with two bodies: exit %d %s", code, stderr)
	}
	for i, want := range []string{"first", "second"} {
		if got, err := os.ReadFile(filepath.Join(dir, "two."+string(rune('1'+i)))); err != nil || string(got) != want {
			t.Errorf("two.%d: %q %v", i+1, got, err)
		}
	}

	// A manifest whose part is gone: said so, nothing printed.
	h.rawPut(map[string]ddbtypes.AttributeValue{"pk": sv("REJECTED#ev-broken"), "sk": sv("BODY#m-x"), "eventId": sv("ev-broken"),
		"messageId": sv("m-x"), "bytes": &ddbtypes.AttributeValueMemberN{Value: "500000"}, "parts": &ddbtypes.AttributeValueMemberN{Value: "2"},
		"sha256": sv(strings.Repeat("ab", 32))})
	if code, out, stderr := h.run("rejected", "ev-broken"); code != 1 || out != "" || !strings.Contains(stderr, "cannot be read whole") || !strings.Contains(stderr, "incomplete") {
		t.Errorf("broken body: exit %d, stdout %q, stderr %q", code, out, stderr)
	}

	for _, tc := range []struct {
		name string
		args []string
		code int
		want string
	}{
		{"unknown event", []string{"rejected", "ev-none"}, 1, "carries the whole body in the HRIS Event Rejected event"},
		{"unknown message", []string{"rejected", "-message", "m-zzz", "ev-two"}, 1, "no stored body for event ev-two"},
		{"no event id", []string{"rejected"}, 2, "want EVENT_ID"},
		{"hostile event id", []string{"rejected", "ev\r\nX-Injected: 1"}, 2, "control or invisible character"},
		{"hostile message id", []string{"rejected", "-message", "m\x00", "ev-two"}, 2, "control or invisible character"},
	} {
		code, _, stderr := h.run(tc.args...)
		if code != tc.code || !strings.Contains(stderr, tc.want) {
			t.Errorf("%s: exit %d, stderr %q; want %d and %q", tc.name, code, stderr, tc.code, tc.want)
		}
	}
}

func TestRedrive(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	dlq := h.sqs.AddQueue("EncompassLifecycle-ProvisionQueueDLQ-X1.fifo", 3, nil)
	src := h.sqs.AddQueue("EncompassLifecycle-ProvisionQueue-X2.fifo", 0, dlq)
	emptyDLQ := h.sqs.AddQueue("EncompassLifecycle-DeprovisionQueueDLQ-X3.fifo", 0, nil)
	h.sqs.AddQueue("EncompassLifecycle-DeprovisionQueue-X4.fifo", 0, emptyDLQ)
	plain := h.sqs.AddQueue("no-dlq", 0, nil)
	h.env["PROVISION_QUEUE_ARN"] = src.ARN

	// Dry run first: a count and nothing moved.
	code, out, stderr := h.run("redrive", "-queue", "provision")
	if code != 0 || !strings.Contains(out, "dead-letter queue  "+dlq.ARN) || !strings.Contains(out, "3 waiting, 1 being read") ||
		!strings.Contains(out, "move to            "+src.ARN) || !strings.Contains(out, "dry run: nothing moved") {
		t.Fatalf("dry run: exit %d\n%s%s", code, out, stderr)
	}
	if n := len(h.sqs.CallsOf("StartMessageMoveTask")); n != 0 {
		t.Fatalf("the dry run started %d move tasks", n)
	}
	counts := h.sqs.CallsOf("GetQueueAttributes")
	last := counts[len(counts)-1].Body
	if names, _ := last["AttributeNames"].([]any); last["QueueUrl"] != dlq.URL || !slices.Contains(names, any("ApproximateNumberOfMessages")) {
		t.Errorf("count request %v", last)
	}

	// -apply moves them back to the source, at the rate asked.
	code, out, stderr = h.run("redrive", "-queue", "provision", "-apply", "-max-per-second", "50")
	if code != 0 || !strings.Contains(out, "move task started: task-1") {
		t.Fatalf("apply: exit %d\n%s%s", code, out, stderr)
	}
	starts := h.sqs.CallsOf("StartMessageMoveTask")
	if len(starts) != 1 || starts[0].Body["SourceArn"] != dlq.ARN || starts[0].Body["DestinationArn"] != src.ARN || starts[0].Body["MaxNumberOfMessagesPerSecond"] != float64(50) {
		t.Errorf("StartMessageMoveTask %v", starts)
	}

	// -dlq by URL, without a destination: SQS returns each message to its source.
	if code, out, stderr := h.run("redrive", "-dlq", dlq.URL, "-apply"); code != 0 || !strings.Contains(out, "move to            the queues they came from") {
		t.Fatalf("-dlq URL: exit %d\n%s%s", code, out, stderr)
	}
	starts = h.sqs.CallsOf("StartMessageMoveTask")
	if _, hasDest := starts[1].Body["DestinationArn"]; len(starts) != 2 || starts[1].Body["SourceArn"] != dlq.ARN || hasDest {
		t.Errorf("second StartMessageMoveTask %v", starts[1].Body)
	}

	// -status lists the tasks.
	code, out, stderr = h.run("redrive", "-status", "-dlq", dlq.ARN)
	if code != 0 || !strings.Contains(out, "RUNNING") || !strings.Contains(out, "task") && !strings.Contains(out, src.ARN) || strings.Count(out, "RUNNING") != 2 {
		t.Fatalf("status: exit %d\n%s%s", code, out, stderr)
	}
	if l := h.sqs.CallsOf("ListMessageMoveTasks"); len(l) != 1 || l[0].Body["SourceArn"] != dlq.ARN || l[0].Body["MaxResults"] != float64(10) {
		t.Errorf("ListMessageMoveTasks %v", l)
	}

	// An empty DLQ: nothing started even with -apply.
	if code, out, _ := h.run("redrive", "-dlq", emptyDLQ.ARN, "-apply"); code != 0 || !strings.Contains(out, "nothing to move") {
		t.Errorf("empty DLQ: exit %d\n%s", code, out)
	}
	if code, out, _ := h.run("redrive", "-status", "-dlq", emptyDLQ.ARN); code != 0 || !strings.Contains(out, "no move tasks") {
		t.Errorf("empty status: exit %d\n%s", code, out)
	}
	if n := len(h.sqs.CallsOf("StartMessageMoveTask")); n != 2 {
		t.Errorf("%d move tasks started, want 2", n)
	}

	// SQS refusing the move (a task already running) is reported.
	h.sqs.SetStartError("UnsupportedOperation")
	if code, _, stderr := h.run("redrive", "-dlq", dlq.ARN, "-apply"); code != 1 || !strings.Contains(stderr, "UnsupportedOperation") {
		t.Errorf("refused move: exit %d %s", code, stderr)
	}
	h.sqs.SetStartError("")

	before := len(h.sqs.Ops())
	for _, tc := range []struct {
		name string
		args []string
		env  map[string]string
		code int
		want string
	}{
		{"nothing named", []string{"redrive"}, nil, 2, "needs -queue"},
		{"a DLQ that is not an ARN", []string{"redrive", "-dlq", "my-dlq"}, nil, 2, "want a queue ARN"},
		{"an ARN of another service", []string{"redrive", "-dlq", "arn:aws:sns:us-east-1:123456789012:topic"}, nil, 2, "not an SQS ARN"},
		{"an ARN without an account", []string{"redrive", "-dlq", "arn:aws:sqs:us-east-1::q"}, nil, 2, "region, account and queue name"},
		{"a queue name with a space", []string{"redrive", "-dlq", "arn:aws:sqs:us-east-1:123456789012:bad name"}, nil, 2, "want a queue ARN"},
		{"a URL with a query", []string{"redrive", "-dlq", "https://sqs.us-east-1.amazonaws.com/1/q?Action=PurgeQueue"}, nil, 2, "want a queue ARN"},
		{"a URL without the account", []string{"redrive", "-dlq", "https://sqs.us-east-1.amazonaws.com/q"}, nil, 2, "/ACCOUNT/QUEUE_NAME"},
		{"a newline in the ARN", []string{"redrive", "-dlq", "arn:aws:sqs:us-east-1:1:q\n"}, nil, 2, "control or invisible"},
		{"provision without its variable", []string{"redrive", "-queue", "deprovision"}, nil, 2, "set DEPROVISION_QUEUE_ARN"},
		{"rate out of range", []string{"redrive", "-dlq", dlq.ARN, "-max-per-second", "501"}, nil, 2, "1 to 500"},
		{"status and apply", []string{"redrive", "-dlq", dlq.ARN, "-status", "-apply"}, nil, 2, "leave out -apply"},
		{"an argument", []string{"redrive", "-dlq", dlq.ARN, "now"}, nil, 2, `unexpected argument "now"`},
	} {
		for k, v := range tc.env {
			h.env[k] = v
		}
		code, _, stderr := h.run(tc.args...)
		if code != tc.code || !strings.Contains(stderr, tc.want) {
			t.Errorf("%s: exit %d, stderr %q; want %d and %q", tc.name, code, stderr, tc.code, tc.want)
		}
	}
	if after := len(h.sqs.Ops()); after != before {
		t.Errorf("bad command lines made %d SQS calls", after-before)
	}
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"a queue that does not exist", []string{"redrive", "-dlq", "arn:aws:sqs:us-east-1:123456789012:gone"}, "QueueDoesNotExist"},
		{"a source without a DLQ", []string{"redrive", "-queue", plain.ARN}, "has no dead-letter queue"},
		{"a URL SQS does not know", []string{"redrive", "-dlq", h.sqs.URL + "/123456789012/gone"}, "QueueDoesNotExist"},
	} {
		code, _, stderr := h.run(tc.args...)
		if code != 1 || !strings.Contains(stderr, tc.want) {
			t.Errorf("%s: exit %d, stderr %q; want 1 and %q", tc.name, code, stderr, tc.want)
		}
	}
}
