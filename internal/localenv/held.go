package localenv

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/lenderops/encompass-lifecycle/internal/lambdarun"
	"github.com/lenderops/encompass-lifecycle/internal/testenv"
)

// Clock is the local product's time: the machine's, moved by an offset the
// test or the demo controls. The provisioning functions read the same
// offset (LOCAL_CLOCK_FILE), so that moving the clock to an effective date
// moves them there too, without waiting for it; the Scheduler fake fires by
// it. Safe for concurrent use.
type Clock struct {
	mu     sync.Mutex
	offset time.Duration
	path   string
}

func newClock(dir string) (*Clock, error) {
	c := &Clock{path: filepath.Join(dir, "clock")}
	return c, c.write()
}

// Now is the local product's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.offset)
}

// Advance moves the local product's time forward by d.
func (c *Clock) Advance(d time.Duration) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.offset += d
	return c.write()
}

// Set moves the local product's time to t (it runs on from there).
func (c *Clock) Set(t time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.offset = time.Until(t)
	return c.write()
}

// write replaces the file the functions read, whole (a rename), so that a
// function never reads half an offset. The caller holds c.mu (or has the
// clock to itself), so that writers never share the temporary file and the
// last offset set is the one the file keeps.
func (c *Clock) write() error {
	tmp := c.path + ".new"
	if err := os.WriteFile(tmp, []byte(c.offset.String()+"\n"), 0o600); err != nil {
		return fmt.Errorf("local clock: %w", err)
	}
	if err := os.Rename(tmp, c.path); err != nil {
		return fmt.Errorf("local clock: %w", err)
	}
	return nil
}

// Delivery is a held event the Scheduler fake delivered when its time came:
// its schedule, the function the target queue triggers, and the invocation.
type Delivery struct {
	testenv.Fired
	Function string
	Result   *lambdarun.Result
	// Retry is true when the function reported the message as a batch item
	// failure (SQS would deliver it again).
	Retry bool
	// SentAt is the local product's time when the delivery was made (the
	// schedule's own At is its due time).
	SentAt time.Time
}

// FireDue delivers every schedule due by the clock to its queue's function,
// soonest first, each as the SQS message the Scheduler's SendMessage makes:
// the schedule's input as the body, its message group, a fresh message id
// and a content-based deduplication id.
func (e *Env) FireDue(ctx context.Context) ([]Delivery, error) {
	var out []Delivery
	for _, f := range e.Scheduler.Fire(e.Clock.Now()) {
		fn, ok := queueFunctions[f.TargetARN]
		if !ok {
			return out, fmt.Errorf("schedule %s targets %s, which is not a queue of the local product", f.Name, f.TargetARN)
		}
		d := Delivery{Fired: f, Function: fn, SentAt: e.Clock.Now()}
		res, err := e.Invoke(ctx, fn, ScheduledMessage(f, d.SentAt))
		if err != nil {
			return out, fmt.Errorf("deliver schedule %s to %s: %w", f.Name, fn, err)
		}
		d.Result = res
		var resp events.SQSEventResponse
		if res.Error != nil || json.Unmarshal(res.Payload, &resp) != nil || len(resp.BatchItemFailures) > 0 {
			d.Retry = true
		}
		out = append(out, d)
	}
	return out, nil
}

// ScheduledMessage is the SQS event a FIFO queue delivers for a message the
// Scheduler sent at: content-based de-duplication (the Scheduler's SQS
// target sets only the message group; docs/provisioning.md).
func ScheduledMessage(f testenv.Fired, at time.Time) events.SQSEvent {
	sum := sha256.Sum256([]byte(f.Input))
	return events.SQSEvent{Records: []events.SQSMessage{
		sqsRecord(f.TargetARN, f.MessageID, f.Input, f.MessageGroupID, hex.EncodeToString(sum[:]), at),
	}}
}
