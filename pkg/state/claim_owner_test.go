package state_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/lenderops/encompass-lifecycle/internal/testenv"
	"github.com/lenderops/encompass-lifecycle/pkg/state"
)

// TestClaimEventOwner: an in-progress claim held by the same owner (the SQS
// message id) counts as claimed; another owner's is in progress; a completed
// one is a duplicate whoever asks.
func TestClaimEventOwner(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFixture(t, state.WithClaimLease(time.Minute))
	steps := []struct {
		name, event, owner string
		advance            time.Duration
		complete           bool // complete the event before this step
		wantClaimed        bool
		wantErr            error
	}{
		{name: "first claim", event: "ev-o", owner: "msg-1", wantClaimed: true},
		{name: "same owner again", event: "ev-o", owner: "msg-1", wantClaimed: true},
		{name: "other owner", event: "ev-o", owner: "msg-2", wantErr: state.ErrInProgress},
		{name: "no owner", event: "ev-o", owner: "", wantErr: state.ErrInProgress},
		{name: "same owner renews the lease", event: "ev-o", owner: "msg-1", advance: 50 * time.Second, wantClaimed: true},
		{name: "other owner inside the renewed lease", event: "ev-o", owner: "msg-2", advance: 50 * time.Second, wantErr: state.ErrInProgress},
		{name: "completed: duplicate for the same owner", event: "ev-o", owner: "msg-1", complete: true},
		{name: "completed: duplicate for another owner", event: "ev-o", owner: "msg-2"},
		{name: "empty owner never matches an empty owner", event: "ev-e", owner: "", wantClaimed: true},
		{name: "empty owner again", event: "ev-e", owner: "", wantErr: state.ErrInProgress},
	}
	for _, st := range steps {
		f.clock.Advance(st.advance)
		if st.complete {
			if err := f.store.CompleteClaim(ctx, state.EventKey(st.event), "User Provisioned"); err != nil {
				t.Fatal(err)
			}
		}
		claimed, err := claimEvent(f.store, ctx, st.event, "E1", st.owner, time.Hour)
		if claimed != st.wantClaimed || !errors.Is(err, st.wantErr) || (st.wantErr == nil && err != nil) {
			t.Fatalf("%s: claimed %v err %v; want %v %v", st.name, claimed, err, st.wantClaimed, st.wantErr)
		}
	}
	c, _, err := f.store.GetClaim(ctx, state.EventKey("ev-o"))
	if err != nil || c.Owner != "msg-1" || c.Status != state.ClaimDone {
		t.Fatalf("claim %+v %v", c, err)
	}
}

// Racing deliveries of different messages with one event id: one wins.
func TestClaimEventOwnersRace(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	var wins, busy atomic.Int32
	done := make(chan struct{})
	for i := range 6 {
		go func() {
			defer func() { done <- struct{}{} }()
			ok, err := claimEvent(f.store, context.Background(), "ev-race", "E1", "msg-"+string(rune('a'+i)), time.Hour)
			switch {
			case ok:
				wins.Add(1)
			case errors.Is(err, state.ErrInProgress):
				busy.Add(1)
			default:
				t.Errorf("%v %v", ok, err)
			}
		}()
	}
	for range 6 {
		<-done
	}
	if wins.Load() != 1 || busy.Load() != 5 {
		t.Fatalf("%d wins, %d busy", wins.Load(), busy.Load())
	}
}

// lossyDynamo is a proxy in front of dynalite that lets the first PutItem
// matching match reach dynalite, then loses its answer (a 500 in its
// place), so that the SDK sends the same request again, as it does when a
// connection drops after the write.
func lossyDynamo(t *testing.T, match string) (*dynamodb.Client, *atomic.Int32) {
	t.Helper()
	d := testenv.DynamoDB(t)
	target, err := url.Parse(d.URL)
	if err != nil {
		t.Fatal(err)
	}
	var lost, puts atomic.Int32
	proxy := &httputil.ReverseProxy{}
	// Mark the requests of interest before they reach dynalite.
	proxy.Rewrite = func(pr *httputil.ProxyRequest) {
		pr.SetURL(target)
		if pr.Out.Body != nil {
			b, _ := io.ReadAll(pr.Out.Body)
			pr.Out.Body = io.NopCloser(bytes.NewReader(b))
			if bytes.Contains(b, []byte(match)) {
				pr.Out.Header.Set("X-Lossy-Match", "1")
			}
		}
	}
	proxy.ModifyResponse = func(resp *http.Response) error {
		req := resp.Request
		if !strings.HasSuffix(req.Header.Get("X-Amz-Target"), ".PutItem") || req.Header.Get("X-Lossy-Match") != "1" {
			return nil
		}
		puts.Add(1)
		if resp.StatusCode != http.StatusOK || !lost.CompareAndSwap(0, 1) {
			return nil
		}
		resp.Body.Close()
		body := `{"__type":"com.amazonaws.dynamodb.v20120810#InternalServerError","message":"answer lost"}`
		resp.StatusCode = http.StatusInternalServerError
		resp.Body = io.NopCloser(strings.NewReader(body))
		resp.ContentLength = int64(len(body))
		resp.Header.Set("Content-Length", strconv.Itoa(len(body)))
		return nil
	}
	srv := httptest.NewServer(proxy)
	t.Cleanup(srv.Close)
	client := dynamodb.New(d.Client.Options(), func(o *dynamodb.Options) {
		o.BaseEndpoint = aws.String(srv.URL)
		// The SDK's standard retryer (it retries a 500), with short waits.
		o.Retryer = retry.NewStandard(func(so *retry.StandardOptions) { so.MaxBackoff = 5 * time.Millisecond })
	})
	return client, &puts
}

