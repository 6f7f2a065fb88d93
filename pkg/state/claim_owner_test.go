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
			if err := f.store.CompleteEvent(ctx, st.event, "User Provisioned"); err != nil {
				t.Fatal(err)
			}
		}
		claimed, err := f.store.ClaimEvent(ctx, st.event, "E1", st.owner, time.Hour)
		if claimed != st.wantClaimed || !errors.Is(err, st.wantErr) || (st.wantErr == nil && err != nil) {
			t.Fatalf("%s: claimed %v err %v; want %v %v", st.name, claimed, err, st.wantClaimed, st.wantErr)
		}
	}
	c, _, err := f.store.GetEventClaim(ctx, "ev-o")
	if err != nil || c.Owner != "msg-1" || !c.Done {
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
			ok, err := f.store.ClaimEvent(context.Background(), "ev-race", "E1", "msg-"+string(rune('a'+i)), time.Hour)
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
	claimed, err := st.ClaimEvent(context.Background(), "ev-lost", "E1", "msg-1", time.Hour)
	if !claimed || err != nil {
		t.Fatalf("claim with a lost answer: %v %v", claimed, err)
	}
	if puts.Load() != 2 {
		t.Fatalf("%d puts reached dynalite, want the write and its resend", puts.Load())
	}
	// Another message with the event id still waits.
	if ok, err := st.ClaimEvent(context.Background(), "ev-lost", "E1", "msg-2", time.Hour); ok || !errors.Is(err, state.ErrInProgress) {
		t.Fatalf("other owner: %v %v", ok, err)
	}
	// Without an owner the same loss reads as another delivery holding the
	// claim: the problem the owner solves.
	client2, _ := lossyDynamo(t, "EVENT#ev-lost")
	st2 := state.New(client2, d.CreateTable(t))
	if ok, err := st2.ClaimEvent(context.Background(), "ev-lost", "E1", "", time.Hour); ok || !errors.Is(err, state.ErrInProgress) {
		t.Fatalf("no owner, lost answer: %v %v; want ErrInProgress", ok, err)
	}
}

// TestClaimWebhookLostAnswer: the same for webhook claims, which have no
// SQS message id: a per-call token makes the SDK's resend succeed, so the
// delivery is published instead of answered as a redelivery.
func TestClaimWebhookLostAnswer(t *testing.T) {
	t.Parallel()
	client, puts := lossyDynamo(t, "WEBHOOK#wh-lost")
	d := testenv.DynamoDB(t)
	st := state.New(client, d.CreateTable(t))
	claimed, err := st.ClaimWebhook(context.Background(), "wh-lost", time.Hour)
	if !claimed || err != nil {
		t.Fatalf("webhook claim with a lost answer: %v %v", claimed, err)
	}
	if puts.Load() != 2 {
		t.Fatalf("%d puts reached dynalite, want the write and its resend", puts.Load())
	}
	// A real redelivery (a new call) is still a duplicate.
	if ok, err := st.ClaimWebhook(context.Background(), "wh-lost", time.Hour); ok || err != nil {
		t.Fatalf("redelivery: %v %v", ok, err)
	}
}
