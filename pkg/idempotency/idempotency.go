// Package idempotency runs a piece of work at most once per key, the way the
// idempotency utility of Powertools for AWS Lambda does: a layer that wraps
// the work over a small persistence port (claim, complete, release). The
// work inside knows nothing of it.
//
// Run claims the key for an owner (the SQS message id, or a token per
// webhook request), runs the work, hands its result on (publishes it), and
// records it. What the layer guarantees:
//
//   - A key completed before is a duplicate: the work does not run again.
//   - A key another owner holds is in progress: ErrInProgress, a retry,
//     never a duplicate before its result was handed on.
//   - When the work fails, the claim is released so that the next delivery
//     runs at once; that run is told it resumes an attempt that may have
//     applied part of its work (Attempt.Resumed), as is the run after a
//     crash.
//   - When handing the result on fails, the result is recorded as pending,
//     and the next delivery hands it on instead of running the work again.
package idempotency

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/lenderops/encompass-lifecycle/pkg/state"
)

// Store is the persistence the layer runs over (*state.Store, or a dry run
// that writes nothing).
type Store interface {
	Claim(ctx context.Context, key state.ClaimKey, owner string, o state.ClaimOptions) (state.Claim, error)
	CompleteClaim(ctx context.Context, key state.ClaimKey, outcome string) error
	ReleaseClaim(ctx context.Context, key state.ClaimKey) error
}

// ErrInProgress is returned by Run when another owner holds the key.
var ErrInProgress = state.ErrInProgress

// Config configures a Layer.
type Config[R any] struct {
	Store Store
	// Kind is the namespace of the keys (state.ClaimEvent, state.ClaimWebhook).
	Kind state.ClaimKind
	// Lease is how long an unfinished claim blocks other owners: the longest
	// the work can still be running (the function's timeout). Default: the
	// store's.
	Lease time.Duration
	// TTL is how long a key is remembered.
	TTL time.Duration
	// HandOn hands a result on (publishes it); nil when there is nothing to
	// hand on.
	HandOn func(ctx context.Context, result R) error
	// Keep trims what is recorded of a result once it was handed on (the
	// events need not be kept); nil keeps it whole.
	Keep func(result R) R
	// Afterwards runs the recording of a key done once its result was
	// handed on, which nothing waits for (sqsbatch.Later runs it beside the
	// rest of the batch); nil runs it at once.
	Afterwards func(ctx context.Context, record func())
	Logger     *slog.Logger
}

// Layer runs work at most once per key. It is safe for concurrent use.
type Layer[R any] struct{ cfg Config[R] }

// New returns a Layer.
func New[R any](cfg Config[R]) *Layer[R] {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewJSONHandler(io.Discard, nil))
	}
	return &Layer[R]{cfg: cfg}
}

// Attempt tells the work about the claim it runs under.
type Attempt struct {
	// Resumed: an earlier attempt held this key and did not complete; part
	// of its work may be applied already.
	Resumed bool
}

// Status says what Run did.
type Status string

// The statuses of a Run that returned no error.
const (
	// Ran: the work ran and its result was handed on.
	Ran Status = "ran"
	// Duplicate: the key was completed before; Result is what was recorded.
	Duplicate Status = "duplicate"
	// Replayed: a result recorded as pending was handed on now.
	Replayed Status = "replayed"
)

// Outcome is what Run did and the result.
type Outcome[R any] struct {
	Status Status
	Result R
}

// Recorded states of a completed key.
const (
	statePending   = "pending"
	statePublished = "published"
)

// Run runs work under the claim of id for owner and hands its result on. An
// error means "try again later": the work failed (its claim was released),
// handing on failed (the result is pending), or another owner holds the key
// (ErrInProgress). employeeID is kept on the claim for diagnostics.
func (l *Layer[R]) Run(ctx context.Context, id, owner, employeeID string, work func(context.Context, Attempt) (R, error)) (Outcome[R], error) {
	key := state.ClaimKey{Kind: l.cfg.Kind, ID: id}
	claim, err := l.cfg.Store.Claim(ctx, key, owner, state.ClaimOptions{Lease: l.cfg.Lease, TTL: l.cfg.TTL, EmployeeID: employeeID})
	if err != nil {
		return Outcome[R]{}, err
	}
	if claim.Status == state.ClaimDone {
		return l.completed(ctx, key, claim.Outcome)
	}
	result, err := work(ctx, Attempt{Resumed: claim.Resumed})
	if err != nil {
		// Detached: a caller that gave up must not leave the claim to block
		// the retry until its lease ends.
		if rerr := l.cfg.Store.ReleaseClaim(context.WithoutCancel(ctx), key); rerr != nil {
			l.cfg.Logger.WarnContext(ctx, "release of the claim failed; the retry waits for its lease", "key", key.String(), "error", rerr.Error())
		}
		return Outcome[R]{}, err
	}
	if err := l.handOn(ctx, key, result); err != nil {
		return Outcome[R]{}, err
	}
	return Outcome[R]{Status: Ran, Result: result}, nil
}

