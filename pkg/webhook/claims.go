package webhook

import (
	"log/slog"
	"time"

	"github.com/lenderops/encompass-lifecycle/pkg/idempotency"
	"github.com/lenderops/encompass-lifecycle/pkg/state"
)

const (
	// claimLease bounds how long a copy in flight blocks the others. It must
	// be longer than the function can run (the stack's timeout is 10 s, and
	// API Gateway gives up at 30 s), so that a live hand-on is never run
	// twice; a crashed one blocks Encompass's retries (answered 503) for at
	// most this long, well inside Encompass's 8 hours of retries.
	claimLease = 60 * time.Second

	// dedupTTL is how long a delivered eventId is remembered. Encompass
	// retries for about 8 hours at most, so a week is ample and matches
	// ARCHITECTURE.md.
	dedupTTL = 7 * 24 * time.Hour
)

// NewClaims returns the de-duplication of deliveries over the state table:
// items WEBHOOK#<eventId> / WEBHOOK, in progress with a 60 s lease, then
// done, or released when the hand-on failed. log receives the layer's own
// warnings (a release that failed leaves the retry waiting for the lease).
func NewClaims(store idempotency.Store, log *slog.Logger) *idempotency.Layer[struct{}] {
	return idempotency.New(idempotency.Config[struct{}]{Store: store, Kind: state.ClaimWebhook, Lease: claimLease, TTL: dedupTTL, Logger: log})
}
