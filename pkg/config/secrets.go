package config

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
)

// Secrets reads secret strings from Secrets Manager and keeps them: the one
// reader behind ENCOMPASS_SECRET_ARN (read at cold start by Load) and
// WEBHOOK_SECRET_ARN (read at cold start, then again while the container
// lives). Its errors name the ARN and the cause, never the value.
//
// Values are kept per ARN for the life of the process (a Lambda container)
// and shared by every Secrets in it, so that warm invocations and repeated
// Loads do not call Secrets Manager again. Safe for concurrent use.
type Secrets struct {
	client SecretsAPI
	maxAge time.Duration
	now    func() time.Time
	cache  *secretCache
}

// NewSecrets returns a reader over client that reads a secret again when the
// copy it holds is maxAge old (0: never). now may be nil (time.Now).
func NewSecrets(client SecretsAPI, maxAge time.Duration, now func() time.Time) *Secrets {
	if now == nil {
		now = time.Now
	}
	return &Secrets{client: client, maxAge: maxAge, now: now, cache: processSecrets}
}

// WithMaxAge returns a reader with the same client and cache whose copies
// are read again once they are d old (0: never).
func (s *Secrets) WithMaxAge(d time.Duration) *Secrets {
	c := *s
	c.maxAge = d
	return &c
}

// Get returns the secret string of arn: the copy held while it is younger
// than the reader's max age, else a new read. A read that fails is not tried
// again before the max age has passed once more; Get then returns the copy it
// still holds (empty when there is none) with the error, so that a caller can
// keep working with what it has.
func (s *Secrets) Get(ctx context.Context, arn string) (string, error) {
	e := s.cache.entry(arn)
	if v, ok := e.fresh(s.now(), s.maxAge); ok {
		return v, nil
	}
	e.read.Lock()
	defer e.read.Unlock()
	// Another caller may have read it while this one waited.
	if v, ok := e.fresh(s.now(), s.maxAge); ok {
		return v, nil
	}
	return s.readLocked(ctx, e, arn)
}

// Refresh reads arn again now, unless the last Refresh of it read less than
// minGap ago: a caller that suspects its copy is stale (a webhook signed
// with a key it does not hold) may ask, and a flood of such requests still
// costs at most one read per gap. It returns the copy held after the read,
// with the error of a failed read.
func (s *Secrets) Refresh(ctx context.Context, arn string, minGap time.Duration) (string, error) {
	e := s.cache.entry(arn)
	e.read.Lock()
	defer e.read.Unlock()
	now := s.now()
	e.mu.Lock()
	recent := !e.refreshedAt.IsZero() && now.Sub(e.refreshedAt) < minGap
	if !recent {
		e.refreshedAt = now
	}
	v := e.value
	e.mu.Unlock()
	if recent {
		return v, nil
	}
	return s.readLocked(ctx, e, arn)
}

// readLocked reads arn with e.read held. The attempt counts as a check even
// when it fails, so that an unreachable Secrets Manager costs one attempt per
// max age, not one per caller.
func (s *Secrets) readLocked(ctx context.Context, e *secretEntry, arn string) (string, error) {
	e.mu.Lock()
	e.checkedAt = s.now()
	e.mu.Unlock()
	v, err := s.read(ctx, arn)
	e.mu.Lock()
	defer e.mu.Unlock()
	if err != nil {
		return e.value, err
	}
	e.value, e.held = v, true
	return v, nil
}

// secretReadTimeout bounds one read, the SDK's retries included: a read
// that hangs must not use up a cold start's init time or a request's
// deadline.
const secretReadTimeout = 5 * time.Second

func (s *Secrets) read(ctx context.Context, arn string) (string, error) {
	if s.client == nil {
		return "", fmt.Errorf("read secret %s: no Secrets Manager client", arn)
	}
	ctx, cancel := context.WithTimeout(ctx, secretReadTimeout)
	defer cancel()
	out, err := s.client.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(arn)})
	if err != nil {
		// The SDK's error names the operation and the service's answer
		// (not found, access denied); the value is never in it.
		return "", fmt.Errorf("read secret %s: %w", arn, err)
	}
	if out.SecretString == nil {
		return "", fmt.Errorf("read secret %s: %w", arn, errBinarySecret)
	}
	return *out.SecretString, nil
}

var errBinarySecret = errors.New("the secret has no SecretString (binary secrets are not supported)")

// secretCache holds one entry per ARN.
type secretCache struct {
	mu      sync.Mutex
	entries map[string]*secretEntry
}

// processSecrets is the process's cache: a Lambda container reads each
// secret once at cold start, whichever code asks first.
var processSecrets = &secretCache{entries: map[string]*secretEntry{}}

func (c *secretCache) entry(arn string) *secretEntry {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[arn]
	if !ok {
		e = &secretEntry{}
		c.entries[arn] = e
	}
	return e
}

// secretEntry is one secret's copy. read serialises reads of the secret, so
// that concurrent callers wait for one read instead of each making one; mu
// guards the fields, and is never held during a read.
type secretEntry struct {
	read sync.Mutex

	mu    sync.Mutex
	value string
	held  bool // value was read successfully at least once
	// checkedAt is the last read attempt; refreshedAt the last Refresh that
	// read (zero until one did, so that the first Refresh after a cold
	// start reads at once).
	checkedAt, refreshedAt time.Time
}

// fresh returns the value when one is held and was checked less than maxAge
// ago (any age when maxAge is 0).
func (e *secretEntry) fresh(now time.Time, maxAge time.Duration) (string, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if !e.held || (maxAge > 0 && now.Sub(e.checkedAt) >= maxAge) {
		return "", false
	}
	return e.value, true
}
