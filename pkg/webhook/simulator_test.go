package webhook

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/lenderops/encompass-lifecycle/pkg/encompass"
	"github.com/lenderops/encompass-lifecycle/pkg/encompass/encompasstest"
)

// TestSimulatorDeliveries registers a subscription in the Encompass simulator
// through pkg/encompass and lets the simulator sign and deliver events to the
// receiver served as a plain HTTP server: Encompass's signing and ours agree.
func TestSimulatorDeliveries(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	sim := encompasstest.NewServer(t)
	client, err := encompass.New(encompass.Config{
		BaseURL: sim.URL, InstanceID: sim.InstanceID, ClientID: sim.ClientID, ClientSecret: sim.ClientSecret,
		Username: sim.Username, Password: sim.Password, HTTPClient: sim.Client(),
	})
	if err != nil {
		t.Fatal(err)
	}

	// The endpoint must exist before the subscription, the handler needs its key.
	var handler atomic.Pointer[Handler]
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if h := handler.Load(); h != nil {
			h.ServeHTTP(w, r)
			return
		}
		http.NotFound(w, r)
	}))
	t.Cleanup(receiver.Close)

	keys := encompass.SigningKeys{}
	var ids []string
	for _, resource := range []string{"Loan", "InternalUsers"} {
		key, err := encompass.GenerateSigningKey()
		if err != nil {
			t.Fatal(err)
		}
		id, err := client.Webhooks.CreateSubscription(ctx, encompass.Subscription{
			Endpoint: receiver.URL + "/webhooks/encompass", Resource: resource, Events: []string{"create", "update"}, SigningKey: key,
		})
		if err != nil {
			t.Fatal(err)
		}
		keys[id] = []string{key}
		ids = append(ids, id)
	}
	env := newTestEnvWithKeys(t, keys)
	handler.Store(env.handler)

	loan := sim.NewWebhookEvent("Loan", "update", "9f1e7c3a-1111-2222-3333-444455556666")
	user := sim.NewWebhookEvent("InternalUsers", "create", "jdoe")
	user.Meta.Payload = json.RawMessage(`{"entities":[{"id":"jdoe"}]}`)
	for _, d := range []struct {
		sub  string
		ev   encompasstest.WebhookEvent
		want int
	}{
		{ids[0], loan, 200},
		{ids[0], loan, 200}, // Encompass retries: not published again
		{ids[1], user, 200},
	} {
		status, err := sim.Deliver(ctx, d.sub, d.ev)
		if err != nil || status != d.want {
			t.Fatalf("deliver %s %s: %d %v, want %d", d.ev.Meta.ResourceType, d.ev.EventType, status, err, d.want)
		}
	}
	// A delivery signed with another subscription's key.
	body, _ := json.Marshal(sim.NewWebhookEvent("Loan", "update", "x"))
	status, err := encompasstest.DeliverWebhook(ctx, nil, receiver.URL+"/webhooks/encompass", ids[0], keys[ids[1]][0], body)
	if err != nil || status != 401 {
		t.Fatalf("forged delivery: %d %v, want 401", status, err)
	}

	got := env.published(t)
	if len(got) != 2 || got[0].DetailType != "Loan update" || got[1].DetailType != "InternalUsers create" {
		t.Fatalf("published %+v", got)
	}
	if id, _ := got[1].DetailMap()["eventId"].(string); id != user.EventID {
		t.Errorf("detail eventId %q, want %q", id, user.EventID)
	}
}

// TestSimulatorKeyRotation is the rotation procedure of docs/webhook.md
// through the real receiver: the secret holds the old and the new key, the
// subscription is switched to the new key with UpdateSubscription, and the
// simulator's deliveries signed with it are accepted and published. A
// receiver that only knows the old key refuses them, which is why the PUT
// comes after the secret. The probe webhookctl rotate sends (a body that is
// not an event, signed with the new key) is answered 400 by a receiver
// holding the key and 401 by one that does not, and is never published.
func TestSimulatorKeyRotation(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	sim := encompasstest.NewServer(t)
	client, err := encompass.New(encompass.Config{
		BaseURL: sim.URL, InstanceID: sim.InstanceID, ClientID: sim.ClientID, ClientSecret: sim.ClientSecret,
		Username: sim.Username, Password: sim.Password, HTTPClient: sim.Client(),
	})
	if err != nil {
		t.Fatal(err)
	}
	var handler atomic.Pointer[Handler]
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { handler.Load().ServeHTTP(w, r) }))
	t.Cleanup(receiver.Close)

	oldKey, _ := encompass.GenerateSigningKey()
	newKey, _ := encompass.GenerateSigningKey()
	id, err := client.Webhooks.CreateSubscription(ctx, encompass.Subscription{
		Endpoint: receiver.URL + "/webhooks/encompass", Resource: "Loan", Events: []string{"update"}, SigningKey: oldKey,
	})
	if err != nil {
		t.Fatal(err)
	}
	oldOnly := newTestEnvWithKeys(t, encompass.SigningKeys{id: {oldKey}})
	both := newTestEnvWithKeys(t, encompass.SigningKeys{id: {oldKey, newKey}})
	deliver := func(env *testEnv) int {
		t.Helper()
		handler.Store(env.handler)
		status, err := sim.Deliver(ctx, id, sim.NewWebhookEvent("Loan", "update", "9f1e7c3a-1111-2222-3333-444455556666"))
		if err != nil {
			t.Fatal(err)
		}
		return status
	}
	probe := func(env *testEnv) int {
		t.Helper()
		handler.Store(env.handler)
		status, err := encompasstest.DeliverWebhook(ctx, nil, receiver.URL+"/webhooks/encompass", id, newKey, []byte(`{"webhookctl":"rotation probe"}`))
		if err != nil {
			t.Fatal(err)
		}
		return status
	}

	// Step 2: both keys in the secret, Encompass still on the old one.
	if s := deliver(both); s != 200 {
		t.Fatalf("old-key delivery to the two-key receiver: %d", s)
	}
	if s := probe(oldOnly); s != 401 {
		t.Fatalf("probe to a receiver without the new key: %d, want 401", s)
	}
	if s := probe(both); s != 400 {
		t.Fatalf("probe to a receiver with the new key: %d, want 400", s)
	}
	// Step 3: the PUT.
	sub, err := client.Webhooks.GetSubscription(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	sub.SigningKey = newKey
	if err := client.Webhooks.UpdateSubscription(ctx, id, *sub); err != nil {
		t.Fatal(err)
	}
	if s := deliver(both); s != 200 {
		t.Fatalf("new-key delivery to the two-key receiver: %d", s)
	}
	if s := deliver(oldOnly); s != 401 {
		t.Fatalf("new-key delivery to a receiver with only the old key: %d, want 401", s)
	}
	if n := len(both.published(t)); n != 2 {
		t.Fatalf("the two-key receiver published %d events, want 2 (the probe is never published)", n)
	}
	if n := len(oldOnly.published(t)); n != 0 {
		t.Fatalf("the old-key receiver published %d events", n)
	}
}
