package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/lenderops/encompass-lifecycle/internal/testenv"
)

// sqsFake is an httptest server speaking SQS's AWS JSON 1.0 protocol
// (X-Amz-Target: AmazonSQS.<Operation>) for the four operations redrive
// uses, as SQS answers them, and recording what was asked.
type sqsFake struct {
	srv    *httptest.Server
	client *sqs.Client

	mu     sync.Mutex
	queues []*fakeQueue
	calls  []sqsCall
	tasks  map[string][]map[string]any // by source ARN, newest first
	// startError, when set, is the __type StartMessageMoveTask fails with.
	startError string
}

type fakeQueue struct {
	name, arn, url string
	attrs          map[string]string
}

type sqsCall struct {
	Op   string
	Body map[string]any
}

const fakeAccount = "123456789012"

func newSQSFake(t *testing.T) *sqsFake {
	t.Helper()
	f := &sqsFake{tasks: map[string][]map[string]any{}}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	f.client = sqs.New(sqs.Options{Region: testenv.Region, Credentials: testenv.Credentials, BaseEndpoint: aws.String(f.srv.URL)})
	return f
}

// addQueue adds a queue; dlq, when set, is its dead-letter queue.
func (f *sqsFake) addQueue(name string, messages int, dlq *fakeQueue) *fakeQueue {
	q := &fakeQueue{
		name: name,
		arn:  "arn:aws:sqs:us-east-1:" + fakeAccount + ":" + name,
		url:  f.srv.URL + "/" + fakeAccount + "/" + name,
		attrs: map[string]string{
			"ApproximateNumberOfMessages":           fmt.Sprint(messages),
			"ApproximateNumberOfMessagesNotVisible": "1",
		},
	}
	q.attrs["QueueArn"] = q.arn
	if dlq != nil {
		q.attrs["RedrivePolicy"] = fmt.Sprintf(`{"deadLetterTargetArn":%q,"maxReceiveCount":5}`, dlq.arn)
	}
	f.mu.Lock()
	f.queues = append(f.queues, q)
	f.mu.Unlock()
	return q
}

func (f *sqsFake) ops() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for _, c := range f.calls {
		out = append(out, c.Op)
	}
	return out
}

func (f *sqsFake) callsOf(op string) []sqsCall {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []sqsCall
	for _, c := range f.calls {
		if c.Op == op {
			out = append(out, c)
		}
	}
	return out
}

func (f *sqsFake) find(match func(*fakeQueue) bool) *fakeQueue {
	for _, q := range f.queues {
		if match(q) {
			return q
		}
	}
	return nil
}

func sqsError(w http.ResponseWriter, typ, msg string) {
	w.Header().Set("Content-Type", "application/x-amz-json-1.0")
	w.WriteHeader(http.StatusBadRequest)
	json.NewEncoder(w).Encode(map[string]string{"__type": "com.amazonaws.sqs#" + typ, "message": msg})
}

func (f *sqsFake) serve(w http.ResponseWriter, r *http.Request) {
	op, ok := strings.CutPrefix(r.Header.Get("X-Amz-Target"), "AmazonSQS.")
	if r.Method != http.MethodPost || !ok || r.Header.Get("Content-Type") != "application/x-amz-json-1.0" {
		sqsError(w, "InvalidAction", "not an AWS JSON 1.0 SQS request")
		return
	}
	raw, _ := io.ReadAll(r.Body)
	var body map[string]any
	if err := json.Unmarshal(raw, &body); err != nil {
		sqsError(w, "InvalidParameterValue", "body is not JSON")
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, sqsCall{Op: op, Body: body})
	str := func(k string) string { s, _ := body[k].(string); return s }
	answer := func(v any) {
		w.Header().Set("Content-Type", "application/x-amz-json-1.0")
		json.NewEncoder(w).Encode(v)
	}
	switch op {
	case "GetQueueUrl":
		q := f.find(func(q *fakeQueue) bool {
			return q.name == str("QueueName") && (str("QueueOwnerAWSAccountId") == "" || str("QueueOwnerAWSAccountId") == fakeAccount)
		})
		if q == nil {
			sqsError(w, "QueueDoesNotExist", "The specified queue does not exist.")
			return
		}
		answer(map[string]string{"QueueUrl": q.url})
	case "GetQueueAttributes":
		q := f.find(func(q *fakeQueue) bool { return q.url == str("QueueUrl") })
		if q == nil {
			sqsError(w, "QueueDoesNotExist", "The specified queue does not exist.")
			return
		}
		attrs := map[string]string{}
		names, _ := body["AttributeNames"].([]any)
		for _, n := range names {
			if v, ok := q.attrs[fmt.Sprint(n)]; ok {
				attrs[fmt.Sprint(n)] = v
			}
		}
		answer(map[string]any{"Attributes": attrs})
	case "StartMessageMoveTask":
		src := str("SourceArn")
		// SQS moves only from a queue that is some queue's dead-letter queue.
		isDLQ := f.find(func(q *fakeQueue) bool { return strings.Contains(q.attrs["RedrivePolicy"], `"`+src+`"`) }) != nil
		switch {
		case f.startError != "":
			sqsError(w, f.startError, "injected")
			return
		case !isDLQ:
			sqsError(w, "InvalidParameterValue", "Source queue must be configured as a Dead Letter Queue.")
			return
		}
		handle := fmt.Sprintf("task-%d", len(f.tasks[src])+1)
		task := map[string]any{"TaskHandle": handle, "SourceArn": src, "Status": "RUNNING", "StartedTimestamp": 1796594870000,
			"ApproximateNumberOfMessagesMoved": 0, "ApproximateNumberOfMessagesToMove": 3}
		if d := str("DestinationArn"); d != "" {
			task["DestinationArn"] = d
		}
		if n, ok := body["MaxNumberOfMessagesPerSecond"]; ok {
			task["MaxNumberOfMessagesPerSecond"] = n
		}
		f.tasks[src] = append([]map[string]any{task}, f.tasks[src]...)
		answer(map[string]string{"TaskHandle": handle})
	case "ListMessageMoveTasks":
		answer(map[string]any{"Results": f.tasks[str("SourceArn")]})
	default:
		sqsError(w, "InvalidAction", "not supported by the fake: "+op)
	}
}
