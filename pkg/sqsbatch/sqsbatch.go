// Package sqsbatch processes an SQS batch from a FIFO queue with partial
// batch responses (ReportBatchItemFailures), the way Powertools' FIFO
// partial-batch processor does, and a little more:
//
//   - messages of different message groups run concurrently, up to a limit,
//     a new group starting as soon as a slot frees;
//   - the messages of one group run in order, and once one of them fails,
//     the later ones are reported failed without being started, so that SQS
//     redelivers them in order;
//   - when the Lambda deadline is near, no further message starts and the
//     rest are reported failed; calls in flight are cut off shortly before
//     the deadline, so that their messages fail instead of the whole
//     invocation timing out.
//
// The handler of one message knows none of this: it returns nil (done,
// acknowledge) or an error (report it for SQS to deliver again).
package sqsbatch

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"golang.org/x/sync/errgroup"

	"github.com/lenderops/encompass-lifecycle/pkg/quiescence"
)

// Defaults of Processor.
const (
	// DefaultConcurrency starts every message group of a FIFO batch at once
	// (SQS delivers at most 10 messages a batch from a FIFO queue): what
	// the work shares, such as the Encompass client's requests in flight,
	// limits it, never the handler.
	DefaultConcurrency  = MaxFIFOBatch
	DefaultSafetyMargin = 10 * time.Second
)

// MaxFIFOBatch is the most messages an SQS event source delivers at once
// from a FIFO queue.
const MaxFIFOBatch = 10

// Processor runs batches. The zero value is usable.
type Processor struct {
	// Concurrency bounds the message groups processed at once.
	Concurrency int
	// SafetyMargin is how much of the Lambda's time must remain to start
	// another message; at most a third of the invocation's time, so that a
	// short timeout still leaves time to work.
	SafetyMargin time.Duration
	// GroupOf names a message's group when it has no MessageGroupId (a
	// standard queue, local runs); "" puts the message in a group of its
	// own.
	GroupOf func(events.SQSMessage) string
	// OnDeferred is called for each message left for SQS because the
	// deadline was near (metrics).
	OnDeferred func()
	Logger     *slog.Logger
	// Now replaces time.Now (tests).
	Now func() time.Time
}

// Handler processes one message: nil acknowledges it, an error reports it
// as a batch item failure.
type Handler func(ctx context.Context, m events.SQSMessage) error

// Process runs h over the batch and returns the messages to retry.
func (p *Processor) Process(ctx context.Context, batch events.SQSEvent, h Handler) events.SQSEventResponse {
	now := time.Now
	if p.Now != nil {
		now = p.Now
	}
	work, tooLate, cancel := p.deadline(ctx, now)
	defer cancel()
	// The batch's messages can meet (quiescence): the group joins of a
	// batch of hires go in one request when every message has reached them.
	meet := quiescence.New()
	work = quiescence.With(work, meet)

	failed := make([]bool, len(batch.Records))
	var mu sync.Mutex
	fail := func(i int) {
		mu.Lock()
		failed[i] = true
		mu.Unlock()
	}
	limit := p.Concurrency
	if limit <= 0 {
		limit = DefaultConcurrency
	}
	var g errgroup.Group
	g.SetLimit(limit)
	for _, group := range p.groups(batch.Records) {
		g.Go(func() error {
			// Bookkeeping a message leaves for later (Later) ends before the
			// next message of its group starts, and before the batch answers.
			var later sync.WaitGroup
			defer later.Wait()
			work := context.WithValue(work, laterKey{}, &later)
			stop := false
			for _, i := range group {
				later.Wait()
				r := batch.Records[i]
				if stop || tooLate() {
					if !stop {
						p.deferred(ctx, r)
					}
					fail(i)
					continue
				}
				meet.Enter()
				err := h(work, r)
				meet.Leave()
				if err != nil {
					stop = true
					fail(i)
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
	return resp
}

// deadline returns the context work runs under (cut off half a margin before
// the Lambda's deadline) and the test for "too late to start a message".
func (p *Processor) deadline(ctx context.Context, now func() time.Time) (context.Context, func() bool, context.CancelFunc) {
	dl, ok := ctx.Deadline()
	if !ok {
		return ctx, func() bool { return false }, func() {}
	}
	margin := p.SafetyMargin
	if margin <= 0 {
		margin = DefaultSafetyMargin
	}
	margin = min(margin, dl.Sub(now())/3)
	work, cancel := context.WithDeadline(context.WithValue(ctx, finishKey{}, ctx), dl.Add(-margin/2))
	return work, func() bool { return dl.Sub(now()) < margin }, cancel
}

type laterKey struct{}

// Later runs fn beside the rest of the batch, off the message's own path:
// the next message of the same group starts, and the batch answers, only
// once fn has returned. It is for bookkeeping that must happen but that
// nothing in the message waits for (recording a claim completed once its
// outcome is published). Outside Process it runs fn at once.
func Later(ctx context.Context, fn func()) {
	wg, ok := ctx.Value(laterKey{}).(*sync.WaitGroup)
	if !ok {
		fn()
		return
	}
	wg.Go(fn)
}

type finishKey struct{}

// Finishing returns the context for the last step of a message's work that
// must not be cut halfway (publishing its outcome once it was applied): the
// invocation's own context, whose deadline is the Lambda's, instead of the
// earlier cut-off of the work. Outside Process it returns ctx.
func Finishing(ctx context.Context) context.Context {
	if inv, ok := ctx.Value(finishKey{}).(context.Context); ok {
		return inv
	}
	return ctx
}

func (p *Processor) deferred(ctx context.Context, r events.SQSMessage) {
	if p.Logger != nil {
		p.Logger.WarnContext(ctx, "Lambda deadline near: message left for SQS to redeliver", "messageId", r.MessageId)
	}
	if p.OnDeferred != nil {
		p.OnDeferred()
	}
}

// groups returns the message indexes by group, keeping arrival order within
// and across groups.
func (p *Processor) groups(records []events.SQSMessage) [][]int {
	index := map[string]int{}
	var out [][]int
	for i, r := range records {
		key := r.Attributes["MessageGroupId"]
		if key == "" && p.GroupOf != nil {
			key = p.GroupOf(r)
		}
		if key == "" {
			key = "message:" + r.MessageId
		} else {
			key = "group:" + key
		}
		n, ok := index[key]
		if !ok {
			n = len(out)
			index[key] = n
			out = append(out, nil)
		}
		out[n] = append(out[n], i)
	}
	return out
}
