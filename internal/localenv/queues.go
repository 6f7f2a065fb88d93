package localenv

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/lenderops/encompass-lifecycle/internal/lambdarun"
	"github.com/lenderops/encompass-lifecycle/internal/testenv"
)

// queueName is the name of a queue from its ARN.
func queueName(arn string) string { return arn[strings.LastIndexByte(arn, ':')+1:] }

// queueFunctions are the functions the two HRIS queues feed, by queue ARN.
var queueFunctions = map[string]string{ProvisionQueueARN: "provision", DeprovisionQueueARN: "deprovision"}

// QueueDelivery is one SQS batch DrainQueues handed to a function.
type QueueDelivery struct {
	Function string
	Bodies   [][]byte
	Result   *lambdarun.Result
}

// DrainQueues delivers the messages sent to the two HRIS queues since the
// last call to the function each queue feeds (provision, deprovision), in
// FIFO batches of ten, as the event source mapping would, each with the
// group and deduplication ids its sender set. Duplicates the queue dropped
// are not delivered.
func (e *Env) DrainQueues(ctx context.Context) ([]QueueDelivery, error) {
	e.mu.Lock()
	sent := e.SQS.Sent()
	from := e.drained
	e.drained = len(sent)
	e.mu.Unlock()
	byQueue := map[string][]testenv.SQSMessage{}
	var order []string
	for _, m := range sent[from:] {
		if m.Duplicate {
			continue
		}
		if byQueue[m.QueueARN] == nil {
			order = append(order, m.QueueARN)
		}
		byQueue[m.QueueARN] = append(byQueue[m.QueueARN], m)
	}
	var out []QueueDelivery
	for _, q := range order {
		// The SQS fake's queues carry an account of their own: the stack's
		// queue is the one of the same name.
		arn := ProvisionQueueARN
		if queueName(q) == queueName(DeprovisionQueueARN) {
			arn = DeprovisionQueueARN
		}
		fn := queueFunctions[arn]
		msgs := byQueue[q]
		for len(msgs) > 0 {
			n := min(len(msgs), 10)
			batch := events.SQSEvent{Records: make([]events.SQSMessage, n)}
			bodies := make([][]byte, n)
			for i, m := range msgs[:n] {
				batch.Records[i] = sqsRecord(arn, "", m.Body, m.GroupID, m.DedupID, time.Now())
				bodies[i] = []byte(m.Body)
			}
			res, err := e.Invoke(ctx, fn, batch)
			if err != nil {
				return out, fmt.Errorf("deliver to %s: %w", fn, err)
			}
			out = append(out, QueueDelivery{Function: fn, Bodies: bodies, Result: res})
			msgs = msgs[n:]
		}
	}
	return out, nil
}

// PutRoster stores a roster in the roster bucket and returns the S3 event
// notification the reconcile function receives for it (the key
// URL-encoded, with the object's version and ETag).
func (e *Env) PutRoster(ctx context.Context, key string, body []byte) (events.S3Event, error) {
	version, etag, err := e.S3.Put(ctx, RosterBucket, key, body)
	if err != nil {
		return events.S3Event{}, err
	}
	return S3Notification(RosterBucket, key, version, etag, int64(len(body))), nil
}

// RosterObject reads an object of the roster bucket (a report).
func (e *Env) RosterObject(ctx context.Context, key string) ([]byte, error) {
	return e.S3.Get(ctx, RosterBucket, key)
}

// S3Notification is the event S3 sends for an ObjectCreated:Put (the key
// URL-encoded as S3 encodes it: a space as "+").
func S3Notification(bucket, key, version, etag string, size int64) events.S3Event {
	return events.S3Event{Records: []events.S3EventRecord{{
		EventVersion: "2.1", EventSource: "aws:s3", AWSRegion: "us-east-1", EventName: "ObjectCreated:Put",
		S3: events.S3Entity{
			SchemaVersion:   "1.0",
			ConfigurationID: "rosters",
			Bucket:          events.S3Bucket{Name: bucket, Arn: "arn:aws:s3:::" + bucket},
			Object:          events.S3Object{Key: encodeKey(key), Size: size, VersionID: version, ETag: etag},
		},
	}}}
}

// encodeKey URL-encodes a key as S3 notifications do: each segment, the
// slashes kept.
func encodeKey(key string) string {
	parts := strings.Split(key, "/")
	for i, p := range parts {
		parts[i] = url.QueryEscape(p)
	}
	return strings.Join(parts, "/")
}