// TestClaimEventLostAnswer: the claim's put is written, its answer lost, and
// the SDK resends it. With an owner the resend counts as ours: claimed, not
// ErrInProgress (which would make the event wait out the lease).
func TestClaimEventLostAnswer(t *testing.T) {
	t.Parallel()
	client, puts := lossyDynamo(t, "EVENT#ev-lost")
	d := testenv.DynamoDB(t)
	st := state.New(client, d.CreateTable(t))
	claimed, err := claimEvent(st, context.Background(), "ev-lost", "E1", "msg-1", time.Hour)
	if !claimed || err != nil {
		t.Fatalf("claim with a lost answer: %v %v", claimed, err)
	}
	if puts.Load() != 2 {
		t.Fatalf("%d puts reached dynalite, want the write and its resend", puts.Load())
	}
	// Another message with the event id still waits.
	if ok, err := claimEvent(st, context.Background(), "ev-lost", "E1", "msg-2", time.Hour); ok || !errors.Is(err, state.ErrInProgress) {
		t.Fatalf("other owner: %v %v", ok, err)
	}
	// Without an owner the same loss reads as another delivery holding the
	// claim: the problem the owner solves.
	client2, _ := lossyDynamo(t, "EVENT#ev-lost")
	st2 := state.New(client2, d.CreateTable(t))
	if ok, err := claimEvent(st2, context.Background(), "ev-lost", "E1", "", time.Hour); ok || !errors.Is(err, state.ErrInProgress) {
		t.Fatalf("no owner, lost answer: %v %v; want ErrInProgress", ok, err)
	}
}

// TestClaimWebhookLostAnswer: the same for webhook claims, whose owner is a
// token per request: the SDK's resend succeeds, so the delivery is
// published instead of answered as a copy in flight.
func TestClaimWebhookLostAnswer(t *testing.T) {
	t.Parallel()
	client, puts := lossyDynamo(t, "WEBHOOK#wh-lost")
	d := testenv.DynamoDB(t)
	st := state.New(client, d.CreateTable(t))
	ctx := context.Background()
	claimed, err := claimWebhook(st, ctx, "wh-lost", "req-1", time.Hour)
	if !claimed || err != nil {
		t.Fatalf("webhook claim with a lost answer: %v %v", claimed, err)
	}
	if puts.Load() != 2 {
		t.Fatalf("%d puts reached dynalite, want the write and its resend", puts.Load())
	}
	// Another request for the same delivery, while the first is handed on,
	// is in progress: never a duplicate before it is published.
	if ok, err := claimWebhook(st, ctx, "wh-lost", "req-2", time.Hour); ok || !errors.Is(err, state.ErrInProgress) {
		t.Fatalf("copy in flight: %v %v", ok, err)
	}
	// Once published, a redelivery is a duplicate.
	if err := st.CompleteClaim(ctx, state.WebhookKey("wh-lost"), "published"); err != nil {
		t.Fatal(err)
	}
	if ok, err := claimWebhook(st, ctx, "wh-lost", "req-3", time.Hour); ok || err != nil {
		t.Fatalf("redelivery: %v %v", ok, err)
	}
}

// TestClaimResumed: a claim says whether it takes over an attempt that may
// have applied part of its work (crashed, or released after a retryable
// failure), so that the attempt can find what its predecessor did.
func TestClaimResumed(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFixture(t, state.WithClaimLease(time.Minute))
	key := state.EventKey("ev-resume")
	steps := []struct {
		name        string
		owner       string
		advance     time.Duration
		before      func() error
		wantResumed bool
		wantErr     error
	}{
		{name: "first claim", owner: "m1"},
		{name: "redelivery of a crashed message", owner: "m1", wantResumed: true},
		{name: "other message inside the lease", owner: "m2", wantErr: state.ErrInProgress},
		{name: "other message after the lease", owner: "m2", advance: 61 * time.Second, wantResumed: true},
		{name: "after a release", owner: "m3", before: func() error { return f.store.ReleaseClaim(ctx, key) }, wantResumed: true},
		{name: "after the ttl, a fresh start", owner: "m4", advance: 2 * time.Hour},
	}
	for _, st := range steps {
		f.clock.Advance(st.advance)
		if st.before != nil {
			if err := st.before(); err != nil {
				t.Fatal(err)
			}
		}
		c, err := f.store.Claim(ctx, key, st.owner, state.ClaimOptions{TTL: time.Hour})
		if !errors.Is(err, st.wantErr) || (st.wantErr == nil && err != nil) {
			t.Fatalf("%s: err %v, want %v", st.name, err, st.wantErr)
		}
		if err == nil && (c.Status != state.ClaimInProgress || c.Resumed != st.wantResumed) {
			t.Fatalf("%s: %+v, want in progress, resumed %v", st.name, c, st.wantResumed)
		}
	}
}
