// Package provisioning turns validated HRIS events into Encompass account
// changes (CONTRACTS section 2). One message reads one way, each step in one
// place:
//
//	decode     pkg/hris                      the body, validated (process.go)
//	claim      pkg/idempotency               once per eventId (process.go)
//	resolve    the employee's link           stale? linked? (apply.go)
//	plan       plan.go                       only the fields that change
//	apply      Directory                     Encompass (joiner.go, leaver.go)
//	record     record.go                     write log first, then the link
//	publish    outcome.go                    the outcome event, via the claim
//
// The layers around it are packages of their own: the FIFO batch
// (pkg/sqsbatch), idempotency (pkg/idempotency), the Encompass boundary
// (pkg/encompass/directory, whose SCIM and v3 adapters this package never
// tells apart), and the one classification of errors (pkg/failure). A dry
// run is the same path over a directory and a store that write nothing.
package provisioning

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/lenderops/encompass-lifecycle/pkg/encompass/directory"
	"github.com/lenderops/encompass-lifecycle/pkg/hris"
	"github.com/lenderops/encompass-lifecycle/pkg/idempotency"
	"github.com/lenderops/encompass-lifecycle/pkg/mapping"
	"github.com/lenderops/encompass-lifecycle/pkg/publish"
	"github.com/lenderops/encompass-lifecycle/pkg/schedule"
	"github.com/lenderops/encompass-lifecycle/pkg/sqsbatch"
	"github.com/lenderops/encompass-lifecycle/pkg/state"
	"github.com/lenderops/encompass-lifecycle/pkg/telemetry"
)

// Directory is the Encompass boundary (pkg/encompass/directory's SCIM or v3
// adapter).
type Directory = directory.Directory

// Store is the part of the state table this package uses (*state.Store).
type Store interface {
	idempotency.Store
	GetClaim(ctx context.Context, key state.ClaimKey) (state.Claim, bool, error)
	GetEmployee(ctx context.Context, employeeID string) (state.Employee, bool, error)
	PutEmployee(ctx context.Context, e state.Employee, expectedVersion int64) error
	IndexLogin(ctx context.Context, login string, e state.Employee) error
	// LoginOwner reads the login index: which employee a login is linked to
	// (an explicit link's conflict check).
	LoginOwner(ctx context.Context, login string) (state.LoginLink, bool, error)
	RecordWrite(ctx context.Context, w state.Write) error
	WriteOf(ctx context.Context, loginID, eventID string) (state.Write, bool, error)
	WritesSince(ctx context.Context, loginID string, since time.Time) ([]state.Write, error)
	MarkTerminated(ctx context.Context, employeeID, userID, loginID string) error
	ClearTerminated(ctx context.Context, employeeID string) error
	PutRejectedBody(ctx context.Context, eventID, messageID string, body []byte, ttl time.Duration) (state.ItemRef, error)
	// Held events (CONTRACTS section 2a).
	PutHeld(ctx context.Context, h state.Held) error
	HeldFor(ctx context.Context, employeeID string) ([]state.Held, error)
	DeleteHeld(ctx context.Context, k state.HeldKey) error
}

// Scheduler holds events until they are due (*schedule.Scheduler): Create
// finds a schedule of the same name there already, Delete one gone.
type Scheduler interface {
	Create(ctx context.Context, h schedule.Hold) error
	Delete(ctx context.Context, name string) error
}

// Publisher sends outcome events to EventBridge (*publish.Publisher).
type Publisher interface {
	Publish(ctx context.Context, events ...publish.Event) error
}

// Metrics counts outcomes (*telemetry.Metrics).
type Metrics interface {
	Add(name string, n float64)
	// AddBy counts under one more dimension (rejections by reason).
	AddBy(name, dimension, value string, n float64)
	// Observe records one value (a leaver's exposure), for percentiles.
	Observe(name string, v float64, unit telemetry.Unit)
}

