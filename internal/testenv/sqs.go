package testenv

import (
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
)

// SQS limits the fake enforces, as SQS does.
const (
	MaxSQSBatchEntries = 10
	MaxSQSBatchBytes   = 1 << 20
	// SQSDeduplicationWindow is how long a FIFO queue drops a message whose
	// MessageDeduplicationId it accepted before.
	SQSDeduplicationWindow = 5 * time.Minute
)

// SQSAccount is the account id in the fake's queue ARNs and URLs.
const SQSAccount = "123456789012"

// SQSFake is an httptest server speaking SQS's AWS JSON 1.0 protocol
// (X-Amz-Target: AmazonSQS.<Operation>) through the real SDK client, for
// the operations this product uses: GetQueueUrl, GetQueueAttributes,
// SendMessageBatch (FIFO rules: group and deduplication ids, the
// five-minute deduplication window, ten entries, 1 MiB), and the DLQ
// redrive's StartMessageMoveTask and ListMessageMoveTasks. It records every
// call and every accepted message, and can be told to fail.
type SQSFake struct {
	// URL is the endpoint (AWS_ENDPOINT_URL_SQS for real binaries).
	URL string
	// Client is a real SDK client pointed at URL.
	Client *sqs.Client

	srv *httptest.Server

	mu      sync.Mutex
	queues  []*SQSQueue
	calls   []SQSCall
	tasks   map[string][]map[string]any // by source ARN, newest first
	sent    []SQSMessage
	seen    map[string]time.Time // queue URL + dedup id -> accepted at
	now     func() time.Time
	onSend  func(SQSMessage)
	fail    int    // requests to fail with a 500
	failOp  string // only this operation ("" any)
	entryFn func(SQSMessage) string
	// StartError, when set, is the __type StartMessageMoveTask fails with.
	startError string
}

// SQSQueue is one queue of the fake.
type SQSQueue struct {
	Name, ARN, URL string
	Attrs          map[string]string
}

// SQSCall is one request the fake answered (or refused).
type SQSCall struct {
	Op   string
	Body map[string]any
}

// SQSMessage is a message a queue accepted.
type SQSMessage struct {
	QueueURL, QueueARN string
	MessageID          string
	Body               string
	GroupID, DedupID   string
	// Duplicate: the queue had accepted this deduplication id within the
	// window, so SQS answered success and dropped the message.
	Duplicate bool
}

// SQS starts a fake for the test and closes it at cleanup.
func SQS(t testing.TB) *SQSFake {
	t.Helper()
	f := NewSQSFake()
	t.Cleanup(f.Close)
	return f
}

// NewSQSFake starts a fake without a testing.T (local runs, the demo). Call
// Close when done.
func NewSQSFake() *SQSFake {
	f := &SQSFake{tasks: map[string][]map[string]any{}, seen: map[string]time.Time{}, now: time.Now}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	f.URL = f.srv.URL
	f.Client = sqs.New(sqs.Options{Region: Region, Credentials: Credentials, BaseEndpoint: aws.String(f.URL)})
	return f
}

// Close stops the server.
func (f *SQSFake) Close() { f.srv.Close() }

// SetClock replaces time.Now for the deduplication window.
func (f *SQSFake) SetClock(now func() time.Time) { f.mu.Lock(); f.now = now; f.mu.Unlock() }

// AddQueue adds a queue; dlq, when set, is its dead-letter queue. messages
// is the ApproximateNumberOfMessages it reports.
func (f *SQSFake) AddQueue(name string, messages int, dlq *SQSQueue) *SQSQueue {
	q := &SQSQueue{
		Name: name,
		ARN:  "arn:aws:sqs:us-east-1:" + SQSAccount + ":" + name,
		URL:  f.URL + "/" + SQSAccount + "/" + name,
		Attrs: map[string]string{
			"ApproximateNumberOfMessages":           fmt.Sprint(messages),
			"ApproximateNumberOfMessagesNotVisible": "1",
		},
	}
	q.Attrs["QueueArn"] = q.ARN
	if strings.HasSuffix(name, ".fifo") {
		q.Attrs["FifoQueue"] = "true"
	}
	if dlq != nil {
		q.Attrs["RedrivePolicy"] = fmt.Sprintf(`{"deadLetterTargetArn":%q,"maxReceiveCount":5}`, dlq.ARN)
	}
	f.mu.Lock()
	f.queues = append(f.queues, q)
	f.mu.Unlock()
	return q
}

// OnSend is called, outside the fake's lock, with every message a queue
// accepts (not with duplicates): the local product hands them to the
// function the queue feeds.
func (f *SQSFake) OnSend(fn func(SQSMessage)) { f.mu.Lock(); f.onSend = fn; f.mu.Unlock() }

// FailRequests makes the next n requests of operation op ("" for any) fail
// with a 500 InternalError, as SQS does in a bad minute.
func (f *SQSFake) FailRequests(op string, n int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.fail, f.failOp = n, op
}

