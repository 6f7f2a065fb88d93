package main

import (
	"time"

	"github.com/lenderops/encompass-lifecycle/pkg/idempotency"
	"github.com/lenderops/encompass-lifecycle/pkg/state"
)

// claimLease bounds how long a copy in flight blocks the others: longer than
// the function's timeout (30 s), so that a live hand-on is never run twice,
// while a crashed one blocks Encompass's retries for at most this long.
const claimLease = 60 * time.Second

// NewClaims returns the de-duplication of deliveries over the state table.
func NewClaims(store idempotency.Store) *idempotency.Layer[struct{}] {
	return idempotency.New(idempotency.Config[struct{}]{Store: store, Kind: state.ClaimWebhook, Lease: claimLease, TTL: DedupTTL})
}
