package encompass

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"strconv"
	"sync/atomic"
	"time"
)

// maxResponseBytes bounds what one answer may make us read into memory.
const maxResponseBytes = 64 << 20

// maxRateLimitWait caps a wait for X-Rate-Limit-Reset, so that a clock skew
// or a bogus header cannot park a function for hours.
const maxRateLimitWait = 2 * time.Minute

// call describes one API operation for do.
type call struct {
	method   string
	path     string     // escaped path below the base URL
	endpoint string     // templated path for hooks, logs and errors
	query    url.Values // may be nil
	// create marks a non-idempotent write: once it was sent and the outcome
	// is unknown, lookup decides (found: done; ErrNotFound: send again).
	create bool
	lookup func(ctx context.Context) (bool, error)
	// onResponse sees the successful answer's headers.
	onResponse func(*http.Response)
}

// rateGate is the time (unix nanoseconds) before which no request starts,
// set when an answer says X-Rate-Limit-Remaining: 0.
type rateGate struct{ until atomic.Int64 }

// do performs the call with retries and decodes a 2xx answer into out
// (ignored when nil; a *[]byte receives the raw body). in, when not nil, is
// sent as JSON.
func (c *Client) do(ctx context.Context, cl call, in, out any) error {
	var body []byte
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return fmt.Errorf("encode request: %w", err)
		}
		body = b
	}
	// cl.path is already escaped (ids go through url.PathEscape), so the
	// URL is joined as a string; setting url.URL.Path would escape it twice.
	rawURL := c.base.String() + cl.path
	if len(cl.query) > 0 {
		rawURL += "?" + cl.query.Encode()
	}
	endpoint := cl.method + " " + cl.endpoint
	refreshed := false
	var lastErr error
	for attempt := 1; attempt <= c.cfg.MaxAttempts; attempt++ {
		if attempt > 1 {
			delay := c.backoff(attempt-1, lastErr)
			if !c.canWait(ctx, delay) {
				return lastErr
			}
			if !c.sleeper(ctx.Done(), delay) {
				return errors.Join(lastErr, ctx.Err())
			}
		}
		res, err := c.attempt(ctx, cl, rawURL, endpoint, body, attempt)
		switch {
		case err == nil && res.status >= 200 && res.status < 300:
			if cl.onResponse != nil {
				cl.onResponse(res.resp)
			}
			if raw, ok := out.(*[]byte); ok {
				// The caller decodes itself (list shapes vary): hand over
				// the bytes without a second parse.
				*raw = res.body
				return nil
			}
			if out != nil && len(bytes.TrimSpace(res.body)) > 0 {
				if err := json.Unmarshal(res.body, out); err != nil {
					return fmt.Errorf("decode %s answer: %w", endpoint, err)
				}
			}
			return nil
		case err != nil:
			lastErr = err
			if (ctx.Err() != nil && !cl.create) || errors.Is(err, errQuotaWait) {
				return err
			}
			if cl.create && res.sent {
				done, lerr := c.resolveUnknown(ctx, cl, endpoint, err)
				if done || lerr != nil {
					return lerr
				}
				continue // not applied: send again
			}
			if !IsRetryable(err) {
				return err
			}
		case res.status == http.StatusUnauthorized && !refreshed && res.tokenGen != 0:
			// The token died (idle timeout, revocation): get a new one and
			// retry once, without counting an attempt.
			refreshed = true
			c.tokens.invalidateGen(res.tokenGen)
			lastErr = res.apiErr
			attempt--
			c.log.Debug("encompass token rejected, refreshing", "endpoint", endpoint)
			continue
		default:
			lastErr = res.apiErr
			if !retryableStatus(res.status) {
				return res.apiErr
			}
			// A 5xx to a create may come after the server applied it (a
			// gateway timeout, typically): look before sending again. A
			// 429 is refused before any work is done.
			if cl.create && res.status != http.StatusTooManyRequests {
				done, lerr := c.resolveUnknown(ctx, cl, endpoint, res.apiErr)
				if done || lerr != nil {
					return lerr
				}
			}
		}
	}
	return lastErr
}