// FailEntries makes SendMessageBatch refuse the entries for which fn
// returns an error code ("" accepts): a partial failure.
func (f *SQSFake) FailEntries(fn func(SQSMessage) string) { f.mu.Lock(); f.entryFn = fn; f.mu.Unlock() }

// SetStartError makes StartMessageMoveTask fail with the __type typ ("" to
// stop).
func (f *SQSFake) SetStartError(typ string) { f.mu.Lock(); f.startError = typ; f.mu.Unlock() }

// Ops returns the operation of every call, in order.
func (f *SQSFake) Ops() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]string, 0, len(f.calls))
	for _, c := range f.calls {
		out = append(out, c.Op)
	}
	return out
}

// CallsOf returns the calls of one operation.
func (f *SQSFake) CallsOf(op string) []SQSCall {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []SQSCall
	for _, c := range f.calls {
		if c.Op == op {
			out = append(out, c)
		}
	}
	return out
}

// Sent returns every message accepted, duplicates included (marked).
func (f *SQSFake) Sent() []SQSMessage {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]SQSMessage(nil), f.sent...)
}

func (f *SQSFake) find(match func(*SQSQueue) bool) *SQSQueue {
	for _, q := range f.queues {
		if match(q) {
			return q
		}
	}
	return nil
}

// sqsError answers with an AWS JSON 1.0 error the SDK decodes by __type.
func sqsError(w http.ResponseWriter, status int, typ, msg string) {
	w.Header().Set("Content-Type", "application/x-amz-json-1.0")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"__type": "com.amazonaws.sqs#" + typ, "message": msg})
}

func (f *SQSFake) serve(w http.ResponseWriter, r *http.Request) {
	op, ok := strings.CutPrefix(r.Header.Get("X-Amz-Target"), "AmazonSQS.")
	if r.Method != http.MethodPost || !ok || r.Header.Get("Content-Type") != "application/x-amz-json-1.0" {
		sqsError(w, http.StatusBadRequest, "InvalidAction", "not an AWS JSON 1.0 SQS request")
		return
	}
	raw, _ := io.ReadAll(io.LimitReader(r.Body, 2*MaxSQSBatchBytes))
	var body map[string]any
	if err := json.Unmarshal(raw, &body); err != nil {
		sqsError(w, http.StatusBadRequest, "InvalidParameterValue", "body is not JSON")
		return
	}
	f.mu.Lock()
	f.calls = append(f.calls, SQSCall{Op: op, Body: body})
	if f.fail > 0 && (f.failOp == "" || f.failOp == op) {
		f.fail--
		f.mu.Unlock()
		sqsError(w, http.StatusInternalServerError, "InternalError", "injected failure")
		return
	}
	var accepted []SQSMessage
	f.answer(w, op, body, &accepted)
	onSend := f.onSend
	f.mu.Unlock()
	if onSend != nil {
		for _, m := range accepted {
			onSend(m)
		}
	}
}

func answerJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/x-amz-json-1.0")
	_ = json.NewEncoder(w).Encode(v)
}

