package webhook

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/lenderops/encompass-lifecycle/pkg/catalog"
	"github.com/lenderops/encompass-lifecycle/pkg/encompass"
	"github.com/lenderops/encompass-lifecycle/pkg/state"
)

const (
	testSubscription = "5b1d1c86-7d0e-4a53-9f6a-4f3a0b6b2c11"
	testKey          = "Webhook-Signing-Key#2026-abcdefghijklmnop"
	// A second key of the same subscription, as during a rotation.
	testRotatedKey = "Rotated-Signing-Key!2027-qrstuvwxyzABCDEF"
	otherKey       = "Some-Other-Tenant-Key^2026-0123456789abcd"
)

// transport sends one request to the handler and returns status and body. The
// tests run every case through both: API Gateway v2 events through the proxy
// adapter, and a plain HTTP server.
type transport struct {
	name string
	do   func(t *testing.T, h *Handler, method, path string, header http.Header, body []byte) (int, string)
}

var transports = []transport{
	{"apigw-v2", doAPIGateway(false)},
	{"apigw-v2-base64", doAPIGateway(true)},
	{"http", doHTTP},
}

// apigwTemplate is the aws-lambda-go test event for an HTTP API without authorizer.
var apigwTemplate = func() []byte {
	b, err := os.ReadFile("testdata/apigw-v2-request-no-authorizer.json")
	if err != nil {
		panic(err)
	}
	return b
}()

// doAPIGateway sends the request as the Lambda receives it: an API Gateway
// v2 event through ServeAPIGateway (the handler main gives lambda.Start).
func doAPIGateway(base64Body bool) func(t *testing.T, h *Handler, method, path string, header http.Header, body []byte) (int, string) {
	return func(t *testing.T, h *Handler, method, path string, header http.Header, body []byte) (int, string) {
		t.Helper()
		in := apigwEvent(t, body, header)
		in.RawPath = path
		in.RequestContext.HTTP.Method = method
		in.RequestContext.HTTP.Path = path
		in.RouteKey = method + " " + path
		in.RequestContext.RouteKey = in.RouteKey
		if base64Body {
			in.Body = base64.StdEncoding.EncodeToString(body)
			in.IsBase64Encoded = true
		}
		resp, err := h.ServeAPIGateway(context.Background(), in)
		if err != nil {
			t.Fatalf("ServeAPIGateway returned an error (API Gateway answers 500): %v", err)
		}
		out := resp.Body
		if resp.IsBase64Encoded {
			b, _ := base64.StdEncoding.DecodeString(out)
			out = string(b)
		}
		return resp.StatusCode, out
	}
}

// apigwEvent is the aws-lambda-go sample HTTP API event turned into a signed
// POST /webhooks/encompass, round-tripped through JSON as the runtime delivers it.
func apigwEvent(t *testing.T, body []byte, header http.Header) events.APIGatewayV2HTTPRequest {
	t.Helper()
	var ev events.APIGatewayV2HTTPRequest
	if err := json.Unmarshal(apigwTemplate, &ev); err != nil {
		t.Fatal(err)
	}
	ev.RawPath = "/webhooks/encompass"
	ev.RequestContext.HTTP.Method = http.MethodPost
	ev.RequestContext.HTTP.Path = ev.RawPath
	ev.RouteKey = "POST /webhooks/encompass"
	ev.RequestContext.RouteKey = ev.RouteKey
	// API Gateway lower-cases header names.
	for k, v := range header {
		ev.Headers[strings.ToLower(k)] = strings.Join(v, ",")
	}
	ev.Headers["content-length"] = fmt.Sprint(len(body))
	ev.Headers["content-type"] = "application/json"
	ev.Body = string(body)
	raw, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	var in events.APIGatewayV2HTTPRequest
	if err := json.Unmarshal(raw, &in); err != nil {
		t.Fatal(err)
	}
	return in
}