// Config wires a Handler. Directory, Store, Publisher, Mapping, Scheduler
// and QueueARN are required.
type Config struct {
	// Queue is the queue this function consumes: provision or deprovision.
	Queue     hris.Queue
	Directory Directory
	Store     Store
	Publisher Publisher
	Mapping   *mapping.Resolved
	// Scheduler holds events due more than five minutes ahead; QueueARN is
	// Queue's ARN, where a held event is sent back when it is due.
	Scheduler Scheduler
	QueueARN  string
	// ImmediateTermination reports whether a terminate's terminationReason
	// makes it apply at once, whatever its effectiveAt
	// (IMMEDIATE_TERMINATION_REASONS: config.Config.ImmediateTermination).
	// nil: no reason does.
	ImmediateTermination func(reason string) bool
	// DryRun writes nothing to Encompass or the state table (the directory
	// and the store are wrapped so that they write nothing); outcome events
	// are still published, marked dryRun.
	DryRun  bool
	Logger  *slog.Logger
	Metrics Metrics
	// Concurrency bounds how many employees of one batch are processed at
	// once (messages of one employee always run in order); 0 is
	// sqsbatch.DefaultConcurrency.
	Concurrency int
	// SafetyMargin is how much of the Lambda's time must remain to start
	// another message; the rest are reported as failures for SQS to retry.
	// 0 is sqsbatch.DefaultSafetyMargin.
	SafetyMargin time.Duration
	// Now replaces time.Now (tests).
	Now func() time.Time
	// EventTTL is how long idempotency records are kept.
	EventTTL time.Duration
}

// Handler processes SQS batches of HRIS events. It is safe for concurrent use
// and meant to live for the whole container.
type Handler struct {
	cfg   Config
	dir   Directory
	store Store
	sched Scheduler
	once  *idempotency.Layer[outcome]
	batch *sqsbatch.Processor
	log   *slog.Logger
}

// New checks cfg and returns a Handler.
func New(cfg Config) (*Handler, error) {
	var errs []error
	if cfg.Queue != hris.QueueProvision && cfg.Queue != hris.QueueDeprovision {
		errs = append(errs, errors.New("provisioning: Queue must be provision or deprovision"))
	}
	if cfg.Directory == nil || cfg.Store == nil || cfg.Publisher == nil || cfg.Mapping == nil {
		errs = append(errs, errors.New("provisioning: Directory, Store, Publisher and Mapping are required"))
	}
	if cfg.Scheduler == nil || cfg.QueueARN == "" {
		errs = append(errs, errors.New("provisioning: Scheduler and QueueARN are required (events due later are held)"))
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewJSONHandler(io.Discard, nil))
	}
	if cfg.Metrics == nil {
		cfg.Metrics = nopMetrics{}
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.EventTTL <= 0 {
		cfg.EventTTL = state.DefaultEventTTL
	}
	if cfg.ImmediateTermination == nil {
		cfg.ImmediateTermination = func(string) bool { return false }
	}
	h := &Handler{cfg: cfg, dir: cfg.Directory, store: cfg.Store, sched: cfg.Scheduler, log: cfg.Logger}
	if cfg.DryRun {
		h.dir = directory.DryRun(h.dir, cfg.Logger)
		h.store = dryRunStore{Store: h.store, log: cfg.Logger}
		h.sched = dryRunScheduler{log: cfg.Logger}
	}
	h.once = idempotency.New(idempotency.Config[outcome]{
		Store: h.store, Kind: state.ClaimEvent, TTL: cfg.EventTTL,
		HandOn: h.publish,
		// Once published, a duplicate needs the name; a held event's
		// delivery its due time, a cancelled one's the reason.
		Keep: func(o outcome) outcome { return outcome{Name: o.Name, Due: o.Due, Reason: o.Reason} },
		// Recording the claim done is off the event's path: the batch
		// waits for it before it answers.
		Afterwards: sqsbatch.Later,
		Logger:     cfg.Logger,
	})
	h.batch = &sqsbatch.Processor{
		Concurrency: cfg.Concurrency, SafetyMargin: cfg.SafetyMargin, Logger: cfg.Logger,
		GroupOf:    func(m events.SQSMessage) string { return peekEmployeeID(m.Body) },
		OnDeferred: func() { cfg.Metrics.Add("DeadlineDeferred", 1) },
	}
	return h, nil
}

type nopMetrics struct{}

func (nopMetrics) Add(string, float64)                     {}
func (nopMetrics) AddBy(string, string, string, float64)   {}
func (nopMetrics) Observe(string, float64, telemetry.Unit) {}