// answer serves one operation; the caller holds f.mu.
func (f *SQSFake) answer(w http.ResponseWriter, op string, body map[string]any, accepted *[]SQSMessage) {
	str := func(k string) string { s, _ := body[k].(string); return s }
	// A queue URL names the queue by its last segment: a function that
	// builds its URL from the queue's ARN (https://sqs.<region>.amazonaws.com/...)
	// reaches the fake through AWS_ENDPOINT_URL_SQS, as with any local SQS.
	byURL := func() *SQSQueue {
		u := str("QueueUrl")
		return f.find(func(q *SQSQueue) bool { return q.URL == u || strings.HasSuffix(u, "/"+q.Name) })
	}
	switch op {
	case "GetQueueUrl":
		q := f.find(func(q *SQSQueue) bool {
			return q.Name == str("QueueName") && (str("QueueOwnerAWSAccountId") == "" || str("QueueOwnerAWSAccountId") == SQSAccount)
		})
		if q == nil {
			sqsError(w, http.StatusBadRequest, "QueueDoesNotExist", "The specified queue does not exist.")
			return
		}
		answerJSON(w, map[string]string{"QueueUrl": q.URL})
	case "GetQueueAttributes":
		q := byURL()
		if q == nil {
			sqsError(w, http.StatusBadRequest, "QueueDoesNotExist", "The specified queue does not exist.")
			return
		}
		attrs := map[string]string{}
		names, _ := body["AttributeNames"].([]any)
		for _, n := range names {
			if v, ok := q.Attrs[fmt.Sprint(n)]; ok {
				attrs[fmt.Sprint(n)] = v
			}
		}
		answerJSON(w, map[string]any{"Attributes": attrs})
	case "SendMessageBatch":
		q := byURL()
		if q == nil {
			sqsError(w, http.StatusBadRequest, "QueueDoesNotExist", "The specified queue does not exist.")
			return
		}
		f.sendBatch(w, q, body, accepted)
	case "StartMessageMoveTask":
		src := str("SourceArn")
		// SQS moves only from a queue that is some queue's dead-letter queue.
		isDLQ := f.find(func(q *SQSQueue) bool { return strings.Contains(q.Attrs["RedrivePolicy"], `"`+src+`"`) }) != nil
		switch {
		case f.startError != "":
			sqsError(w, http.StatusBadRequest, f.startError, "injected")
			return
		case !isDLQ:
			sqsError(w, http.StatusBadRequest, "InvalidParameterValue", "Source queue must be configured as a Dead Letter Queue.")
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
		answerJSON(w, map[string]string{"TaskHandle": handle})
	case "ListMessageMoveTasks":
		answerJSON(w, map[string]any{"Results": f.tasks[str("SourceArn")]})
	default:
		sqsError(w, http.StatusBadRequest, "InvalidAction", "not supported by the fake: "+op)
	}
}

// sqsIDPattern is what SQS accepts as a message group or deduplication id:
// up to 128 alphanumeric and punctuation characters.
var sqsIDPattern = regexp.MustCompile("^[a-zA-Z0-9!\"#$%&'()*+,\\-./:;<=>?@\\[\\\\\\]^_`{|}~]{1,128}$")

// entryIDPattern is what SQS accepts as a batch entry id.
var entryIDPattern = regexp.MustCompile(`^[a-zA-Z0-9_-]{1,80}$`)

// sendBatch applies SendMessageBatch: request-level checks refuse the whole
// batch; entry-level ones refuse the entry (SenderFault), as SQS does.
func (f *SQSFake) sendBatch(w http.ResponseWriter, q *SQSQueue, body map[string]any, accepted *[]SQSMessage) {
	entries, _ := body["Entries"].([]any)
	switch {
	case len(entries) == 0:
		sqsError(w, http.StatusBadRequest, "EmptyBatchRequest", "There should be at least one SendMessageBatchRequestEntry in the request.")
		return
	case len(entries) > MaxSQSBatchEntries:
		sqsError(w, http.StatusBadRequest, "TooManyEntriesInBatchRequest", fmt.Sprintf("Maximum number of entries per request are %d. You have sent %d.", MaxSQSBatchEntries, len(entries)))
		return
	}
	total, ids := 0, map[string]bool{}
	for _, e := range entries {
		m, _ := e.(map[string]any)
		id, _ := m["Id"].(string)
		b, _ := m["MessageBody"].(string)
		total += len(b)
		if !entryIDPattern.MatchString(id) {
			sqsError(w, http.StatusBadRequest, "InvalidBatchEntryId", "A batch entry id can only contain alphanumeric characters, hyphens and underscores.")
			return
		}
		if ids[id] {
			sqsError(w, http.StatusBadRequest, "BatchEntryIdsNotDistinct", "Two or more batch entries in the request have the same Id.")
			return
		}
		ids[id] = true
	}
	if total > MaxSQSBatchBytes {
		sqsError(w, http.StatusBadRequest, "BatchRequestTooLong", "Batch requests cannot be longer than 1048576 bytes.")
		return
	}
	fifo := q.Attrs["FifoQueue"] == "true"
	var ok []map[string]any
	var failed []map[string]any
	for i, e := range entries {
		m, _ := e.(map[string]any)
		id, _ := m["Id"].(string)
		msg := SQSMessage{QueueURL: q.URL, QueueARN: q.ARN, MessageID: fmt.Sprintf("msg-%d-%d", len(f.sent)+1, i)}
		msg.Body, _ = m["MessageBody"].(string)
		msg.GroupID, _ = m["MessageGroupId"].(string)
		msg.DedupID, _ = m["MessageDeduplicationId"].(string)
		code := ""
		switch {
		case msg.Body == "":
			code = "MissingParameter"
		case fifo && !sqsIDPattern.MatchString(msg.GroupID):
			code = "MissingParameter"
		case fifo && !sqsIDPattern.MatchString(msg.DedupID):
			code = "InvalidParameterValue"
		case f.entryFn != nil:
			code = f.entryFn(msg)
		}
		if code != "" {
			failed = append(failed, map[string]any{"Id": id, "Code": code, "Message": "refused by the fake", "SenderFault": code != "InternalError"})
			continue
		}
		if fifo {
			k := q.URL + "\x00" + msg.DedupID
			if at, dup := f.seen[k]; dup && f.now().Sub(at) < SQSDeduplicationWindow {
				msg.Duplicate = true
			} else {
				f.seen[k] = f.now()
			}
		}
		f.sent = append(f.sent, msg)
		if !msg.Duplicate {
			*accepted = append(*accepted, msg)
		}
		ok = append(ok, map[string]any{"Id": id, "MessageId": msg.MessageID, "MD5OfMessageBody": md5Hex(msg.Body), "SequenceNumber": fmt.Sprint(len(f.sent))})
	}
	answerJSON(w, map[string]any{"Successful": ok, "Failed": failed})
}

// md5Hex is the MD5OfMessageBody SQS answers, which the SDK checks.
func md5Hex(s string) string {
	sum := md5.Sum([]byte(s))
	return hex.EncodeToString(sum[:])
}