func doHTTP(t *testing.T, h *Handler, method, path string, header http.Header, body []byte) (int, string) {
	t.Helper()
	srv := httptest.NewServer(h)
	defer srv.Close()
	req, err := http.NewRequest(method, srv.URL+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

// loanDelivery is a delivery as field-notes.md describes it.
func loanDelivery(eventID string) []byte {
	return fmt.Appendf(nil, `{"eventId":%q,"eventTime":"2026-11-20T15:04:05Z","eventType":"update",`+
		`"meta":{"userId":"admin","resourceType":"Loan","resourceId":"9f1e7c3a-1111-2222-3333-444455556666",`+
		`"instanceId":"BE11140034","resourceRef":"/encompass/v3/loans/9f1e7c3a-1111-2222-3333-444455556666"}}`, eventID)
}

func signedHeader(key string, body []byte) http.Header {
	h := http.Header{}
	h.Set(subscriptionHeader, testSubscription)
	h.Set(signatureHeader, sign(key, body))
	h.Set("Elli-Environment", "prod")
	return h
}

func TestReceive(t *testing.T) {
	t.Parallel()
	valid := loanDelivery("ev-valid")
	oversize := bytes.Repeat([]byte(" "), MaxBodyBytes+1)
	copy(oversize, loanDelivery("ev-big"))
	underLimit := padTo(loanDelivery("ev-under-limit"), MaxBodyBytes-200)
	// Exactly 256 KiB, pretty-printed as deliveries may be: accepted. Its
	// EventBridge entry is the compacted body, well inside the limit.
	atLimit := padTo(loanDelivery("ev-at-limit"), MaxBodyBytes)
	// Exactly 256 KiB with no whitespace: the body fits, the EventBridge
	// entry (source + detail-type + detail) does not.
	dense := denseDelivery("ev-dense", MaxBodyBytes)
	signed := func(b []byte) http.Header { return signedHeader(testKey, b) }
	named := func(resourceType, eventType string) []byte {
		b, err := json.Marshal(map[string]any{"eventId": "ev-named", "eventType": eventType, "meta": map[string]any{"resourceType": resourceType}})
		if err != nil {
			t.Fatal(err)
		}
		return b
	}

	tests := []struct {
		name      string
		header    func(body []byte) http.Header
		body      []byte
		status    int
		outcome   Outcome
		published int
	}{
		{"valid loan update", func(b []byte) http.Header { return signedHeader(testKey, b) }, valid, 200, OutcomeAccepted, 1},
		{"rotated key also verifies", func(b []byte) http.Header { return signedHeader(testRotatedKey, b) }, valid, 200, OutcomeAccepted, 1},
		{"InternalUsers forwarded the same way", func(b []byte) http.Header { return signedHeader(testKey, b) },
			[]byte(`{"eventId":"ev-user","eventTime":"2026-11-20T15:04:05Z","eventType":"update","meta":{"resourceType":"InternalUsers","resourceId":"jdoe","payload":{"entities":[{"id":"jdoe"}]}}}`),
			200, OutcomeAccepted, 1},
		{"body just under the limit", signed, underLimit, 200, OutcomeAccepted, 1},
		{"body of exactly 256 KiB", signed, atLimit, 200, OutcomeAccepted, 1},
		{"no signature", func([]byte) http.Header {
			return http.Header{subscriptionHeader: {testSubscription}}
		}, valid, 401, OutcomeBadSignature, 0},
		{"no subscription id", func(b []byte) http.Header {
			return http.Header{signatureHeader: {sign(testKey, b)}}
		}, valid, 401, OutcomeBadSignature, 0},
		{"signature for another body", func([]byte) http.Header { return signedHeader(testKey, loanDelivery("ev-other")) }, valid, 401, OutcomeBadSignature, 0},
		{"signature with the wrong key", func(b []byte) http.Header { return signedHeader(otherKey, b) }, valid, 401, OutcomeBadSignature, 0},
		{"unknown subscription id", func(b []byte) http.Header {
			h := signedHeader(testKey, b)
			h.Set(subscriptionHeader, "00000000-0000-0000-0000-000000000000")
			return h
		}, valid, 401, OutcomeBadSignature, 0},
		{"signature not base64", func([]byte) http.Header {
			h := signedHeader(testKey, valid)
			h.Set(signatureHeader, "not*base64!")
			return h
		}, valid, 401, OutcomeBadSignature, 0},
		{"signature over re-serialised JSON", func(b []byte) http.Header {
			var v any
			_ = json.Unmarshal(b, &v)
			re, _ := json.Marshal(v)
			return signedHeader(testKey, re)
		}, valid, 401, OutcomeBadSignature, 0},
		{"body not JSON", func(b []byte) http.Header { return signedHeader(testKey, b) }, []byte(`eventId=1`), 400, OutcomeMalformed, 0},
		{"truncated JSON", func(b []byte) http.Header { return signedHeader(testKey, b) }, valid[:len(valid)-2], 400, OutcomeMalformed, 0},
		{"JSON array", func(b []byte) http.Header { return signedHeader(testKey, b) }, []byte(`[1,2]`), 400, OutcomeMalformed, 0},
		{"empty body", func(b []byte) http.Header { return signedHeader(testKey, b) }, []byte{}, 400, OutcomeMalformed, 0},
		{"no eventId", func(b []byte) http.Header { return signedHeader(testKey, b) },
			[]byte(`{"eventType":"update","meta":{"resourceType":"Loan"}}`), 400, OutcomeMalformed, 0},
		{"no eventType", func(b []byte) http.Header { return signedHeader(testKey, b) },
			[]byte(`{"eventId":"e1","meta":{"resourceType":"Loan"}}`), 400, OutcomeMalformed, 0},
		{"no meta.resourceType", func(b []byte) http.Header { return signedHeader(testKey, b) },
			[]byte(`{"eventId":"e1","eventType":"update","meta":{}}`), 400, OutcomeMalformed, 0},
		{"no meta", func(b []byte) http.Header { return signedHeader(testKey, b) },
			[]byte(`{"eventId":"e1","eventType":"update"}`), 400, OutcomeMalformed, 0},
		{"eventId a number", func(b []byte) http.Header { return signedHeader(testKey, b) },
			[]byte(`{"eventId":42,"eventType":"update","meta":{"resourceType":"Loan"}}`), 400, OutcomeMalformed, 0},
		{"eventId with control characters", func(b []byte) http.Header { return signedHeader(testKey, b) },
			[]byte(`{"eventId":"e1\n\u0000","eventType":"update","meta":{"resourceType":"Loan"}}`), 400, OutcomeMalformed, 0},
		{"eventId blank", func(b []byte) http.Header { return signedHeader(testKey, b) },
			[]byte(`{"eventId":"   ","eventType":"update","meta":{"resourceType":"Loan"}}`), 400, OutcomeMalformed, 0},
		{"eventId too long", func(b []byte) http.Header { return signedHeader(testKey, b) },
			fmt.Appendf(nil, `{"eventId":%q,"eventType":"update","meta":{"resourceType":"Loan"}}`, strings.Repeat("x", maxEventIDLen+1)), 400, OutcomeMalformed, 0},
		{"eventType too long", signed, named("Loan", strings.Repeat("u", maxNameLen+1)), 400, OutcomeMalformed, 0},
		{"detail-type over EventBridge's 128", signed, named(strings.Repeat("L", maxNameLen), strings.Repeat("u", maxNameLen)), 400, OutcomeMalformed, 0},
		// Issue 10, defect 8: a signed body must not choose a detail-type of
		// another source's catalogue.
		{"detail-type of a provisioning event", signed, named("HRIS Event", "Rejected"), 400, OutcomeMalformed, 0},
		{"resourceType with a space", signed, named("Loan Officer", "update"), 400, OutcomeMalformed, 0},
		{"eventType with a space", signed, named("User", "Event Rejected"), 400, OutcomeMalformed, 0},
		{"eventType with a dot", signed, named("Loan", "loan.created"), 400, OutcomeMalformed, 0},
		{"resourceType starting with a digit", signed, named("1Loan", "update"), 400, OutcomeMalformed, 0},
		{"eventType starting with '-'", signed, named("Loan", "-update"), 400, OutcomeMalformed, 0},
		{"resourceType with a non-ASCII letter", signed, named("Lоan", "update"), 400, OutcomeMalformed, 0}, // Cyrillic о
		{"eventType with a control character", signed, named("Loan", "update\u0000"), 400, OutcomeMalformed, 0},
		{"eventType with a zero-width space", signed, named("Loan", "update\u200b"), 400, OutcomeMalformed, 0},
		{"resourceType a number", signed, []byte(`{"eventId":"e1","eventType":"update","meta":{"resourceType":7}}`), 400, OutcomeMalformed, 0},
		{"longest plain names", signed, named("L"+strings.Repeat("x", maxNameLen-1), "u"+strings.Repeat("_", 61)), 200, OutcomeAccepted, 1},
		{"body of 256 KiB + 1", func(b []byte) http.Header { return signedHeader(testKey, b) }, oversize, 413, OutcomeTooLarge, 0},
		{"256 KiB + 1 without a signature is still 413 (size first)", func([]byte) http.Header { return http.Header{} }, oversize, 413, OutcomeTooLarge, 0},
		{"body of 256 KiB that EventBridge would refuse", signed, dense, 413, OutcomeTooLarge, 0},
		{"EventBridge's limit after the signature", func([]byte) http.Header { return signedHeader(otherKey, dense) }, dense, 401, OutcomeBadSignature, 0},
		{"bad signature and bad JSON is 401 (signature before payload)", func([]byte) http.Header { return signedHeader(testKey, []byte("x")) },
			[]byte(`not json`), 401, OutcomeBadSignature, 0},
	}
	for _, tr := range transports {
		for _, tc := range tests {
			t.Run(tr.name+"/"+tc.name, func(t *testing.T) {
				t.Parallel()
				env := newTestEnv(t)
				status, body := tr.do(t, env.handler, http.MethodPost, "/webhooks/encompass", tc.header(tc.body), tc.body)
				if status != tc.status {
					t.Fatalf("status = %d, want %d (body %s)", status, tc.status, body)
				}
				if want := `{"status":"` + string(tc.outcome) + `"}`; body != want {
					t.Errorf("body = %s, want %s", body, want)
				}
				got := env.published(t)
				if len(got) != tc.published {
					t.Fatalf("published %d events, want %d", len(got), tc.published)
				}
				if tc.published == 1 {
					var d encompass.WebhookEvent
					_ = json.Unmarshal(tc.body, &d)
					if got[0].Source != catalog.SourceWebhook || got[0].DetailType != d.Meta.ResourceType+" "+d.EventType {
						t.Errorf("published source %q detail-type %q", got[0].Source, got[0].DetailType)
					}
					// Verbatim: the delivered bytes, only insignificant whitespace removed.
					var want bytes.Buffer
					_ = json.Compact(&want, tc.body)
					if !bytes.Equal(got[0].Detail, want.Bytes()) {
						t.Errorf("detail is not the delivered payload")
					}
				}
				if n := env.metricCount(t, tc.outcome); n != 1 {
					t.Errorf("metric %s counted %d times, want 1", tc.outcome, n)
				}
				env.assertNoSecretsLogged(t, tc.header(tc.body))
			})
		}
	}
}

func TestDuplicateDelivery(t *testing.T) {
	t.Parallel()
	for _, tr := range transports {
		t.Run(tr.name+"/twice", func(t *testing.T) {
			t.Parallel()
			env := newTestEnv(t)
			body := loanDelivery("ev-twice")
			for i, want := range []Outcome{OutcomeAccepted, OutcomeDuplicate} {
				status, got := tr.do(t, env.handler, http.MethodPost, "/webhooks/encompass", signedHeader(testKey, body), body)
				if status != 200 || got != `{"status":"`+string(want)+`"}` {
					t.Fatalf("delivery %d: %d %s, want 200 %s", i+1, status, got, want)
				}
			}
			if n := len(env.published(t)); n != 1 {
				t.Fatalf("published %d, want 1", n)
			}
		})
		// Twenty copies at once: exactly one is published. A copy that
		// arrives while another is handed on is answered 503 (Encompass
		// retries it), one that arrives after is a 200 duplicate; the
		// retries of the 503s are then all duplicates.
		t.Run(tr.name+"/twenty concurrently", func(t *testing.T) {
			t.Parallel()
			env := newTestEnv(t)
			body := loanDelivery("ev-twenty")
			statuses := deliverConcurrently(t, tr, env, body, 20)
			retries := 0
			for i, s := range statuses {
				switch s {
				case 200:
				case 503:
					retries++
					if st, got := tr.do(t, env.handler, http.MethodPost, "/webhooks/encompass", signedHeader(testKey, body), body); st != 200 || got != `{"status":"duplicate"}` {
						t.Errorf("retry of copy %d: %d %s, want 200 duplicate", i, st, got)
					}
				default:
					t.Errorf("copy %d: status %d, want 200 or 503", i, s)
				}
			}
			if n := len(env.published(t)); n != 1 {
				t.Fatalf("published %d, want exactly 1", n)
			}
			a, d, p := env.metricCount(t, OutcomeAccepted), env.metricCount(t, OutcomeDuplicate), env.metricCount(t, OutcomeInProgress)
			if a != 1 || d+p != 19+retries || p != retries {
				t.Errorf("accepted %d, duplicate %d, in progress %d; want 1 accepted and %d answered 503 then duplicate", a, d, p, retries)
			}
		})
	}
}

// deliverConcurrently sends n copies of body at once and returns the statuses.
func deliverConcurrently(t *testing.T, tr transport, env *testEnv, body []byte, n int) []int {
	t.Helper()
	var wg sync.WaitGroup
	start := make(chan struct{})
	statuses := make([]int, n)
	for i := range statuses {
		wg.Go(func() {
			<-start
			statuses[i], _ = tr.do(t, env.handler, http.MethodPost, "/webhooks/encompass", signedHeader(testKey, body), body)
		})
	}
	close(start)
	wg.Wait()
	return statuses
}

func TestEventBridgeFailing(t *testing.T) {
	t.Parallel()
	for _, tr := range transports {
		t.Run(tr.name, func(t *testing.T) {
			t.Parallel()
			env := newTestEnv(t)
			body := loanDelivery("ev-eb-down")
			env.failPublishing(t, true)
			status, got := tr.do(t, env.handler, http.MethodPost, "/webhooks/encompass", signedHeader(testKey, body), body)
			if status != 503 || got != `{"status":"failed_handoff"}` {
				t.Fatalf("got %d %s, want 503 failed_handoff", status, got)
			}
			// The claim is released, not left in progress nor done: the
			// retry runs at once and is not taken for a duplicate.
			if st := env.claim(t, "ev-eb-down"); st != state.ClaimReleased {
				t.Fatalf("claim %q after a failed publish, want released", st)
			}
			// Encompass retries; EventBridge is back.
			env.failPublishing(t, false)
			status, got = tr.do(t, env.handler, http.MethodPost, "/webhooks/encompass", signedHeader(testKey, body), body)
			if status != 200 || got != `{"status":"accepted"}` {
				t.Fatalf("retry: %d %s, want 200 accepted", status, got)
			}
			if n := len(env.published(t)); n != 1 {
				t.Fatalf("published %d, want 1", n)
			}
			if st := env.claim(t, "ev-eb-down"); st != state.ClaimDone {
				t.Fatalf("claim %q after publishing, want done", st)
			}
		})
	}
}

// TestCopiesWhileEventBridgeFails is issue 10's defect 5: twenty identical
// deliveries at once while EventBridge fails. Before the claim protocol was
// replaced, 19 were answered 200 "duplicate" and none was published, so
// Encompass stopped retrying and the event was lost. Now none is answered
// 200 and none is published; once EventBridge recovers, Encompass's retry
// publishes it exactly once, and only then is a copy a 200 duplicate.
func TestCopiesWhileEventBridgeFails(t *testing.T) {
	t.Parallel()
	for _, tr := range transports {
		t.Run(tr.name, func(t *testing.T) {
			t.Parallel()
			env := newTestEnv(t)
			body := loanDelivery("ev-twenty-eb-down")
			env.failPublishing(t, true)
			for i, s := range deliverConcurrently(t, tr, env, body, 20) {
				if s != 503 {
					t.Errorf("copy %d: status %d while EventBridge fails, want 503", i, s)
				}
			}
			if n := len(env.published(t)); n != 0 {
				t.Fatalf("published %d while EventBridge fails", n)
			}
			if n := env.metricCount(t, OutcomeDuplicate) + env.metricCount(t, OutcomeAccepted); n != 0 {
				t.Fatalf("%d copies counted accepted or duplicate while nothing was published", n)
			}
			env.failPublishing(t, false)
			for i, want := range []string{"accepted", "duplicate", "duplicate"} {
				status, got := tr.do(t, env.handler, http.MethodPost, "/webhooks/encompass", signedHeader(testKey, body), body)
				if status != 200 || got != `{"status":"`+want+`"}` {
					t.Fatalf("retry %d after EventBridge recovered: %d %s, want 200 %s", i+1, status, got, want)
				}
			}
			if n := len(env.published(t)); n != 1 {
				t.Fatalf("published %d, want exactly 1", n)
			}
		})
	}
}

func TestStateTableFailing(t *testing.T) {
	t.Parallel()
	env := newTestEnv(t)
	env.failState(t)
	body := loanDelivery("ev-ddb-down")
	status, got := doHTTP(t, env.handler, http.MethodPost, "/webhooks/encompass", signedHeader(testKey, body), body)
	if status != 503 || got != `{"status":"failed_handoff"}` {
		t.Fatalf("got %d %s, want 503 failed_handoff", status, got)
	}
	if n := len(env.published(t)); n != 0 {
		t.Fatalf("published %d, want 0", n)
	}
}

func TestHealth(t *testing.T) {
	t.Parallel()
	for _, tr := range transports {
		t.Run(tr.name, func(t *testing.T) {
			t.Parallel()
			env := newTestEnv(t)
			// Dependencies down: health must not care.
			env.failPublishing(t, true)
			env.failState(t)
			status, body := tr.do(t, env.handler, http.MethodGet, "/webhooks/encompass/health", nil, nil)
			if status != 200 || body != `{"status":"ok"}` {
				t.Fatalf("got %d %s", status, body)
			}
		})
	}
}

func TestRoutes(t *testing.T) {
	t.Parallel()
	env := newTestEnv(t)
	for _, tc := range []struct {
		method, path string
		status       int
	}{
		{http.MethodGet, "/webhooks/encompass", http.StatusMethodNotAllowed},
		{http.MethodPut, "/webhooks/encompass", http.StatusMethodNotAllowed},
		{http.MethodPost, "/webhooks/other", http.StatusNotFound},
		{http.MethodPost, "/webhooks/encompass/health", http.StatusMethodNotAllowed},
	} {
		status, _ := doHTTP(t, env.handler, tc.method, tc.path, nil, []byte("{}"))
		if status != tc.status {
			t.Errorf("%s %s: %d, want %d", tc.method, tc.path, status, tc.status)
		}
	}
	if n := len(env.published(t)); n != 0 {
		t.Fatalf("published %d", n)
	}
}

// TestChunkedOversize covers a plain-HTTP client that declares no length.
func TestChunkedOversize(t *testing.T) {
	t.Parallel()
	env := newTestEnv(t)
	srv := httptest.NewServer(env.handler)
	defer srv.Close()
	body := io.MultiReader(bytes.NewReader(loanDelivery("ev-chunked")), bytes.NewReader(bytes.Repeat([]byte(" "), MaxBodyBytes)))
	req, _ := http.NewRequest(http.MethodPost, srv.URL+"/webhooks/encompass", body)
	req.ContentLength = -1
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 413 {
		t.Fatalf("status %d, want 413", resp.StatusCode)
	}
}

// denseDelivery is a loan delivery of exactly size bytes without
// insignificant whitespace: its padding is inside a string.
func denseDelivery(eventID string, size int) []byte {
	head := fmt.Sprintf(`{"eventId":%q,"eventType":"update","meta":{"resourceType":"Loan","payload":{"note":"`, eventID)
	tail := `"}}}`
	return []byte(head + strings.Repeat("x", size-len(head)-len(tail)) + tail)
}

func padTo(body []byte, size int) []byte {
	out := bytes.Repeat([]byte(" "), size)
	copy(out, body)
	return out
}

// TestStoredEvents replays the API Gateway v2 events in testdata as the Lambda
// runtime delivers them (signed with testKey; they double as sample events for
// local invokes with WEBHOOK_SIGNING_KEYS={"<testSubscription>":"<testKey>"}).
func TestStoredEvents(t *testing.T) {
	t.Parallel()
	for _, file := range []string{"apigw-v2-loan-update.json", "apigw-v2-loan-update-base64.json"} {
		t.Run(file, func(t *testing.T) {
			t.Parallel()
			raw, err := os.ReadFile("testdata/" + file)
			if err != nil {
				t.Fatal(err)
			}
			var ev events.APIGatewayV2HTTPRequest
			if err := json.Unmarshal(raw, &ev); err != nil {
				t.Fatal(err)
			}
			env := newTestEnv(t)
			for i, want := range []string{`{"status":"accepted"}`, `{"status":"duplicate"}`} {
				resp, err := env.handler.ServeAPIGateway(context.Background(), ev)
				if err != nil {
					t.Fatal(err)
				}
				if resp.StatusCode != 200 || resp.Body != want || resp.Headers["Content-Type"] != "application/json" {
					t.Fatalf("delivery %d: %d %v %s", i+1, resp.StatusCode, resp.Headers, resp.Body)
				}
			}
			got := env.published(t)
			if len(got) != 1 || got[0].DetailType != "Loan update" || got[0].Source != "encompass.webhook" {
				t.Fatalf("published %+v", got)
			}
			if id, _ := got[0].DetailMap()["eventId"].(string); id != "d0c3b1f4-5a6e-4c1b-9f7e-2b8a1c3d4e5f" {
				t.Errorf("detail eventId %q", id)
			}
		})
	}
}

// TestSampleEvents runs the repository's sample events (events/, used by sam
// local invoke and make invoke) with the keys of events/env.json, so that the
// samples and the receiver cannot drift apart.
func TestSampleEvents(t *testing.T) {
	t.Parallel()
	envJSON, err := os.ReadFile("../../events/env.json")
	if err != nil {
		t.Fatal(err)
	}
	var vars map[string]map[string]string
	if err := json.Unmarshal(envJSON, &vars); err != nil {
		t.Fatal(err)
	}
	keys, err := encompass.ParseSigningKeys([]byte(vars["WebhookFunction"]["WEBHOOK_SIGNING_KEYS"]))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		file   string
		status int
		body   string
	}{
		{"webhook-loan-update.json", 200, `{"status":"accepted"}`},
		{"webhook-bad-signature.json", 401, `{"status":"bad_signature"}`},
		{"webhook-health.json", 200, `{"status":"ok"}`},
	} {
		t.Run(tc.file, func(t *testing.T) {
			t.Parallel()
			raw, err := os.ReadFile("../../events/" + tc.file)
			if err != nil {
				t.Fatal(err)
			}
			var ev events.APIGatewayV2HTTPRequest
			if err := json.Unmarshal(raw, &ev); err != nil {
				t.Fatal(err)
			}
			env := newTestEnvWithKeys(t, keys)
			resp, err := env.handler.ServeAPIGateway(context.Background(), ev)
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != tc.status || resp.Body != tc.body {
				t.Fatalf("%d %s, want %d %s", resp.StatusCode, resp.Body, tc.status, tc.body)
			}
		})
	}
}

// TestHealthWithoutDependencies: a handler with no verifier, claims, publisher
// or metrics at all still answers health (any use of one would panic), and
// a health check records no outcome.
func TestHealthWithoutDependencies(t *testing.T) {
	t.Parallel()
	h := NewHandler(Deps{})
	for _, tr := range transports {
		status, body := tr.do(t, h, http.MethodGet, "/webhooks/encompass/health", nil, nil)
		if status != http.StatusOK || body != `{"status":"ok"}` {
			t.Fatalf("%s: got %d %s", tr.name, status, body)
		}
	}
}

// TestAPIGatewayRefusals: requests the API Gateway adapter cannot turn into
// an http.Request are answered, never returned as an error (API Gateway
// would answer 500, which Encompass retries for hours and no one can act
// on). A body marked isBase64Encoded that is not base64 is a 400 after the
// size check (issue 10, defect 9); nothing is claimed or published.
func TestAPIGatewayRefusals(t *testing.T) {
	t.Parallel()
	body := loanDelivery("ev-refused")
	event := func(mutate func(*events.APIGatewayV2HTTPRequest)) events.APIGatewayV2HTTPRequest {
		ev := apigwEvent(t, body, signedHeader(testKey, body))
		mutate(&ev)
		return ev
	}
	for _, tc := range []struct {
		name    string
		ev      events.APIGatewayV2HTTPRequest
		status  int
		outcome Outcome
	}{
		{"isBase64Encoded, not base64", event(func(ev *events.APIGatewayV2HTTPRequest) {
			ev.IsBase64Encoded = true
		}), 400, OutcomeMalformed},
		{"isBase64Encoded, truncated base64", event(func(ev *events.APIGatewayV2HTTPRequest) {
			ev.IsBase64Encoded, ev.Body = true, base64.StdEncoding.EncodeToString(body)[:21]
		}), 400, OutcomeMalformed},
		{"isBase64Encoded, invalid and over 256 KiB: size first", event(func(ev *events.APIGatewayV2HTTPRequest) {
			ev.IsBase64Encoded, ev.Body = true, strings.Repeat("*", maxEncodedBody+1)
		}), 413, OutcomeTooLarge},
		{"isBase64Encoded, 256 KiB + 1 decoded", event(func(ev *events.APIGatewayV2HTTPRequest) {
			ev.IsBase64Encoded, ev.Body = true, base64.StdEncoding.EncodeToString(padTo(body, MaxBodyBytes+1))
		}), 413, OutcomeTooLarge},
		{"a method net/http refuses", event(func(ev *events.APIGatewayV2HTTPRequest) {
			ev.RequestContext.HTTP.Method = "PO ST"
		}), 400, OutcomeMalformed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			env := newTestEnv(t)
			resp, err := env.handler.ServeAPIGateway(context.Background(), tc.ev)
			if err != nil {
				t.Fatalf("returned an error (API Gateway answers 500): %v", err)
			}
			want := `{"status":"` + string(tc.outcome) + `"}`
			if resp.StatusCode != tc.status || resp.Body != want || resp.Headers["Content-Type"] != "application/json" {
				t.Fatalf("%d %v %s, want %d %s", resp.StatusCode, resp.Headers, resp.Body, tc.status, want)
			}
			if n := env.metricCount(t, tc.outcome); n != 1 {
				t.Errorf("metric %s counted %d times, want 1", tc.outcome, n)
			}
			if st := env.claim(t, "ev-refused"); st != "" || len(env.published(t)) != 0 {
				t.Errorf("claim %q, %d published; want neither", st, len(env.published(t)))
			}
			if !strings.Contains(env.logs.String(), `"subscriptionId":"`+testSubscription+`"`) {
				t.Errorf("the refusal is not logged with the subscription: %s", env.logs.String())
			}
			env.assertNoSecretsLogged(t, signedHeader(testKey, body))
		})
	}
}

