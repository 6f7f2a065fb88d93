package state_test

import (
	"context"
	"time"

	"github.com/lenderops/encompass-lifecycle/pkg/state"
)

// claimEvent claims an HRIS event id and reports whether this caller holds
// the claim: the question most claim tests ask.
func claimEvent(st *state.Store, ctx context.Context, eventID, employeeID, owner string, ttl time.Duration) (bool, error) {
	c, err := st.Claim(ctx, state.EventKey(eventID), owner, state.ClaimOptions{TTL: ttl, EmployeeID: employeeID})
	return err == nil && c.Status == state.ClaimInProgress, err
}

// claimWebhook claims a webhook delivery id for owner (a token per request).
func claimWebhook(st *state.Store, ctx context.Context, eventID, owner string, ttl time.Duration) (bool, error) {
	c, err := st.Claim(ctx, state.WebhookKey(eventID), owner, state.ClaimOptions{TTL: ttl})
	return err == nil && c.Status == state.ClaimInProgress, err
}
