package provisioning_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/lenderops/encompass-lifecycle/internal/testenv"
	"github.com/lenderops/encompass-lifecycle/pkg/catalog"
	"github.com/lenderops/encompass-lifecycle/pkg/config"
	"github.com/lenderops/encompass-lifecycle/pkg/hris"
	"github.com/lenderops/encompass-lifecycle/pkg/provisioning"
	"github.com/lenderops/encompass-lifecycle/pkg/publish"
	"github.com/lenderops/encompass-lifecycle/pkg/state"
)

// bodyOf builds a JSON-looking body of exactly n bytes whose padding is made
// of pad (characters JSON escapes up to six times).
func bodyOf(prefix, pad string, n int) string {
	b := prefix + strings.Repeat(pad, (n-len(prefix)-2)/len(pad))
	b += strings.Repeat("x", n-len(b)-2)
	return b + `"}`
}

// TestOversizedRejectionLosesNothing: SQS bodies may be 256 KiB, which no
// EventBridge event can carry. The rejection carries a preview and where the
// whole body is; the stored body is byte-identical.
func TestOversizedRejectionLosesNothing(t *testing.T) {
	t.Parallel()
	e := newEnv(t, config.UserAPIV3)
	cases := []struct {
		name, messageID, body, wantEventID string
	}{
		{"256 KiB of characters JSON escapes six times", "m-big-1", bodyOf(`{"schemaVersion":"1","eventId":"big-1","pad":"`, "<\u2028", 256<<10), "big-1"},
		{"256 KiB without an event id", "m-big-2", bodyOf(`{"pad":"`, `\"`, 256<<10), "m-big-2"},
		{"256 KiB, multi-byte characters across the cut", "m-big-3", bodyOf(`{"eventId":"big-3","pad":"`, "é€😀", 256<<10), "big-3"},
		{"an eventId that is itself hostile", "m-big-4", bodyOf(`{"eventId":"`+strings.Repeat("e", 3000)+`","pad":"`, "a", 100<<10), "m-big-4"},
	}
	for _, tc := range cases {
		if e.sendRecords(e.prov, events.SQSMessage{MessageId: tc.messageID, Body: tc.body}) != 0 {
			t.Fatalf("%s: retried; a permanent failure whose body was kept must be acknowledged", tc.name)
		}
		dt, d := e.eventFor(tc.wantEventID)
		if dt != catalog.HRISEventRejected || d["reason"] != hris.ReasonTooLarge {
			t.Fatalf("%s: %s %v", tc.name, dt, d["reason"])
		}
		msg, _ := d["message"].(string)
		if d["messageTruncated"] != true || int(d["messageBytes"].(float64)) != len(tc.body) || !strings.HasPrefix(tc.body, msg) || len(msg) > provisioning.MaxMessageBytes {
			t.Errorf("%s: preview of %d bytes, truncated %v, messageBytes %v", tc.name, len(msg), d["messageTruncated"], d["messageBytes"])
		}
		ref, _ := d["messageStoredAt"].(map[string]any)
		want := map[string]any{"table": e.store.Table(), "pk": "REJECTED#" + tc.wantEventID, "sk": "BODY#" + tc.messageID}
		for k, v := range want {
			if ref[k] != v {
				t.Errorf("%s: messageStoredAt.%s = %v, want %v", tc.name, k, ref[k], v)
			}
		}
		stored, found, err := e.store.GetRejectedBody(context.Background(), tc.wantEventID, tc.messageID)
		if err != nil || !found || !bytes.Equal(stored, []byte(tc.body)) {
			t.Errorf("%s: stored body of %d bytes (found %v, err %v) is not the original %d bytes", tc.name, len(stored), found, err, len(tc.body))
		}
	}
	// Every event went through the EventBridge fake, which enforces the
	// 256 KiB limit as EventBridge does.
	for _, ev := range e.eb.Events() {
		if n := len(ev.Detail); n > testenv.MaxPutEventsBytes {
			t.Errorf("a detail of %d bytes was accepted", n)
		}
	}
}

// A body short enough for the event is carried whole and not stored: the
// common path costs no extra write.
func TestSmallRejectionIsNotStored(t *testing.T) {
	t.Parallel()
	e := newEnv(t, config.UserAPIV3)
	before := e.store.Ops()
	if e.sendRecords(e.prov, events.SQSMessage{MessageId: "m-small", Body: `{"eventId":"small-1","schemaVersion":"9"}`}) != 0 {
		t.Fatal("retried")
	}
	_, d := e.eventFor("small-1")
	if d["messageStoredAt"] != nil || d["messageTruncated"] != nil || e.store.Ops() != before {
		t.Fatalf("small body stored: %v, %d state operations", d, e.store.Ops()-before)
	}
}