// resolveUnknown looks up the object of a create whose outcome is unknown.
// done reports that it exists (the create took effect); err is non-nil when
// the look-up itself failed, wrapping ErrUnknownOutcome so that the caller
// retries later rather than sending blindly.
func (c *Client) resolveUnknown(ctx context.Context, cl call, endpoint string, cause error) (done bool, err error) {
	if cl.lookup == nil {
		return false, fmt.Errorf("%w: %w", ErrUnknownOutcome, cause)
	}
	if ctx.Err() != nil {
		return false, fmt.Errorf("%w: %w", ErrUnknownOutcome, cause)
	}
	c.log.Debug("encompass create outcome unknown, looking up", "endpoint", endpoint, "cause", cause.Error())
	found, lerr := cl.lookup(ctx)
	switch {
	case lerr == nil && found:
		c.log.Debug("encompass create had taken effect", "endpoint", endpoint)
		return true, nil
	case errors.Is(lerr, ErrNotFound):
		return false, nil
	case lerr != nil:
		return false, fmt.Errorf("%w: %w (look-up failed: %w)", ErrUnknownOutcome, cause, lerr)
	}
	return false, nil
}

type result struct {
	status   int
	body     []byte
	resp     *http.Response
	apiErr   *APIError
	sent     bool   // the request was written to the connection
	tokenGen uint64 // generation of the token used
}

// attempt performs one HTTP exchange, holding an in-flight slot only for
// the exchange itself (not while waiting for a token or backing off).
func (c *Client) attempt(ctx context.Context, cl call, rawURL, endpoint string, body []byte, attempt int) (result, error) {
	var res result
	tok, gen, err := c.tokens.token(ctx)
	if err != nil {
		return res, err
	}
	res.tokenGen = gen
	if err := c.waitRateGate(ctx); err != nil {
		return res, err
	}
	var rdr io.Reader
	if body != nil {
		rdr = bytes.NewReader(body)
	}
	trace := &httptrace.ClientTrace{WroteRequest: func(httptrace.WroteRequestInfo) { res.sent = true }}
	req, err := http.NewRequestWithContext(httptrace.WithClientTrace(ctx, trace), cl.method, rawURL, rdr)
	if err != nil {
		return res, fmt.Errorf("build request %s: %w", endpoint, err)
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if err := c.acquire(ctx); err != nil {
		return res, err
	}
	start := time.Now()
	resp, err := c.http.Do(req)
	if err == nil {
		res.body, err = readBody(resp)
		resp.Body.Close()
	}
	c.release()
	dur := time.Since(start)
	if err != nil {
		err = fmt.Errorf("%s: %w: %w", endpoint, errTransport, err)
		if ctx.Err() != nil {
			err = fmt.Errorf("%s: %w", endpoint, ctx.Err())
		}
		c.report(CallInfo{Method: cl.method, Endpoint: endpoint, Duration: dur, Attempt: attempt, Err: err})
		c.log.Debug("encompass call failed", "endpoint", endpoint, "attempt", attempt, "duration", dur, "error", err.Error(), "sent", res.sent)
		return res, err
	}
	res.sent = true
	res.status = resp.StatusCode
	res.resp = resp
	c.noteRateLimit(resp)
	var callErr error
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		res.apiErr = decodeAPIError(cl.method, cl.endpoint, resp, res.body)
		callErr = res.apiErr
	}
	c.report(CallInfo{Method: cl.method, Endpoint: endpoint, Status: resp.StatusCode, Duration: dur, Attempt: attempt, Err: callErr})
	if c.log.Enabled(ctx, slog.LevelDebug) {
		c.log.Debug("encompass call", "endpoint", endpoint, "status", resp.StatusCode, "attempt", attempt,
			"duration", dur, "correlationId", resp.Header.Get("X-Correlation-ID"),
			"rateLimitRemaining", resp.Header.Get("X-Rate-Limit-Remaining"))
	}
	return res, nil
}

// acquire takes an in-flight slot, giving up with the context; an Urgent
// context goes first.
func (c *Client) acquire(ctx context.Context) error { return c.sem.acquire(ctx, isUrgent(ctx)) }

