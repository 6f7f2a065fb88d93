package encompass

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/lenderops/encompass-lifecycle/pkg/encompass/encompasstest"
)

// receiver is a minimal webhook endpoint built on this package's
// verification, to prove it interoperates with what the simulator sends.
type receiver struct {
	keys SigningKeys
	mu   sync.Mutex
	got  []WebhookEvent
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 256<<10))
	if err != nil {
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	rc.mu.Lock()
	err = rc.keys.Verify(r.Header.Get(HeaderSubscriptionID), body, r.Header.Get(HeaderSignature))
	rc.mu.Unlock()
	if err != nil {
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	ev, err := ParseWebhookEvent(body)
	if err != nil {
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	rc.mu.Lock()
	rc.got = append(rc.got, ev)
	rc.mu.Unlock()
}

func TestWebhookSubscriptionsAndDelivery(t *testing.T) {
	t.Parallel()
	tc := newSimClient(t, nil)
	ctx := context.Background()
	key, err := GenerateSigningKey()
	if err != nil {
		t.Fatal(err)
	}
	rc := &receiver{keys: SigningKeys{}}
	hook := httptest.NewServer(rc)
	t.Cleanup(hook.Close)

	id, err := tc.Webhooks.CreateSubscription(ctx, Subscription{Endpoint: hook.URL + "/webhooks/encompass", Resource: "Loan", Events: []string{"create", "update"}, SigningKey: key})
	if err != nil {
		t.Fatal(err)
	}
	subs := tc.srv.Subscriptions()
	if len(subs) != 1 || subs[0].ID != id || subs[0].SigningKey != key {
		t.Fatalf("simulator subscriptions %+v (the key must arrive as `signingkey`)", subs)
	}
	list, err := tc.Webhooks.ListSubscriptions(ctx)
	if err != nil || len(list) != 1 || list[0].ID != id || list[0].Resource != "Loan" || list[0].SigningKey != "" {
		t.Fatalf("list %+v %v", list, err)
	}
	if strings.Contains(fmt.Sprint(Subscription{SigningKey: key}), key) {
		t.Fatal("Subscription prints its key")
	}

	// Unknown subscription until the receiver knows the key.
	status, err := tc.srv.Deliver(ctx, id, tc.srv.NewWebhookEvent("Loan", "update", "L1"))
	if err != nil || status != http.StatusUnauthorized {
		t.Fatalf("delivery without key: %d %v", status, err)
	}
	rc.mu.Lock()
	rc.keys[id] = []string{"an-old-key-being-rotated", key}
	rc.mu.Unlock()
	status, err = tc.srv.Deliver(ctx, id, tc.srv.NewWebhookEvent("Loan", "update", "L1"))
	if err != nil || status != http.StatusOK {
		t.Fatalf("delivery: %d %v", status, err)
	}
	rc.mu.Lock()
	got := append([]WebhookEvent(nil), rc.got...)
	rc.mu.Unlock()
	if len(got) != 1 || got[0].DetailType() != "Loan update" || got[0].Meta.ResourceID != "L1" {
		t.Fatalf("received %+v", got)
	}
	// A body signed with another key is refused.
	body := []byte(`{"eventId":"e","eventType":"update","meta":{"resourceType":"Loan"}}`)
	status, err = encompasstest.DeliverWebhook(ctx, nil, hook.URL, id, "Wrong-Key-1234567890-abcdefghijkl!", body)
	if err != nil || status != http.StatusUnauthorized {
		t.Fatalf("wrong key: %d %v", status, err)
	}
	if Sign(key, body) != encompasstest.SignWebhook(key, body) {
		t.Fatal("Sign disagrees with the simulator's signature")
	}

	if err := tc.Webhooks.DeleteSubscription(ctx, id); err != nil {
		t.Fatal(err)
	}
	if err := tc.Webhooks.DeleteSubscription(ctx, id); !errors.Is(err, ErrNotFound) {
		t.Fatalf("second delete: %v", err)
	}
	if len(tc.srv.Subscriptions()) != 0 {
		t.Fatal("subscription not deleted")
	}
}

func TestWebhookCreateRejections(t *testing.T) {
	t.Parallel()
	tc := newSimClient(t, nil)
	ctx := context.Background()
	if _, err := tc.Webhooks.CreateSubscription(ctx, Subscription{Resource: "Loan", Events: []string{"update"}}); err == nil {
		t.Fatal("subscription without endpoint sent")
	}
	_, err := tc.Webhooks.CreateSubscription(ctx, Subscription{Endpoint: "http://example.com/hook", Resource: "Loan", Events: []string{"update"}})
	if !errors.Is(err, ErrBadRequest) || IsRetryable(err) {
		t.Fatalf("plain http endpoint: %v", err)
	}
	_, err = tc.Webhooks.CreateSubscription(ctx, Subscription{Endpoint: "https://example.com/hook", Resource: "Loan", Events: []string{"update"}, SigningKey: "weak"})
	if !errors.Is(err, ErrBadRequest) || strings.Contains(err.Error(), "weak\"") {
		t.Fatalf("weak key: %v", err)
	}
	if n := waitCount(tc.srv, "POST /webhook/v1/subscriptions", 2); n != 2 {
		t.Fatalf("creates = %d, want 2 (a refused create is not retried)", n)
	}
}

func TestWebhookCreateIsNotResentAfterADrop(t *testing.T) {
	t.Parallel()
	tc := newSimClient(t, nil)
	warm(t, tc)
	tc.srv.DropAfterApply(1, "POST /webhook/v1/subscriptions")
	_, err := tc.Webhooks.CreateSubscription(context.Background(), Subscription{Endpoint: "https://example.com/hook", Resource: "Loan", Events: []string{"update"}})
	if !errors.Is(err, ErrUnknownOutcome) || !IsRetryable(err) {
		t.Fatalf("err = %v", err)
	}
	if n := waitCount(tc.srv, "POST /webhook/v1/subscriptions", 1); n != 1 {
		t.Fatalf("creates = %d, want 1", n)
	}
}

// TestWebhookUpdateSubscriptionRotatesKey is the key rotation: after the PUT
// the simulator signs with the new key, which a receiver holding both keys
// accepts and one holding only the old key refuses.
func TestWebhookUpdateSubscriptionRotatesKey(t *testing.T) {
	t.Parallel()
	tc := newSimClient(t, nil)
	ctx := context.Background()
	oldKey, _ := GenerateSigningKey()
	newKey, _ := GenerateSigningKey()
	rc := &receiver{keys: SigningKeys{}}
	hook := httptest.NewServer(rc)
	t.Cleanup(hook.Close)
	sub := Subscription{Endpoint: hook.URL + "/webhooks/encompass", Resource: "Loan", Events: []string{"create", "update"}, SigningKey: oldKey}
	id, err := tc.Webhooks.CreateSubscription(ctx, sub)
	if err != nil {
		t.Fatal(err)
	}

	got, err := tc.Webhooks.GetSubscription(ctx, id)
	if err != nil || got.ID != id || got.Endpoint != sub.Endpoint || got.Resource != "Loan" || strings.Join(got.Events, ",") != "create,update" || got.SigningKey != "" {
		t.Fatalf("get: %+v %v", got, err)
	}
	got.SigningKey = newKey
	if err := tc.Webhooks.UpdateSubscription(ctx, id, *got); err != nil {
		t.Fatal(err)
	}
	subs := tc.srv.Subscriptions()
	if len(subs) != 1 || subs[0].SigningKey != newKey || subs[0].Endpoint != sub.Endpoint || strings.Join(subs[0].Events, ",") != "create,update" {
		t.Fatalf("after the PUT the simulator holds %v (key rotated: %v)", subs, len(subs) == 1 && subs[0].SigningKey == newKey)
	}

	deliver := func(keys []string) int {
		t.Helper()
		rc.mu.Lock()
		rc.keys[id] = keys
		rc.mu.Unlock()
		status, err := tc.srv.Deliver(ctx, id, tc.srv.NewWebhookEvent("Loan", "update", "L1"))
		if err != nil {
			t.Fatal(err)
		}
		return status
	}
	if s := deliver([]string{oldKey}); s != http.StatusUnauthorized {
		t.Fatalf("delivery signed with the new key accepted by the old key alone: %d", s)
	}
	if s := deliver([]string{oldKey, newKey}); s != http.StatusOK {
		t.Fatalf("delivery signed with the new key refused by the two-key set: %d", s)
	}

	// A PUT without a key keeps the current one.
	got.SigningKey = ""
	if err := tc.Webhooks.UpdateSubscription(ctx, id, *got); err != nil {
		t.Fatal(err)
	}
	if subs := tc.srv.Subscriptions(); subs[0].SigningKey != newKey {
		t.Fatal("a PUT without signingkey changed the key")
	}
}

func TestWebhookUpdateSubscriptionRejections(t *testing.T) {
	t.Parallel()
	tc := newSimClient(t, nil)
	ctx := context.Background()
	full := Subscription{Endpoint: "https://example.com/webhooks/encompass", Resource: "Loan", Events: []string{"update"}}
	weak := full
	weak.SigningKey = "weak-but-secret-value"
	noEvents := full
	noEvents.Events = nil
	for _, c := range []struct {
		name string
		id   string
		sub  Subscription
	}{
		{"empty id", "", full},
		{"id with slash", "a/b", full},
		{"no events", "x", noEvents},
		{"no endpoint", "x", Subscription{Resource: "Loan", Events: []string{"update"}}},
		{"weak key", "x", weak},
	} {
		err := tc.Webhooks.UpdateSubscription(ctx, c.id, c.sub)
		if !errors.Is(err, ErrInvalidArgument) || strings.Contains(err.Error(), "weak-but-secret-value") {
			t.Errorf("%s: %v", c.name, err)
		}
	}
	if n := tc.srv.Count("PUT /webhook/v1/subscriptions/{id}"); n != 0 {
		t.Fatalf("%d invalid updates were sent", n)
	}
	if err := tc.Webhooks.UpdateSubscription(ctx, "no-such-subscription", full); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown subscription: %v", err)
	}
	if n := waitCount(tc.srv, "PUT /webhook/v1/subscriptions/{id}", 1); n != 1 {
		t.Fatalf("PUTs = %d, want 1 (only the valid update is sent, once)", n)
	}
	if _, err := tc.Webhooks.GetSubscription(ctx, "no-such-subscription"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("get unknown subscription: %v", err)
	}
}
