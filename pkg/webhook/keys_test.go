package webhook

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lenderops/encompass-lifecycle/internal/testenv"
	"github.com/lenderops/encompass-lifecycle/pkg/config"
	"github.com/lenderops/encompass-lifecycle/pkg/encompass"
	"github.com/lenderops/encompass-lifecycle/pkg/telemetry"
)

var arnSeq atomic.Int64

// uniqueARN is an ARN no other test in this process used: config.Secrets
// keeps one copy per ARN for the life of the process (a Lambda container).
func uniqueARN(name string) string {
	return fmt.Sprintf("arn:aws:secretsmanager:us-east-1:123456789012:secret:%s-%d-%d", name, time.Now().UnixNano(), arnSeq.Add(1))
}

// TestSecretKeysPickUpARotation reads the keys through config.Secrets and
// the real SDK client from the Secrets Manager fake, as the Lambda does: a
// key added to the secret after the cold start verifies at once (one read),
// a flood of forged deliveries costs at most one read per gap, old keys are
// read again after keysMaxAge, and a failed read keeps the keys.
func TestSecretKeysPickUpARotation(t *testing.T) {
	t.Parallel()
	sm := testenv.SecretsManager(t)
	arn := uniqueARN("webhook-keys")
	sub := testSubscription
	sm.Put(arn, `{"`+sub+`": "`+testKey+`"}`)
	clock := testenv.NewClock(time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC))
	secrets := config.NewSecrets(sm.Client, 0, clock.Now)
	ctx := context.Background()
	raw, err := secrets.Get(ctx, arn) // the cold start (config.Load)
	if err != nil {
		t.Fatal(err)
	}
	initial, err := encompass.ParseSigningKeys([]byte(raw))
	if err != nil {
		t.Fatal(err)
	}
	logs := &testenv.Buffer{}
	keys := SecretKeys(secrets, arn, initial, telemetry.NewLogger(logs, slog.LevelInfo))
	body := loanDelivery("ev-rotation")
	reads := func() int { return sm.Calls(arn) - 1 }

	if err := keys.Verify(ctx, sub, body, sign(testKey, body)); err != nil || reads() != 0 {
		t.Fatalf("current key: %v, %d reads", err, reads())
	}
	// The operator adds the new key; Encompass is switched to it.
	sm.Put(arn, `{"`+sub+`": ["`+testKey+`", "`+testRotatedKey+`"]}`)
	if err := keys.Verify(ctx, sub, body, sign(testRotatedKey, body)); err != nil || reads() != 1 {
		t.Fatalf("new key after the secret changed: %v, %d reads (want verified after one read)", err, reads())
	}
	// Forged deliveries: refused, and at most one read per gap.
	for range 50 {
		if err := keys.Verify(ctx, sub, body, sign(otherKey, body)); !errors.Is(err, encompass.ErrBadSignature) {
			t.Fatalf("forged: %v", err)
		}
		if err := keys.Verify(ctx, "unknown-subscription", body, sign(testKey, body)); !errors.Is(err, encompass.ErrUnknownSubscription) {
			t.Fatalf("unknown subscription: %v", err)
		}
	}
	if reads() != 1 {
		t.Fatalf("%d reads after a burst of forged deliveries within the gap, want 1", reads())
	}
	clock.Advance(keysMinReloadGap)
	_ = keys.Verify(ctx, sub, body, sign(otherKey, body))
	if reads() != 2 {
		t.Fatalf("%d reads after the gap, want 2", reads())
	}
	// The old key is removed from the secret: used until the keys are old.
	sm.Put(arn, `{"`+sub+`": "`+testRotatedKey+`"}`)
	clock.Advance(keysMaxAge - time.Second)
	if err := keys.Verify(ctx, sub, body, sign(testKey, body)); err != nil {
		t.Fatalf("old key before the keys aged: %v", err)
	}
	clock.Advance(time.Second)
	if err := keys.Verify(ctx, sub, body, sign(testKey, body)); !errors.Is(err, encompass.ErrBadSignature) {
		t.Fatalf("old key after the keys were read again: %v", err)
	}
	// A secret that is not key JSON keeps the keys, and is reported once.
	for _, broken := range []string{`not json: ` + testRotatedKey, `{}`} {
		sm.Put(arn, broken)
		clock.Advance(keysMaxAge)
		before := strings.Count(logs.String(), "not valid key JSON")
		for range 3 {
			if err := keys.Verify(ctx, sub, body, sign(testRotatedKey, body)); err != nil {
				t.Fatalf("after a broken secret (%q...): %v", broken[:3], err)
			}
		}
		if n := strings.Count(logs.String(), "not valid key JSON") - before; n != 1 {
			t.Errorf("broken secret %q... reported %d times, want once", broken[:3], n)
		}
	}
	for _, k := range []string{testKey, testRotatedKey, otherKey} {
		if strings.Contains(logs.String(), k) {
			t.Fatal("a signing key was logged")
		}
	}
}

// TestSecretKeysReadFails: Secrets Manager unreachable after the cold
// start: deliveries keep verifying with the keys held, and the failure is
// logged without the secret.
func TestSecretKeysReadFails(t *testing.T) {
	t.Parallel()
	sm := testenv.NewSecretsManagerFake()
	arn := uniqueARN("webhook-keys-down")
	sm.Put(arn, `{"`+testSubscription+`": "`+testKey+`"}`)
	clock := testenv.NewClock(time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC))
	secrets := config.NewSecrets(sm.Client, 0, clock.Now)
	ctx := context.Background()
	if _, err := secrets.Get(ctx, arn); err != nil {
		t.Fatal(err)
	}
	logs := &testenv.Buffer{}
	keys := SecretKeys(secrets, arn, encompass.SigningKeys{testSubscription: {testKey}}, telemetry.NewLogger(logs, slog.LevelInfo))
	sm.Close()
	clock.Advance(keysMaxAge)
	body := loanDelivery("ev-sm-down")
	if err := keys.Verify(ctx, testSubscription, body, sign(testKey, body)); err != nil {
		t.Fatalf("verify with Secrets Manager down: %v", err)
	}
	if !strings.Contains(logs.String(), "keeping the current ones") || strings.Contains(logs.String(), testKey) {
		t.Errorf("failed read not logged, or logged with the key: %s", logs.String())
	}
}

// TestFixedKeys: WEBHOOK_SIGNING_KEYS never change and are never read.
func TestFixedKeys(t *testing.T) {
	t.Parallel()
	keys := FixedKeys(testKeys)
	body := loanDelivery("ev-fixed")
	if err := keys.Verify(context.Background(), testSubscription, body, sign(testRotatedKey, body)); err != nil {
		t.Fatal(err)
	}
	if err := keys.Verify(context.Background(), testSubscription, body, sign(otherKey, body)); !errors.Is(err, encompass.ErrBadSignature) {
		t.Fatalf("other key: %v", err)
	}
}
