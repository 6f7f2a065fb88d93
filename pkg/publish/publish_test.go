package publish_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/lenderops/encompass-lifecycle/internal/testenv"
	"github.com/lenderops/encompass-lifecycle/pkg/catalog"
	"github.com/lenderops/encompass-lifecycle/pkg/publish"
)

func events(n int) []publish.Event {
	out := make([]publish.Event, n)
	for i := range out {
		out[i] = publish.Event{
			Source:     catalog.SourceProvisioning,
			DetailType: catalog.UserProvisioned,
			Detail:     map[string]any{"eventId": fmt.Sprintf("ev-%02d", i), "employeeId": fmt.Sprintf("E%d", i)},
		}
	}
	return out
}

func newPublisher(fake *testenv.EventBridgeFake, opts ...publish.Option) *publish.Publisher {
	opts = append([]publish.Option{publish.WithBackoff(time.Millisecond)}, opts...)
	return publish.New(fake.Client, "lifecycle-bus", opts...)
}

func eventIDs(fake *testenv.EventBridgeFake) []string {
	var ids []string
	for _, e := range fake.Events() {
		ids = append(ids, e.DetailMap()["eventId"].(string))
	}
	return ids
}

func TestBatchesOfTen(t *testing.T) {
	t.Parallel()
	fake := testenv.EventBridge(t)
	p := newPublisher(fake)
	if err := p.Publish(context.Background(), events(25)...); err != nil {
		t.Fatal(err)
	}
	if fake.Calls() != 3 || fake.Count(catalog.UserProvisioned) != 25 {
		t.Fatalf("%d calls, %d events", fake.Calls(), fake.Count(catalog.UserProvisioned))
	}
	ev := fake.Events()[24]
	if ev.Source != catalog.SourceProvisioning || ev.EventBusName != "lifecycle-bus" || ev.DetailMap()["employeeId"] != "E24" {
		t.Fatalf("last event %+v", ev)
	}
	// Order is kept.
	if ids := eventIDs(fake); ids[0] != "ev-00" || ids[10] != "ev-10" || ids[24] != "ev-24" {
		t.Fatalf("order %v", ids)
	}
	if err := p.Publish(context.Background()); err != nil || fake.Calls() != 3 {
		t.Fatalf("empty publish: %v, calls %d", err, fake.Calls())
	}
}

// Batches also split on size: four 100 KB events fit two per request.
func TestBatchesBySize(t *testing.T) {
	t.Parallel()
	fake := testenv.EventBridge(t)
	p := newPublisher(fake)
	var evs []publish.Event
	for i := range 4 {
		evs = append(evs, publish.Event{Source: catalog.SourcePoller, DetailType: catalog.UserChanged,
			Detail: map[string]any{"eventId": fmt.Sprint(i), "pad": strings.Repeat("x", 100*1024)}})
	}
	if err := p.Publish(context.Background(), evs...); err != nil {
		t.Fatal(err)
	}
	if fake.Calls() != 2 || len(fake.Events()) != 4 {
		t.Fatalf("%d calls, %d events", fake.Calls(), len(fake.Events()))
	}
}

func TestRetriesOnlyFailedEntries(t *testing.T) {
	t.Parallel()
	fake := testenv.EventBridge(t)
	fake.FailEntries(3, "ThrottlingException")
	p := newPublisher(fake)
	if err := p.Publish(context.Background(), events(12)...); err != nil {
		t.Fatal(err)
	}
	// 2 calls for 12 events, then 1 retry of the 3 failed ones.
	if fake.Calls() != 3 || len(fake.Events()) != 12 {
		t.Fatalf("%d calls, %d events", fake.Calls(), len(fake.Events()))
	}
	seen := map[string]int{}
	for _, id := range eventIDs(fake) {
		seen[id]++
	}
	for id, n := range seen {
		if n != 1 {
			t.Fatalf("%s published %d times", id, n)
		}
	}
	if ids := eventIDs(fake); strings.Join(ids[9:], ",") != "ev-00,ev-01,ev-02" {
		t.Fatalf("retried entries: %v", ids[9:])
	}
}

func TestPermanentFailureReported(t *testing.T) {
	t.Parallel()
	fake := testenv.EventBridge(t)
	fake.SetEntryFault(func(e testenv.Event) string {
		if e.DetailMap()["eventId"] == "ev-04" {
			return "InternalFailure"
		}
		return ""
	})
	p := newPublisher(fake, publish.WithMaxAttempts(3))
	err := p.Publish(context.Background(), events(6)...)
	var pe *publish.Error
	if !errors.As(err, &pe) || pe.Failed != 1 || pe.Total != 6 || pe.Codes["InternalFailure"] != 1 {
		t.Fatalf("err = %#v", err)
	}
	if !strings.Contains(err.Error(), "1 of 6 events not published") || !strings.Contains(err.Error(), "InternalFailure") {
		t.Fatalf("message %q", err)
	}
	// One call, then two retries of the failing entry alone.
	if fake.Calls() != 3 || len(fake.Events()) != 5 {
		t.Fatalf("%d calls, %d events", fake.Calls(), len(fake.Events()))
	}
}

