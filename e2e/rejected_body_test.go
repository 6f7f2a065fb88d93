package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/lenderops/encompass-lifecycle/internal/localenv"
	"github.com/lenderops/encompass-lifecycle/internal/testenv"
	"github.com/lenderops/encompass-lifecycle/pkg/state"
)

// hugeBody is an HRIS-looking body of exactly n bytes whose padding mixes
// ASCII, multi-byte characters and quotes, so that a byte lost or re-encoded
// anywhere on the way shows.
func hugeBody(eventID string, n int) []byte {
	head := `{"schemaVersion":"1","eventId":"` + eventID + `","type":"hire","occurredAt":"2026-11-20T15:04:05Z","employee":{"employeeId":"E9001"},"pad":"`
	var b bytes.Buffer
	b.WriteString(head)
	for b.Len() < n-2-16 {
		b.WriteString(`abcdefé€\"0123456789`)
	}
	b.WriteString(strings.Repeat("z", n-2-b.Len()))
	b.WriteString(`"}`)
	return b.Bytes()
}

// sendRaw delivers bodies as one provision batch and returns the message ids
// SQS would be asked to retry, with the batch.
func sendRaw(t *testing.T, env *localenv.Env, bodies ...[]byte) (events.SQSEvent, []string) {
	t.Helper()
	batch := localenv.SQSBatch(localenv.ProvisionQueueARN, bodies...)
	return batch, invokeBatch(t, env, batch)
}

// invokeBatch delivers batch to provision and returns the batch item failures.
func invokeBatch(t *testing.T, env *localenv.Env, batch events.SQSEvent) []string {
	t.Helper()
	res, err := env.Invoke(context.Background(), "provision", batch)
	if err != nil {
		t.Fatal(err)
	}
	if res.Error != nil {
		t.Fatalf("provision failed: %v\n%s", res.Error, res.Logs)
	}
	var resp events.SQSEventResponse
	if err := json.Unmarshal(res.Payload, &resp); err != nil {
		t.Fatalf("provision answered %q: %v", res.Payload, err)
	}
	var retry []string
	for _, f := range resp.BatchItemFailures {
		retry = append(retry, f.ItemIdentifier)
	}
	return retry
}

// rejectionFor returns the HRIS Event Rejected event of an SQS message
// (over 256 KiB the event id is the message id: the body is not read).
func rejectionFor(t *testing.T, evs []testenv.Event, messageID string) map[string]any {
	t.Helper()
	var found map[string]any
	for _, ev := range evs {
		d := ev.DetailMap()
		if ev.DetailType == "HRIS Event Rejected" && d["eventId"] == messageID {
			if found != nil {
				t.Fatalf("two rejections for message %s", messageID)
			}
			found = d
		}
	}
	if found == nil {
		t.Fatalf("no HRIS Event Rejected for message %s among %v", messageID, countEvents(evs))
	}
	return found
}

// TestRejectedBodyUpTo1MiB: SQS delivers bodies of up to 1 MiB. Through the
// real provision binary, a 400 KiB and a 1 MiB body are rejected as
// too_large, acknowledged (no batch item failure, so nothing loops to the
// DLQ), and each is readable back byte-identical from the state table where
// messageStoredAt says.
func TestRejectedBodyUpTo1MiB(t *testing.T) {
	env := start(t, func(o *localenv.Options) { o.Functions = []string{"provision"} })
	bodies := [][]byte{hugeBody("hris-big-400k", 400<<10), hugeBody("hris-big-1m", state.MaxRejectedBodyBytes)}
	batch, retry := sendRaw(t, env, bodies...)
	if len(retry) != 0 {
		t.Fatalf("batch item failures %v: the rejections were not acknowledged", retry)
	}
	store := state.New(env.DynamoDB, env.Table)
	for i, m := range batch.Records {
		d := rejectionFor(t, env.Bus.Events(), m.MessageId)
		if d["reason"] != "too_large" || d["messageTruncated"] != true || int(d["messageBytes"].(float64)) != len(bodies[i]) {
			t.Errorf("body %d: rejection %v", i, d)
		}
		ref, _ := d["messageStoredAt"].(map[string]any)
		if ref["table"] != env.Table || ref["pk"] != "REJECTED#"+m.MessageId || ref["sk"] != "BODY#"+m.MessageId {
			t.Fatalf("body %d: messageStoredAt %v", i, d["messageStoredAt"])
		}
		got, found, err := store.GetRejectedBody(context.Background(), m.MessageId, m.MessageId)
		if err != nil || !found || !bytes.Equal(got, bodies[i]) {
			t.Errorf("body %d: read back %d bytes (found %v, err %v), want the %d bytes sent", i, len(got), found, err, len(bodies[i]))
		}
	}
	// The redelivery of the same message (SQS retries when the answer was
	// lost) rewrites the same body harmlessly and is acknowledged again.
	redelivered := batch
	redelivered.Records = batch.Records[1:]
	if retry := invokeBatch(t, env, redelivered); len(retry) != 0 {
		t.Fatalf("redelivery: batch item failures %v", retry)
	}
	got, _, err := store.GetRejectedBody(context.Background(), batch.Records[1].MessageId, batch.Records[1].MessageId)
	if err != nil || !bytes.Equal(got, bodies[1]) {
		t.Fatalf("after the redelivery: %d bytes, %v", len(got), err)
	}
}

// TestRejectedBodyOver1MiB: a body over 1 MiB cannot come from SQS, only
// from a hand-made event. It is rejected and acknowledged all the same
// (retrying could never store it), and the event says explicitly that the
// whole body was not kept: no messageStoredAt, and why in error.
func TestRejectedBodyOver1MiB(t *testing.T) {
	env := start(t, func(o *localenv.Options) { o.Functions = []string{"provision"} })
	body := hugeBody("hris-big-over", state.MaxRejectedBodyBytes+1)
	batch, retry := sendRaw(t, env, body)
	if len(retry) != 0 {
		t.Fatalf("batch item failures %v: a body that can never be stored would loop to the DLQ", retry)
	}
	d := rejectionFor(t, env.Bus.Events(), batch.Records[0].MessageId)
	msg, _ := d["message"].(string)
	errText, _ := d["error"].(string)
	if d["reason"] != "too_large" || d["messageStoredAt"] != nil || d["messageTruncated"] != true ||
		!strings.HasPrefix(string(body), msg) || msg == "" || !strings.Contains(errText, "was not kept") {
		t.Errorf("rejection %v", d)
	}
	list, err := state.New(env.DynamoDB, env.Table).RejectedBodies(context.Background(), batch.Records[0].MessageId)
	if err != nil || len(list) != 0 {
		t.Errorf("stored bodies %v %v, want none", list, err)
	}
}
