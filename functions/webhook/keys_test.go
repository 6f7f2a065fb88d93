package main

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/lenderops/encompass-lifecycle/internal/testenv"
	"github.com/lenderops/encompass-lifecycle/pkg/encompass"
)

// TestRefreshingKeysPickUpARotation reads the keys through the real SDK
// client from the Secrets Manager fake, as the Lambda does: a key added to
// the secret after the cold start verifies at once (one read), a flood of
// forged deliveries costs at most one read per gap, old keys are read again
// after KeysMaxAge, and a failed read keeps the keys.
func TestRefreshingKeysPickUpARotation(t *testing.T) {
	t.Parallel()
	sm := testenv.SecretsManager(t)
	const arn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:webhook-keys"
	sub := testSubscription
	sm.Put(arn, `{"`+sub+`": "`+testKey+`"}`)
	load := SecretKeyLoader(sm.Client, arn)
	initial, err := load(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	clock := &manualClock{t: time.Now()}
	var logs bytes.Buffer
	keys := NewRefreshingKeys(initial, load, clock.Now, slog.New(slog.NewJSONHandler(&logs, nil)))
	body := loanDelivery("ev-rotation")
	reads := func() int { return sm.Calls(arn) - 1 }

	if err := keys.Verify(sub, body, sign(testKey, body)); err != nil || reads() != 0 {
		t.Fatalf("current key: %v, %d reads", err, reads())
	}
	// The operator adds the new key; Encompass is switched to it.
	sm.Put(arn, `{"`+sub+`": ["`+testKey+`", "`+testRotatedKey+`"]}`)
	if err := keys.Verify(sub, body, sign(testRotatedKey, body)); err != nil || reads() != 1 {
		t.Fatalf("new key after the secret changed: %v, %d reads (want verified after one read)", err, reads())
	}
	// Forged deliveries: refused, and at most one read per gap.
	for range 50 {
		if err := keys.Verify(sub, body, sign(otherKey, body)); !errors.Is(err, encompass.ErrBadSignature) {
			t.Fatalf("forged: %v", err)
		}
		if err := keys.Verify("unknown-subscription", body, sign(testKey, body)); !errors.Is(err, encompass.ErrUnknownSubscription) {
			t.Fatalf("unknown subscription: %v", err)
		}
	}
	if reads() != 1 {
		t.Fatalf("%d reads after a burst of forged deliveries within the gap, want 1", reads())
	}
	clock.Advance(KeysMinReloadGap)
	_ = keys.Verify(sub, body, sign(otherKey, body))
	if reads() != 2 {
		t.Fatalf("%d reads after the gap, want 2", reads())
	}
	// The old key is removed from the secret: used until the keys are old.
	sm.Put(arn, `{"`+sub+`": "`+testRotatedKey+`"}`)
	clock.Advance(KeysMaxAge - time.Second)
	if err := keys.Verify(sub, body, sign(testKey, body)); err != nil {
		t.Fatalf("old key before the keys aged: %v", err)
	}
	clock.Advance(time.Second)
	if err := keys.Verify(sub, body, sign(testKey, body)); !errors.Is(err, encompass.ErrBadSignature) {
		t.Fatalf("old key after the keys were read again: %v", err)
	}
	// A read that fails (secret gone, or not JSON) keeps the keys.
	for _, broken := range []string{`not json: ` + testRotatedKey, `{}`} {
		sm.Put(arn, broken)
		clock.Advance(KeysMaxAge)
		if err := keys.Verify(sub, body, sign(testRotatedKey, body)); err != nil {
			t.Fatalf("after a failed read (%q...): %v", broken[:3], err)
		}
	}
	for _, k := range []string{testKey, testRotatedKey, otherKey} {
		if strings.Contains(logs.String(), k) {
			t.Fatal("a signing key was logged")
		}
	}
	if !strings.Contains(logs.String(), "keeping the current ones") {
		t.Errorf("a failed read is not logged: %s", logs.String())
	}
}

type manualClock struct{ t time.Time }

func (c *manualClock) Now() time.Time          { return c.t }
func (c *manualClock) Advance(d time.Duration) { c.t = c.t.Add(d) }
