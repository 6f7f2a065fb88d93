package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/lenderops/encompass-lifecycle/pkg/encompass"
)

// Key reload bounds. A rotation adds a key to the secret and then switches
// the subscription to it (docs/webhook.md); a container that read the secret
// before must pick the new key up without a cold start, or Encompass's
// deliveries are answered 401 (which it takes as final).
const (
	// KeysMaxAge is how long keys are used before they are read again.
	KeysMaxAge = 5 * time.Minute
	// KeysMinReloadGap bounds the reloads a failed verification triggers, so
	// that a flood of forged deliveries costs at most one read per gap.
	KeysMinReloadGap = 30 * time.Second
	// keysReloadTimeout bounds one read of the secret.
	keysReloadTimeout = 3 * time.Second
)

// KeyLoader reads the current signing keys.
type KeyLoader func(ctx context.Context) (encompass.SigningKeys, error)

// SecretsAPI is the part of the Secrets Manager client the key loader uses.
type SecretsAPI interface {
	GetSecretValue(ctx context.Context, in *secretsmanager.GetSecretValueInput, optFns ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error)
}

// SecretKeyLoader reads the keys from the WEBHOOK_SECRET_ARN secret. Its
// errors never quote the secret.
func SecretKeyLoader(sm SecretsAPI, arn string) KeyLoader {
	return func(ctx context.Context) (encompass.SigningKeys, error) {
		out, err := sm.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(arn)})
		if err != nil {
			return nil, fmt.Errorf("read webhook keys: %w", err)
		}
		if out.SecretString == nil {
			return nil, errors.New("read webhook keys: the secret has no string value")
		}
		keys, err := encompass.ParseSigningKeys([]byte(*out.SecretString))
		if err != nil {
			return nil, fmt.Errorf("read webhook keys: %w", err)
		}
		return keys, nil
	}
}

// RefreshingKeys verifies signatures with keys it reads again when they are
// older than KeysMaxAge, and when a delivery fails verification (an unknown
// subscription or no matching key: possibly a key added since), at most once
// per KeysMinReloadGap. A failed read keeps the keys it has. Safe for
// concurrent use.
type RefreshingKeys struct {
	load KeyLoader
	now  func() time.Time
	log  *slog.Logger

	mu   sync.Mutex // serialises reloads
	keys atomic.Pointer[encompass.SigningKeys]
	// loadedAt is when the keys were last read (or a read was attempted);
	// triedAt the same but zero until the first reload, so that the first
	// failed verification after a cold start may read at once.
	loadedAt, triedAt atomic.Int64 // unix nanoseconds
}

// NewRefreshingKeys starts with initial (read at cold start) and reloads
// through load. now may be nil (time.Now).
func NewRefreshingKeys(initial encompass.SigningKeys, load KeyLoader, now func() time.Time, log *slog.Logger) *RefreshingKeys {
	if now == nil {
		now = time.Now
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	r := &RefreshingKeys{load: load, now: now, log: log}
	r.keys.Store(&initial)
	r.loadedAt.Store(now().UnixNano())
	return r
}

// Verify implements SignatureVerifier.
func (r *RefreshingKeys) Verify(subscriptionID string, body []byte, signature string) error {
	if r.since(&r.loadedAt) >= KeysMaxAge {
		r.reload(&r.loadedAt, KeysMaxAge)
	}
	k := r.keys.Load()
	err := k.Verify(subscriptionID, body, signature)
	if err == nil {
		return nil
	}
	r.reload(&r.triedAt, KeysMinReloadGap)
	if k2 := r.keys.Load(); k2 != k {
		return k2.Verify(subscriptionID, body, signature)
	}
	return err
}

func (r *RefreshingKeys) since(at *atomic.Int64) time.Duration {
	return r.now().Sub(time.Unix(0, at.Load()))
}

// reload reads the keys unless *at is less than gap ago (a concurrent caller
// may just have read them, and installed them already).
func (r *RefreshingKeys) reload(at *atomic.Int64, gap time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.since(at) < gap {
		return
	}
	now := r.now().UnixNano()
	r.loadedAt.Store(now)
	r.triedAt.Store(now)
	ctx, cancel := context.WithTimeout(context.Background(), keysReloadTimeout)
	defer cancel()
	keys, err := r.load(ctx)
	if err != nil {
		r.log.Warn("webhook: reading the signing keys again failed; keeping the current ones", "error", err.Error())
		return
	}
	r.keys.Store(&keys)
	r.log.Info("webhook: signing keys read again", "subscriptions", len(keys))
}