// TestEncompassNamesArePlain: the resource and event names Encompass sends
// (field-notes.md; ICE's webhook resource pages: Loan, DocumentOrder,
// ServiceOrder, DocumentDelivery, users and groups) are plain names, so the
// detail-type rule of CONTRACTS section 4 refuses none of them.
func TestEncompassNamesArePlain(t *testing.T) {
	t.Parallel()
	env := newTestEnv(t)
	for i, n := range [][2]string{
		{"Loan", "create"}, {"Loan", "update"}, {"Loan", "delete"}, {"Loan", "lock"}, {"Loan", "unlock"},
		{"Loan", "milestone"}, {"Loan", "fieldchange"}, {"Loan", "move"}, {"Loan", "submit"},
		{"InternalUsers", "create"}, {"InternalUsers", "update"}, {"ExternalUsers", "Delete"},
		{"userGroups", "Update"}, {"ExternalOrganizations", "Create"},
		{"DocumentOrder", "openingauditcompleted"}, {"DocumentOrder", "closingdeliveryfailed"},
		{"DocumentDelivery", "packageCreated"}, {"DocumentDelivery", "fulfillmentUpdated"},
		{"ServiceOrder", "placed"}, {"ServiceOrder", "processfailure"}, {"ServiceOrder", "deliveryFailed"},
	} {
		body := fmt.Appendf(nil, `{"eventId":"ev-name-%d","eventTime":"2026-11-20T15:04:05Z","eventType":%q,"meta":{"resourceType":%q,"resourceId":"r1"}}`, i, n[1], n[0])
		if status, got := doHTTP(t, env.handler, http.MethodPost, "/webhooks/encompass", signedHeader(testKey, body), body); status != 200 {
			t.Errorf("%s %s: %d %s, want 200", n[0], n[1], status, got)
		}
	}
}