func TestNonRetryableCodeNotRetried(t *testing.T) {
	t.Parallel()
	fake := testenv.EventBridge(t)
	fake.FailEntries(2, "NotAuthorizedForSourceException")
	p := newPublisher(fake)
	err := p.Publish(context.Background(), events(3)...)
	var pe *publish.Error
	if !errors.As(err, &pe) || pe.Failed != 2 || fake.Calls() != 1 {
		t.Fatalf("err %v, calls %d", err, fake.Calls())
	}
}

func TestWholeRequestFailure(t *testing.T) {
	t.Parallel()
	fake := testenv.EventBridge(t)
	// More 500s than the SDK retries: the first batch fails for good.
	fake.FailRequests(10, 500)
	p := newPublisher(fake)
	err := p.Publish(context.Background(), events(15)...)
	var pe *publish.Error
	if !errors.As(err, &pe) || pe.Failed != 15 || pe.Err == nil || pe.Codes["request"] != 15 {
		t.Fatalf("err = %v", err)
	}
	// A transient 500 is absorbed by the SDK's own retry.
	fake2 := testenv.EventBridge(t)
	fake2.FailRequests(1, 503)
	if err := newPublisher(fake2).Publish(context.Background(), events(3)...); err != nil || len(fake2.Events()) != 3 {
		t.Fatalf("after one 503: %v, %d events", err, len(fake2.Events()))
	}
}

func TestContextCancelStopsRetries(t *testing.T) {
	t.Parallel()
	fake := testenv.EventBridge(t)
	fake.FailEntries(1000, "ThrottlingException")
	ctx, cancel := context.WithCancel(context.Background())
	p := publish.New(fake.Client, "bus", publish.WithBackoff(time.Hour), publish.WithMaxAttempts(100))
	done := make(chan error)
	go func() { done <- p.Publish(ctx, events(2)...) }()
	for fake.Calls() == 0 {
		time.Sleep(time.Millisecond)
	}
	cancel()
	err := <-done
	if !errors.Is(err, context.Canceled) || fake.Calls() != 1 {
		t.Fatalf("err %v, calls %d", err, fake.Calls())
	}
}

func TestInvalidEventsPublishNothing(t *testing.T) {
	t.Parallel()
	big := strings.Repeat("y", publish.MaxRequestSize)
	tests := []struct {
		name string
		ev   publish.Event
		want string
	}{
		{"no eventId", publish.Event{Source: "s", DetailType: "d", Detail: map[string]any{"a": 1}}, "eventId"},
		{"empty eventId", publish.Event{Source: "s", DetailType: "d", Detail: map[string]any{"eventId": " "}}, "eventId"},
		{"numeric eventId", publish.Event{Source: "s", DetailType: "d", Detail: map[string]any{"eventId": 7}}, "eventId"},
		{"detail not object", publish.Event{Source: "s", DetailType: "d", Detail: []int{1}}, "JSON object"},
		{"detail null", publish.Event{Source: "s", DetailType: "d"}, "JSON object"},
		{"raw invalid", publish.Event{Source: "s", DetailType: "d", Detail: json.RawMessage(`{"eventId":`)}, "not valid JSON"},
		{"unmarshalable", publish.Event{Source: "s", DetailType: "d", Detail: map[string]any{"f": func() {}}}, "marshal"},
		{"no source", publish.Event{DetailType: "d", Detail: map[string]any{"eventId": "x"}}, "source"},
		{"no detail-type", publish.Event{Source: "s", Detail: map[string]any{"eventId": "x"}}, "detail-type"},
		{"oversize", publish.Event{Source: "s", DetailType: "d", Detail: map[string]any{"eventId": "big", "message": big}}, "over EventBridge's 262144-byte limit"},
	}
	for _, tc := range tests {
		fake := testenv.EventBridge(t)
		p := newPublisher(fake)
		err := p.Publish(context.Background(), append(events(2), tc.ev)...)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want %q", tc.name, err, tc.want)
		}
		if fake.Calls() != 0 {
			t.Errorf("%s: %d calls made", tc.name, fake.Calls())
		}
	}
}

func TestRawDetailAndWebhookType(t *testing.T) {
	t.Parallel()
	fake := testenv.EventBridge(t)
	p := newPublisher(fake)
	payload := json.RawMessage(`{ "eventId": "wh-1", "eventType": "update", "meta": {"resourceType": "Loan"} }`)
	if err := p.Publish(context.Background(), publish.Event{
		Source: catalog.SourceWebhook, DetailType: catalog.WebhookDetailType("Loan", "update"), Detail: payload,
	}); err != nil {
		t.Fatal(err)
	}
	if fake.Count("Loan update") != 1 || string(fake.Events()[0].Detail) != `{"eventId":"wh-1","eventType":"update","meta":{"resourceType":"Loan"}}` {
		t.Fatalf("events %+v", fake.Events())
	}
	_, size, err := p.Entry(publish.Event{Source: "ab", DetailType: "cd", Detail: map[string]string{"eventId": "x"}})
	if err != nil || size != 4+len(`{"eventId":"x"}`) {
		t.Fatalf("entry size %d %v", size, err)
	}
}

func BenchmarkPublish25(b *testing.B) {
	fake := testenv.EventBridge(b)
	p := newPublisher(fake)
	evs := events(25)
	ctx := context.Background()
	for b.Loop() {
		if err := p.Publish(ctx, evs...); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(fake.Calls())/float64(b.N), "calls/op")
}