func (c *Client) release() { c.sem.release() }

func (c *Client) report(ci CallInfo) {
	if c.cfg.OnCall != nil {
		c.cfg.OnCall(ci)
	}
}

// noteRateLimit closes the gate until X-Rate-Limit-Reset when the answer
// says no requests remain.
func (c *Client) noteRateLimit(resp *http.Response) {
	if resp.Header.Get("X-Rate-Limit-Remaining") != "0" {
		return
	}
	reset, ok := parseReset(resp.Header.Get("X-Rate-Limit-Reset"))
	if !ok {
		return
	}
	limit := time.Now().Add(maxRateLimitWait)
	if reset.After(limit) {
		reset = limit
	}
	for {
		cur := c.gate.until.Load()
		if reset.UnixNano() <= cur || c.gate.until.CompareAndSwap(cur, reset.UnixNano()) {
			return
		}
	}
}

// errQuotaWait marks a call refused on the client side because the quota
// resets after the deadline: no attempt of this call can succeed.
var errQuotaWait = errors.New("quota exhausted")

// waitRateGate waits until the rate-limit gate opens. When the context's
// deadline comes first it fails at once with a throttling error (retryable
// by a later invocation).
func (c *Client) waitRateGate(ctx context.Context) error {
	until := time.Unix(0, c.gate.until.Load())
	d := time.Until(until)
	if d <= 0 {
		return nil
	}
	if !c.canWait(ctx, d) {
		return fmt.Errorf("rate limit resets at %s, after the deadline: %w: %w", until.UTC().Format(time.RFC3339), errQuotaWait, ErrThrottled)
	}
	c.log.Debug("encompass rate limit exhausted, waiting", "wait", d)
	if !c.sleeper(ctx.Done(), d) {
		return ctx.Err()
	}
	return nil
}

// backoff returns the delay before retry n (n >= 1): full jitter over an
// exponentially growing cap, and at least until X-Rate-Limit-Reset when a
// 429 carried it.
func (c *Client) backoff(n int, lastErr error) time.Duration {
	d := fullJitter(c.cfg.BaseDelay, c.cfg.MaxDelay, n)
	var ae *APIError
	if errors.As(lastErr, &ae) && ae.StatusCode == http.StatusTooManyRequests && !ae.RateLimitReset.IsZero() {
		if w := time.Until(ae.RateLimitReset); w > d {
			d = min(w, maxRateLimitWait)
		}
	}
	return d
}

// fullJitter is a random duration in [0, min(maxDelay, base*2^(n-1))].
func fullJitter(base, maxDelay time.Duration, n int) time.Duration {
	ceiling := maxDelay
	if n-1 < 30 {
		if e := base << (n - 1); e > 0 && e < maxDelay {
			ceiling = e
		}
	}
	if ceiling <= 0 {
		return 0
	}
	return rand.N(ceiling + 1)
}

// canWait reports whether waiting d still leaves the context's deadline
// ahead, so that a retry is not started only to be cut off.
func (c *Client) canWait(ctx context.Context, d time.Duration) bool {
	if ctx.Err() != nil {
		return false
	}
	dl, ok := ctx.Deadline()
	return !ok || time.Until(dl) > d
}

func sleepCtx(done <-chan struct{}, d time.Duration) bool {
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-done:
		return false
	}
}

// parseReset reads X-Rate-Limit-Reset (epoch seconds).
func parseReset(v string) (time.Time, bool) {
	if v == "" {
		return time.Time{}, false
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n <= 0 {
		return time.Time{}, false
	}
	return time.Unix(n, 0), true
}

// readBody reads an answer of at most maxResponseBytes, in one allocation
// when Content-Length is known (a 200-user page is ~100 KB; io.ReadAll
// would grow its buffer a dozen times).
func readBody(resp *http.Response) ([]byte, error) {
	if n := resp.ContentLength; n >= 0 && n <= maxResponseBytes {
		buf := make([]byte, n)
		if _, err := io.ReadFull(resp.Body, buf); err != nil {
			return nil, err
		}
		return buf, nil
	}
	return io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes))
}