// TestDuplicateKeys is issue 10's defect 7: a signed body with a key given
// twice was accepted, de-duplicated on the second eventId while the
// forwarded body carried both. A duplicated key anywhere is 400 (CONTRACTS
// section 4), checked after the signature; nothing is claimed or
// published. Keys are matched exactly, as the event's consumers match them.
func TestDuplicateKeys(t *testing.T) {
	t.Parallel()
	const meta = `"meta":{"resourceType":"Loan","resourceId":"r1"}`
	for _, tc := range []struct {
		name    string
		body    string
		status  int
		claimed string // the eventId whose claim must exist afterwards, if any
	}{
		{"eventId twice", `{"eventId":"a","eventType":"update",` + meta + `,"eventId":"b"}`, 400, ""},
		{"eventType twice", `{"eventId":"a","eventType":"update","eventType":"delete",` + meta + `}`, 400, ""},
		{"meta.resourceType twice", `{"eventId":"a","eventType":"update","meta":{"resourceType":"Loan","resourceType":"InternalUsers"}}`, 400, ""},
		{"meta twice", `{"eventId":"a","eventType":"update",` + meta + `,"meta":{"resourceType":"Other"}}`, 400, ""},
		{"a key twice deep in the payload", `{"eventId":"a","eventType":"update","meta":{"resourceType":"Loan","payload":{"changes":[{"id":1,"id":2}]}}}`, 400, ""},
		{"the same key spelled with an escape", `{"eventId":"a","eventType":"update",` + meta + `,"event\u0049d":"b"}`, 400, ""},
		{"nested deeper than 64", `{"eventId":"a","eventType":"update","meta":{"resourceType":"Loan","payload":` + strings.Repeat("[", 70) + strings.Repeat("]", 70) + `}}`, 400, ""},
		// Keys are matched exactly: "EventID" is another key, and the
		// receiver de-duplicates on "eventId", the value consumers read.
		{"eventId and EventID", `{"eventId":"a","eventType":"update",` + meta + `,"EventID":"b"}`, 200, "a"},
		{"EventID alone is not eventId", `{"EventID":"a","eventType":"update",` + meta + `}`, 400, ""},
		{"Meta is not meta", `{"eventId":"a","eventType":"update","Meta":{"resourceType":"Loan"}}`, 400, ""},
		{"ResourceType is not resourceType", `{"eventId":"a","eventType":"update","meta":{"ResourceType":"Loan"}}`, 400, ""},
		{"meta not an object", `{"eventId":"a","eventType":"update","meta":"Loan"}`, 400, ""},
		{"eventType null", `{"eventId":"a","eventType":null,` + meta + `}`, 400, ""},
		{"eventType an object", `{"eventId":"a","eventType":{"v":"update"},` + meta + `}`, 400, ""},
	} {
		for _, tr := range transports {
			t.Run(tr.name+"/"+tc.name, func(t *testing.T) {
				t.Parallel()
				env := newTestEnv(t)
				body := []byte(tc.body)
				status, got := tr.do(t, env.handler, http.MethodPost, "/webhooks/encompass", signedHeader(testKey, body), body)
				if status != tc.status {
					t.Fatalf("%d %s, want %d", status, got, tc.status)
				}
				for _, id := range []string{"a", "b"} {
					if st := env.claim(t, id); (st != "") != (id == tc.claimed) {
						t.Errorf("claim of %q: %q", id, st)
					}
				}
				published := env.published(t)
				if tc.status != 200 {
					if len(published) != 0 {
						t.Fatalf("published %d", len(published))
					}
					return
				}
				if len(published) != 1 || published[0].DetailMap()["eventId"] != tc.claimed {
					t.Fatalf("published %v, want one event whose detail.eventId is %q", published, tc.claimed)
				}
			})
		}
	}
	// A forged body with duplicated keys is a 401: the signature first.
	env := newTestEnv(t)
	body := []byte(`{"eventId":"a","eventType":"update",` + meta + `,"eventId":"b"}`)
	if status, _ := doHTTP(t, env.handler, http.MethodPost, "/webhooks/encompass", signedHeader(otherKey, body), body); status != 401 {
		t.Fatalf("forged body with duplicated keys: %d, want 401", status)
	}
}