// failingBodies is the real store whose PutRejectedBody fails: the write the
// test needs to lose, with every other state operation real.
type failingBodies struct {
	*state.Store
	fail bool
}

func (f *failingBodies) PutRejectedBody(ctx context.Context, eventID, messageID string, body []byte, ttl time.Duration) (state.ItemRef, error) {
	if f.fail {
		return state.ItemRef{}, errors.New("dynamodb: throttled")
	}
	return f.Store.PutRejectedBody(ctx, eventID, messageID, body, ttl)
}

// TestRejectedBodyStoreFailureIsRetried: when the full body cannot be kept,
// the message is a batch item failure (never acknowledged) and nothing is
// published; the redelivery stores and publishes it. Both rejection paths:
// decoding, and a refusal by Encompass after the event was claimed.
func TestRejectedBodyStoreFailureIsRetried(t *testing.T) {
	t.Parallel()
	e := newEnv(t, config.UserAPIV3)
	store := &failingBodies{Store: e.store, fail: true}
	h, err := provisioning.New(provisioning.Config{
		Queue: hris.QueueProvision, Scheduler: e.scheduler, QueueARN: provisionARN, Directory: mustDirectory(t, config.UserAPIV3, e.client, e.rules),
		Store: store, Publisher: publish.New(e.eb.Client, "lifecycle-bus"), Mapping: e.rules,
	})
	if err != nil {
		t.Fatal(err)
	}
	tooLarge := bodyOf(`{"eventId":"big-r","pad":"`, "x", 200<<10)
	refused := hrisEvent("hire", "E750", t0, joiner("E750", "refusedbig"))
	refused["pad"] = strings.Repeat("p", 40<<10) // decodes (under 64 KiB), longer than the preview
	cases := []struct {
		name, messageID, body, eventID string
		before                         func()
	}{
		{"decoding rejection", "m-r1", tooLarge, "big-r", func() {}},
		{"Encompass refusal", "m-r2", refused.body(), refused.id(), func() { e.sim.FailNext(1, 400, "POST /encompass/v3/users") }},
	}
	for _, tc := range cases {
		store.fail = true
		tc.before()
		if e.sendRecords(h, events.SQSMessage{MessageId: tc.messageID, Body: tc.body}) == 0 {
			t.Fatalf("%s: acknowledged although its body could not be kept", tc.name)
		}
		if n := len(e.published(catalog.HRISEventRejected)); n != 0 {
			t.Fatalf("%s: %d rejections published before the body was kept", tc.name, n)
		}
		store.fail = false
		tc.before()
		if e.sendRecords(h, events.SQSMessage{MessageId: tc.messageID, Body: tc.body}) != 0 {
			t.Fatalf("%s: redelivery failed", tc.name)
		}
		dt, d := e.eventFor(tc.eventID)
		if dt != catalog.HRISEventRejected || d["messageStoredAt"] == nil {
			t.Fatalf("%s: %s %v", tc.name, dt, d)
		}
		stored, _, err := e.store.GetRejectedBody(context.Background(), tc.eventID, tc.messageID)
		if err != nil || string(stored) != tc.body {
			t.Fatalf("%s: stored body differs (%d bytes, %v)", tc.name, len(stored), err)
		}
		e.eb.Reset()
	}
	if e.usersNamed("refusedbig") != 0 {
		t.Fatal("the refused hire created a user")
	}
}

// A dry run writes nothing to the state table, not even an oversized body:
// the event still says the body was cut.
func TestOversizedRejectionInDryRun(t *testing.T) {
	t.Parallel()
	e := newEnv(t, config.UserAPIV3, dryRun())
	body := bodyOf(`{"eventId":"big-dry","pad":"`, "x", 256<<10)
	if e.sendRecords(e.prov, events.SQSMessage{MessageId: "m-dry", Body: body}) != 0 {
		t.Fatal("retried")
	}
	_, d := e.eventFor("big-dry")
	if d["dryRun"] != true || d["messageTruncated"] != true || d["messageStoredAt"] != nil {
		t.Fatalf("%v", d)
	}
	if _, found, _ := e.store.GetRejectedBody(context.Background(), "big-dry", "m-dry"); found || e.store.OpsByName()["PutItem"] != 0 {
		t.Fatal("a dry run wrote to the state table")
	}
}
