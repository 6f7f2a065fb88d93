package webhook

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lenderops/encompass-lifecycle/pkg/config"
	"github.com/lenderops/encompass-lifecycle/pkg/encompass"
)

// Key reload bounds. A rotation adds a key to the secret and then switches
// the subscription to it (docs/webhook.md); a container that read the secret
// before must pick the new key up without a cold start, or Encompass's
// deliveries are answered 401 (which it takes as final).
const (
	// keysMaxAge is how long keys are used before they are read again.
	keysMaxAge = 5 * time.Minute
	// keysMinReloadGap bounds the reads a failed verification triggers, so
	// that a flood of forged deliveries costs at most one read per gap.
	keysMinReloadGap = 30 * time.Second
)

// Keys verifies signatures with the signing keys of each subscription:
// fixed ones (WEBHOOK_SIGNING_KEYS, local runs) or the keys of a Secrets
// Manager secret (WEBHOOK_SECRET_ARN), read again through config.Secrets
// when they are older than 5 minutes, and when a delivery fails
// verification (an unknown subscription or no matching key: possibly a key
// added since), at most once per 30 seconds. A read that fails, or a secret
// that is not valid key JSON, keeps the keys it has. Safe for concurrent use.
type Keys struct {
	secrets *config.Secrets // nil: fixed keys
	arn     string
	log     *slog.Logger

	current atomic.Pointer[keySet]
	mu      sync.Mutex // serialises installing a newly read secret
	// refused is the last secret text that did not parse, so that it is
	// logged once, not on every delivery until the secret is fixed.
	refused string
}

// keySet is the keys parsed from one secret text.
type keySet struct {
	raw  string
	keys encompass.SigningKeys
}

// FixedKeys verifies with keys that never change.
func FixedKeys(keys encompass.SigningKeys) *Keys {
	k := &Keys{log: slog.New(slog.DiscardHandler)}
	k.current.Store(&keySet{keys: keys})
	return k
}

// SecretKeys verifies with the keys of the secret arn, read through secrets
// (which holds the copy the cold start read), starting with initial (the
// keys parsed from that copy).
func SecretKeys(secrets *config.Secrets, arn string, initial encompass.SigningKeys, log *slog.Logger) *Keys {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	k := &Keys{secrets: secrets.WithMaxAge(keysMaxAge), arn: arn, log: log}
	k.current.Store(&keySet{keys: initial})
	return k
}

// Verify checks signature over body with every key of subscriptionID. It
// returns nil, encompass.ErrUnknownSubscription or encompass.ErrBadSignature,
// and never reveals a key.
func (k *Keys) Verify(ctx context.Context, subscriptionID string, body []byte, signature string) error {
	if k.secrets == nil {
		return k.current.Load().keys.Verify(subscriptionID, body, signature)
	}
	// Detached: a client that hangs up must not fail the read and leave the
	// keys stale for another max age. config.Secrets bounds each read.
	rctx := context.WithoutCancel(ctx)
	raw, err := k.secrets.Get(rctx, k.arn)
	set := k.install(ctx, raw, err)
	err = set.keys.Verify(subscriptionID, body, signature)
	if err == nil {
		return nil
	}
	raw, rerr := k.secrets.Refresh(rctx, k.arn, keysMinReloadGap)
	if newer := k.install(ctx, raw, rerr); newer != set {
		return newer.keys.Verify(subscriptionID, body, signature)
	}
	return err
}

// install parses a secret text that differs from the keys in use and puts
// it in their place; a failed read or text that is not key JSON keeps them.
// It returns the keys in use afterwards.
func (k *Keys) install(ctx context.Context, raw string, readErr error) *keySet {
	cur := k.current.Load()
	if readErr != nil {
		// config.Secrets's errors name the ARN and the cause, never the value.
		k.log.WarnContext(ctx, "webhook: reading the signing keys again failed; keeping the current ones", "error", readErr.Error())
		return cur
	}
	if raw == cur.raw || raw == "" {
		return cur
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if cur = k.current.Load(); raw == cur.raw || raw == k.refused {
		return cur
	}
	keys, err := encompass.ParseSigningKeys([]byte(raw))
	if err != nil {
		k.refused = raw
		// The parser's errors never quote a key or a subscription id.
		k.log.WarnContext(ctx, "webhook: the signing keys secret is not valid key JSON; keeping the current ones", "error", err.Error())
		return cur
	}
	next := &keySet{raw: raw, keys: keys}
	k.current.Store(next)
	if cur.raw != "" {
		k.log.InfoContext(ctx, "webhook: signing keys read again", "subscriptions", len(keys))
	}
	return next
}
