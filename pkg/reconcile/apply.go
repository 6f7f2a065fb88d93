package reconcile

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"golang.org/x/sync/errgroup"

	"github.com/lenderops/encompass-lifecycle/pkg/hris"
)

// Apply sends HRIS events (CONTRACTS section 7): adoptable, missing and
// drift become update events, leaver_enabled a terminate, each with the
// event id reconcile-<runId>-<employeeId>, source reconcile and occurredAt
// the roster's last-modified time, to the FIFO queues with
// MessageGroupId = employeeId and MessageDeduplicationId = eventId, ten to a
// SendMessageBatch call.

// EventSource is the source of the HRIS events reconciliation sends.
const EventSource = "reconcile"

// batchSize is SendMessageBatch's most entries.
const batchSize = 10

// sendInFlight bounds the SendMessageBatch calls in flight.
const sendInFlight = 4

// maxEntryAttempts bounds the sends of an entry SQS refused for a reason
// of its own (not the message's): a retry then likely succeeds.
const maxEntryAttempts = 5

// maxIDLength is SQS's limit for group and deduplication ids, and the
// HRIS event id's (hris: 128 bytes).
const maxIDLength = 128

// sqsID is what SQS accepts as a message group or deduplication id.
var sqsID = regexp.MustCompile("^[a-zA-Z0-9!\"#$%&'()*+,\\-./:;<=>?@\\[\\\\\\]^_`{|}~]{1,128}$")

// EventID is the id of the event a run sends for an employee:
// reconcile-<runId>-<employeeId>. An employee id too long to fit in 128
// characters is replaced by a digest of it, so that the id stays a valid
// HRIS event id and SQS deduplication id, and the same every run.
func EventID(runID, employeeID string) string {
	id := "reconcile-" + runID + "-" + employeeID
	if len(id) <= maxIDLength {
		return id
	}
	sum := sha256.Sum256([]byte(employeeID))
	return "reconcile-" + runID + "-sha256-" + hex.EncodeToString(sum[:16])
}

// groupable reports whether an employee id can be a FIFO message group id
// (SQS allows only ASCII letters, digits and punctuation).
func groupable(employeeID string) bool { return sqsID.MatchString(employeeID) }

// eventBody is the HRIS event for a finding: the row's employee members
// (an explicit link added for an account not linked yet).
func eventBody(typ hris.Type, eventID string, occurredAt time.Time, fields map[string]json.RawMessage, link string) ([]byte, error) {
	emp := make(map[string]json.RawMessage, len(fields)+1)
	if typ == hris.TypeTerminate {
		// A terminate needs only who: the profile is not applied.
		for _, k := range []string{"employeeId", "userName", "email"} {
			if v, ok := fields[k]; ok {
				emp[k] = v
			}
		}
	} else {
		for k, v := range fields {
			emp[k] = v
		}
	}
	if link != "" {
		b, _ := json.Marshal(link)
		emp["encompassUserName"] = b
	}
	return json.Marshal(map[string]any{
		"schemaVersion": hris.SchemaVersion,
		"eventId":       eventID,
		"type":          typ,
		"occurredAt":    occurredAt.UTC().Format(time.RFC3339Nano),
		"source":        EventSource,
		"employee":      emp,
	})
}

// sender batches events per queue and sends them, a few batches at a time.
// An entry SQS refuses because of itself (SenderFault) is counted as
// failed and logged; anything else is retried, and in the end returned as
// the run's error (the whole run is then retried: the same ids again).
type sender struct {
	r       *Reconciler
	g       *errgroup.Group
	ctx     context.Context
	pending map[string][]types.SendMessageBatchRequestEntry // by queue URL

	mu             sync.Mutex
	sent, failed   int
	calls          int
	failedExamples []string
}

func newSender(ctx context.Context, r *Reconciler) *sender {
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(sendInFlight)
	return &sender{r: r, g: g, ctx: gctx, pending: map[string][]types.SendMessageBatchRequestEntry{}}
}

// add queues one event; a full batch is sent. It returns the error of a
// batch that failed already, to stop the run early.
func (s *sender) add(queueURL, groupID, eventID string, body []byte) error {
	if err := s.ctx.Err(); err != nil {
		return s.g.Wait()
	}
	batch := append(s.pending[queueURL], types.SendMessageBatchRequestEntry{
		Id:                     aws.String(strconv.Itoa(len(s.pending[queueURL]))),
		MessageBody:            aws.String(string(body)),
		MessageGroupId:         aws.String(groupID),
		MessageDeduplicationId: aws.String(eventID),
	})
	if len(batch) < batchSize {
		s.pending[queueURL] = batch
		return nil
	}
	s.pending[queueURL] = nil
	s.g.Go(func() error { return s.send(queueURL, batch) })
	return nil
}

// close sends what is pending and waits for every batch.
func (s *sender) close() error {
	for q, batch := range s.pending {
		if len(batch) > 0 {
			s.g.Go(func() error { return s.send(q, batch) })
		}
	}
	s.pending = nil
	return s.g.Wait()
}

// send sends one batch, again for the entries SQS failed on its side.
func (s *sender) send(queueURL string, entries []types.SendMessageBatchRequestEntry) error {
	for attempt := 1; len(entries) > 0; attempt++ {
		s.mu.Lock()
		s.calls++
		s.mu.Unlock()
		out, err := s.r.cfg.Queues.SendMessageBatch(s.ctx, &sqs.SendMessageBatchInput{QueueUrl: aws.String(queueURL), Entries: entries})
		if err != nil {
			return fmt.Errorf("send HRIS events to %s: %w", queueURL, err)
		}
		byID := make(map[string]types.SendMessageBatchRequestEntry, len(entries))
		for _, e := range entries {
			byID[*e.Id] = e
		}
		var retry []types.SendMessageBatchRequestEntry
		s.mu.Lock()
		s.sent += len(out.Successful)
		for _, f := range out.Failed {
			e, ok := byID[aws.ToString(f.Id)]
			if !ok {
				continue
			}
			if f.SenderFault {
				s.failed++
				if len(s.failedExamples) < 10 {
					s.failedExamples = append(s.failedExamples, fmt.Sprintf("%s: %s", aws.ToString(e.MessageDeduplicationId), aws.ToString(f.Code)))
				}
				continue
			}
			retry = append(retry, e)
		}
		s.mu.Unlock()
		if len(retry) == 0 {
			return nil
		}
		if attempt >= maxEntryAttempts {
			return fmt.Errorf("send HRIS events to %s: %d entries still refused after %d attempts: %w", queueURL, len(retry), attempt, errEntriesRefused)
		}
		select {
		case <-s.ctx.Done():
			return s.ctx.Err()
		case <-time.After(time.Duration(attempt*attempt) * 50 * time.Millisecond):
		}
		entries = retry
	}
	return nil
}

var errEntriesRefused = errors.New("SQS refused entries")
