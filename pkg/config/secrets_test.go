package config_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/lenderops/encompass-lifecycle/internal/testenv"
	"github.com/lenderops/encompass-lifecycle/pkg/config"
)

const secretValue = `{"sub":"Secret-Value#Never-Printed-0123456789"}`

// TestSecretsMaxAge reads through the real SDK client from the Secrets
// Manager fake: a copy is used until it is max age old, then read again; a
// reader without a max age reads once.
func TestSecretsMaxAge(t *testing.T) {
	t.Parallel()
	sm := testenv.SecretsManager(t)
	arn := secretARN(t)
	sm.Put(arn, "v1")
	clock := testenv.NewClock(time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC))
	forever := config.NewSecrets(sm.Client, 0, clock.Now)
	aged := forever.WithMaxAge(5 * time.Minute)
	ctx := context.Background()

	get := func(s *config.Secrets, want string, reads int) {
		t.Helper()
		v, err := s.Get(ctx, arn)
		if err != nil || v != want || sm.Calls(arn) != reads {
			t.Fatalf("Get = %q, %v after %d reads; want %q after %d", v, err, sm.Calls(arn), want, reads)
		}
	}
	get(forever, "v1", 1)
	get(aged, "v1", 1) // the same cache: the cold start's copy
	sm.Put(arn, "v2")
	clock.Advance(5*time.Minute - time.Second)
	get(aged, "v1", 1)
	clock.Advance(time.Second)
	get(forever, "v1", 1) // no max age: never read again
	get(aged, "v2", 2)
	get(aged, "v2", 2)
	get(forever, "v2", 2) // one copy per ARN in the process
}

// TestSecretsRefresh: a caller that suspects a stale copy reads at once the
// first time, then at most once per gap, however often it asks.
func TestSecretsRefresh(t *testing.T) {
	t.Parallel()
	sm := testenv.SecretsManager(t)
	arn := secretARN(t)
	sm.Put(arn, "v1")
	clock := testenv.NewClock(time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC))
	s := config.NewSecrets(sm.Client, 5*time.Minute, clock.Now)
	ctx := context.Background()
	if _, err := s.Get(ctx, arn); err != nil {
		t.Fatal(err)
	}
	sm.Put(arn, "v2")
	if v, err := s.Refresh(ctx, arn, 30*time.Second); err != nil || v != "v2" || sm.Calls(arn) != 2 {
		t.Fatalf("first refresh after the cold start: %q %v, %d reads", v, err, sm.Calls(arn))
	}
	sm.Put(arn, "v3")
	for range 50 {
		if v, err := s.Refresh(ctx, arn, 30*time.Second); err != nil || v != "v2" {
			t.Fatalf("refresh within the gap: %q %v", v, err)
		}
	}
	if sm.Calls(arn) != 2 {
		t.Fatalf("%d reads after 50 refreshes within the gap, want 2", sm.Calls(arn))
	}
	clock.Advance(30 * time.Second)
	if v, _ := s.Refresh(ctx, arn, 30*time.Second); v != "v3" || sm.Calls(arn) != 3 {
		t.Fatalf("refresh after the gap: %q, %d reads", v, sm.Calls(arn))
	}
	// A refresh also renews the copy's age.
	clock.Advance(5*time.Minute - time.Second)
	if v, _ := s.Get(ctx, arn); v != "v3" || sm.Calls(arn) != 3 {
		t.Fatalf("Get after a refresh: %q, %d reads", v, sm.Calls(arn))
	}
}

// TestSecretsReadFails: a read that fails returns the copy held with an
// error that names the ARN, never the value; it is not tried again before
// the max age has passed once more.
func TestSecretsReadFails(t *testing.T) {
	t.Parallel()
	sm := testenv.NewSecretsManagerFake()
	defer sm.Close()
	arn := secretARN(t)
	sm.Put(arn, secretValue)
	// One attempt per read: the closed server below fails at once.
	client := secretsmanager.New(sm.Client.Options(), func(o *secretsmanager.Options) { o.RetryMaxAttempts = 1 })
	clock := testenv.NewClock(time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC))
	s := config.NewSecrets(client, time.Minute, clock.Now)
	ctx := context.Background()

	if _, err := s.Get(ctx, arn); err != nil {
		t.Fatal(err)
	}
	sm.Close() // Secrets Manager unreachable from now on
	clock.Advance(time.Minute)
	v, err := s.Get(ctx, arn)
	if err == nil || v != secretValue {
		t.Fatalf("failed read: %q, %v; want the held copy and an error", v, err)
	}
	if !strings.Contains(err.Error(), arn) || strings.Contains(err.Error(), "Never-Printed") {
		t.Fatalf("error %q must name the ARN and never the value", err)
	}
	// Not tried again until the copy is max age old once more.
	if v, err := s.Get(ctx, arn); err != nil || v != secretValue {
		t.Fatalf("Get after a failed read, within the max age: %q %v", v, err)
	}
	clock.Advance(time.Minute)
	if _, err := s.Get(ctx, arn); err == nil {
		t.Fatal("no read after the max age")
	}

	// Nothing held: the error and an empty value, every time.
	missing := secretARN(t)
	for range 2 {
		if v, err := s.Get(ctx, missing); err == nil || v != "" || !strings.Contains(err.Error(), missing) {
			t.Fatalf("missing secret: %q %v", v, err)
		}
	}
}

// TestSecretsConcurrentReaders: callers that find the copy aged at the same
// time wait for one read instead of each making one.
func TestSecretsConcurrentReaders(t *testing.T) {
	t.Parallel()
	sm := testenv.SecretsManager(t)
	arn := secretARN(t)
	sm.Put(arn, "v1")
	clock := testenv.NewClock(time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC))
	s := config.NewSecrets(sm.Client, time.Minute, clock.Now)
	if _, err := s.Get(context.Background(), arn); err != nil {
		t.Fatal(err)
	}
	clock.Advance(time.Minute)
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			if v, err := s.Get(context.Background(), arn); err != nil || v != "v1" {
				t.Errorf("Get: %q %v", v, err)
			}
		})
	}
	wg.Wait()
	if n := sm.Calls(arn); n != 2 {
		t.Fatalf("%d reads by 20 concurrent callers of an aged copy, want 2 (cold start + one)", n)
	}
}

// TestLoadSharesItsReader: the Config carries the reader Load used, holding
// the cold start's copy, so a function that reads the secret again later
// makes no second read at once.
func TestLoadSharesItsReader(t *testing.T) {
	t.Parallel()
	sm := testenv.SecretsManager(t)
	arn := secretARN(t)
	sm.Put(arn, `{"sub":"`+signingKey+`"}`)
	env := map[string]string{"STATE_TABLE": "tbl", "EVENT_BUS_NAME": "bus", "WEBHOOK_SECRET_ARN": arn}
	c, err := load(t, env, config.ForWebhook, config.WithSecretsClient(sm.Client))
	if err != nil {
		t.Fatal(err)
	}
	if c.Secrets == nil {
		t.Fatal("Config.Secrets is nil after reading a secret")
	}
	v, err := c.Secrets.WithMaxAge(time.Minute).Get(context.Background(), arn)
	if err != nil || !strings.Contains(v, signingKey) || sm.Calls(arn) != 1 {
		t.Fatalf("Get through the Config's reader: %v, %d reads (want the cold start's copy)", err, sm.Calls(arn))
	}
	if c2, err := load(t, base(), config.ForProvision); err != nil || c2.Secrets != nil {
		t.Fatalf("no secret ARN: Secrets = %v, %v; want nil", c2.Secrets, err)
	}
}
