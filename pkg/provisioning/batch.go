package provisioning

import (
	"context"
	"encoding/json"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"golang.org/x/sync/errgroup"

	"github.com/lenderops/encompass-lifecycle/pkg/telemetry"
)

// HandleSQS processes one SQS batch and reports the messages to retry.
//
// Messages of different employees (FIFO message groups) run concurrently, up
// to Config.Concurrency at once; the messages of one employee run in order,
// and once one of them fails the later ones are reported failed too without
// being started, so that SQS redelivers them in order. When less than
// Config.SafetyMargin (at most a third of the invocation's time) of the
// Lambda's time remains, no further message is started and the rest are
// reported failed. The error return is always nil:
// every failure is a batch item failure, so nothing is lost.
func (h *Handler) HandleSQS(ctx context.Context, batch events.SQSEvent) (events.SQSEventResponse, error) {
	groups, order := groupRecords(batch.Records)
	failed := make([]bool, len(batch.Records))

	// Calls in flight are cut off shortly before the Lambda's own deadline,
	// so that their messages are reported as failures instead of the whole
	// invocation timing out.
	work := ctx
	margin := h.cfg.SafetyMargin
	deadline, hasDeadline := ctx.Deadline()
	if hasDeadline {
		// A short Lambda timeout must not leave no time at all: the margin
		// is at most a third of the invocation's time.
		margin = min(margin, time.Until(deadline)/3)
		var cancel context.CancelFunc
		work, cancel = context.WithDeadline(ctx, deadline.Add(-margin/2))
		defer cancel()
	}
	tooLate := func() bool {
		return hasDeadline && time.Until(deadline) < margin
	}

	var mu sync.Mutex
	var g errgroup.Group
	g.SetLimit(h.cfg.Concurrency)
	for _, key := range order {
		idx := groups[key]
		g.Go(func() error {
			stop := false
			for _, i := range idx {
				r := batch.Records[i]
				if stop || tooLate() {
					if !stop {
						h.log.WarnContext(telemetry.With(ctx, "messageId", r.MessageId), "Lambda deadline near: message left for SQS to redeliver")
						h.cfg.Metrics.Add("DeadlineDeferred", 1)
					}
					mu.Lock()
					failed[i] = true
					mu.Unlock()
					continue
				}
				res := h.Process(work, Message{ID: r.MessageId, Body: r.Body})
				if res.Retry {
					stop = true
					mu.Lock()
					failed[i] = true
					mu.Unlock()
				}
			}
			return nil
		})
	}
	_ = g.Wait()

	resp := events.SQSEventResponse{BatchItemFailures: []events.SQSBatchItemFailure{}}
	for i, f := range failed {
		if f {
			resp.BatchItemFailures = append(resp.BatchItemFailures, events.SQSBatchItemFailure{ItemIdentifier: batch.Records[i].MessageId})
		}
	}
	return resp, nil
}

// groupRecords groups message indexes by FIFO message group (employeeId),
// keeping arrival order within and across groups. Without a group id (a
// standard queue, local runs) the body's employee id is used.
func groupRecords(records []events.SQSMessage) (map[string][]int, []string) {
	groups := map[string][]int{}
	var order []string
	for i, r := range records {
		key := r.Attributes["MessageGroupId"]
		if key == "" {
			key = peekEmployeeID(r.Body)
		}
		if key == "" {
			key = "message:" + r.MessageId
		} else {
			key = "group:" + key
		}
		if _, ok := groups[key]; !ok {
			order = append(order, key)
		}
		groups[key] = append(groups[key], i)
	}
	return groups, order
}

func peekEmployeeID(body string) string {
	var v struct {
		Employee struct {
			EmployeeID string `json:"employeeId"`
		} `json:"employee"`
	}
	if len(body) > 1<<16 || json.Unmarshal([]byte(body), &v) != nil {
		return ""
	}
	return v.Employee.EmployeeID
}