// completed answers a key completed before: a pending result is handed on
// now, anything else is a duplicate.
func (l *Layer[R]) completed(ctx context.Context, key state.ClaimKey, recorded string) (Outcome[R], error) {
	st, result, err := decode[R](recorded)
	if err != nil {
		// A record this version cannot read must not make the event run
		// twice: it stays a duplicate, and the log says why.
		l.cfg.Logger.WarnContext(ctx, "the recorded outcome of a completed key cannot be read; treated as a duplicate", "key", key.String(), "error", err.Error())
		return Outcome[R]{Status: Duplicate}, nil
	}
	if st != statePending || l.cfg.HandOn == nil {
		return Outcome[R]{Status: Duplicate, Result: result}, nil
	}
	l.cfg.Logger.InfoContext(ctx, "handing on the pending result of work completed before", "key", key.String())
	if err := l.handOn(ctx, key, result); err != nil {
		return Outcome[R]{}, err
	}
	return Outcome[R]{Status: Replayed, Result: result}, nil
}

// handOn publishes the result and records the key done. When publishing
// fails, the result is recorded as pending and the error returned; if even
// that record fails, the claim stays in progress and the next delivery
// resumes the work.
func (l *Layer[R]) handOn(ctx context.Context, key state.ClaimKey, result R) error {
	if l.cfg.HandOn != nil {
		if err := l.cfg.HandOn(ctx, result); err != nil {
			pending, eerr := encode(statePending, result)
			if eerr == nil {
				eerr = l.cfg.Store.CompleteClaim(context.WithoutCancel(ctx), key, pending)
			}
			if eerr != nil {
				l.cfg.Logger.ErrorContext(ctx, "could not record the result that was not handed on; the next delivery resumes the work", "key", key.String(), "error", eerr.Error())
			}
			return fmt.Errorf("hand on: %w", err)
		}
	}
	kept := result
	if l.cfg.Keep != nil {
		kept = l.cfg.Keep(result)
	}
	record := func() {
		done, err := encode(statePublished, kept)
		if err == nil {
			err = l.cfg.Store.CompleteClaim(context.WithoutCancel(ctx), key, done)
		}
		if err != nil {
			// The result is out; a redelivery (rare: the message is being
			// acknowledged) would resume the work and find nothing left to do.
			l.cfg.Logger.WarnContext(ctx, "could not record the key done", "key", key.String(), "error", err.Error())
		}
	}
	if l.cfg.Afterwards != nil {
		l.cfg.Afterwards(ctx, record)
	} else {
		record()
	}
	return nil
}

// encode records a result as its JSON object with a "state" member first:
// {"state":"pending",...}.
func encode[R any](st string, result R) (string, error) {
	b, err := json.Marshal(result)
	if err != nil {
		return "", fmt.Errorf("record result: %w", err)
	}
	b = bytes.TrimSpace(b)
	if len(b) < 2 || b[0] != '{' {
		return "", fmt.Errorf("record result: %T is not a JSON object", result)
	}
	head := `{"state":"` + st + `"`
	if string(b) == "{}" {
		return head + "}", nil
	}
	return head + "," + string(b[1:]), nil
}

func decode[R any](recorded string) (string, R, error) {
	var result R
	if recorded == "" {
		return "", result, nil
	}
	var head struct {
		State string `json:"state"`
	}
	if err := json.Unmarshal([]byte(recorded), &head); err != nil {
		return "", result, fmt.Errorf("recorded result: %w", err)
	}
	if err := json.Unmarshal([]byte(recorded), &result); err != nil {
		return "", result, fmt.Errorf("recorded result: %w", err)
	}
	return head.State, result, nil
}
