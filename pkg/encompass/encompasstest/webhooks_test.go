package encompasstest_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/lenderops/encompass-lifecycle/pkg/encompass/encompasstest"
)

const goodKey = "Abcdefghijklmnopqrstuvwxyz012345!"

func subBody(endpoint, keyField, key string) map[string]any {
	b := map[string]any{"endpoint": endpoint, "resource": "Loan", "events": []string{"update", "Create"}}
	if keyField != "" {
		b[keyField] = key
	}
	return b
}

func TestWebhookSubscriptionsCRUD(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	status, body, h := a.do("POST", "/webhook/v1/subscriptions", subBody("https://hooks.example.com/encompass", "signingkey", goodKey))
	if status != 201 || len(body) != 0 {
		t.Fatalf("create: %d %q (want 201 and no body)", status, body)
	}
	loc := h.Get("Location")
	id := loc[strings.LastIndex(loc, "/")+1:]
	if len(id) != 36 {
		t.Fatalf("Location %q", loc)
	}
	var got map[string]any
	a.must(200, "GET", "/webhook/v1/subscriptions/"+id, nil, &got)
	if got["subscriptionId"] != id || got["resource"] != "Loan" || fmt.Sprint(got["events"]) != "[update create]" {
		t.Fatalf("get: %v", got)
	}
	if strings.Contains(fmt.Sprint(got), goodKey) {
		t.Fatal("the signing key must never be answered")
	}
	if subs := a.srv.Subscriptions(); len(subs) != 1 || subs[0].SigningKey != goodKey {
		t.Fatalf("state %+v", subs)
	}
	var list []map[string]any
	a.must(200, "GET", "/webhook/v1/subscriptions", nil, &list)
	if len(list) != 1 {
		t.Fatalf("list %v", list)
	}
	// PUT without a key keeps the key.
	if status, b, _ := a.do("PUT", "/webhook/v1/subscriptions/"+id, subBody("https://hooks.example.com/v2", "", "")); status != 204 {
		t.Fatalf("put: %d %s", status, b)
	}
	if subs := a.srv.Subscriptions(); subs[0].Endpoint != "https://hooks.example.com/v2" || subs[0].SigningKey != goodKey {
		t.Fatalf("after put %+v", subs[0])
	}
	if status, _, _ := a.do("DELETE", "/webhook/v1/subscriptions/"+id, nil); status != 204 {
		t.Fatalf("delete: %d", status)
	}
	for _, m := range []string{"GET", "DELETE"} {
		if status, _, _ := a.do(m, "/webhook/v1/subscriptions/"+id, nil); status != 404 {
			t.Fatalf("%s after delete: %d", m, status)
		}
	}
	var res []map[string]any
	a.must(200, "GET", "/webhook/v1/resources", nil, &res)
	if len(res) == 0 || res[0]["name"] != "Loan" {
		t.Fatalf("resources %v", res)
	}
}

func TestWebhookSigningKeySpellingAndRules(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	// `signingKey` (camel case) is silently ignored: created without a key.
	status, _, _ := a.do("POST", "/webhook/v1/subscriptions", subBody("https://h.example.com/x", "signingKey", goodKey))
	if status != 201 {
		t.Fatalf("camel-case key: %d", status)
	}
	if subs := a.srv.Subscriptions(); subs[0].SigningKey != "" {
		t.Fatal("signingKey must be ignored")
	}
	tests := map[string]map[string]any{
		"short key":      subBody("https://h.example.com/x", "signingkey", "Aa1!"+strings.Repeat("x", 20)),
		"long key":       subBody("https://h.example.com/x", "signingkey", "Aa1!"+strings.Repeat("x", 61)),
		"no special":     subBody("https://h.example.com/x", "signingkey", "Abcdefghijklmnopqrstuvwxyz0123456"),
		"no upper":       subBody("https://h.example.com/x", "signingkey", "abcdefghijklmnopqrstuvwxyz012345!"),
		"no digit":       subBody("https://h.example.com/x", "signingkey", "Abcdefghijklmnopqrstuvwxyzabcdef!"),
		"bad special":    subBody("https://h.example.com/x", "signingkey", "Abcdefghijklmnopqrstuvwxyz01234%"),
		"http endpoint":  subBody("http://h.example.com/x", "signingkey", goodKey),
		"no endpoint":    subBody("", "signingkey", goodKey),
		"unknown event":  {"endpoint": "https://h.example.com/x", "resource": "Loan", "events": []string{"explode"}},
		"no events":      {"endpoint": "https://h.example.com/x", "resource": "Loan"},
		"bad resource":   {"endpoint": "https://h.example.com/x", "resource": "Boat", "events": []string{"create"}},
		"key not string": subBody("https://h.example.com/x", "signingkey", ""),
	}
	tests["key not string"]["signingkey"] = 42
	for name, body := range tests {
		if status, b, _ := a.do("POST", "/webhook/v1/subscriptions", body); status != 400 {
			t.Errorf("%s: %d %s", name, status, b)
		}
	}
	// At most 25 subscriptions.
	for i := len(a.srv.Subscriptions()); i < 25; i++ {
		if status, b, _ := a.do("POST", "/webhook/v1/subscriptions", subBody("https://h.example.com/x", "signingkey", goodKey)); status != 201 {
			t.Fatalf("subscription %d: %d %s", i, status, b)
		}
	}
	a.wantAPIError(400, "POST", "/webhook/v1/subscriptions", subBody("https://h.example.com/x", "signingkey", goodKey), "25")
}

func TestDeliverSignedWebhook(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var gotBody []byte
	var gotHeader http.Header
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		gotBody, gotHeader = b, r.Header.Clone()
		mu.Unlock()
		w.WriteHeader(http.StatusAccepted)
	}))
	defer receiver.Close()
	a := newAPI(t)
	_, _, h := a.do("POST", "/webhook/v1/subscriptions", subBody(receiver.URL+"/webhooks/encompass", "signingkey", goodKey))
	id := h.Get("Location")[strings.LastIndex(h.Get("Location"), "/")+1:]
	ev := a.srv.NewWebhookEvent("Loan", "Update", "loan-guid-1")
	status, err := a.srv.Deliver(context.Background(), id, ev)
	if err != nil || status != http.StatusAccepted {
		t.Fatalf("deliver: %d %v", status, err)
	}
	mu.Lock()
	defer mu.Unlock()
	m := hmac.New(sha256.New, []byte(goodKey))
	m.Write(gotBody)
	if want := base64.StdEncoding.EncodeToString(m.Sum(nil)); gotHeader.Get("Elli-Signature") != want {
		t.Fatalf("signature %q, want %q", gotHeader.Get("Elli-Signature"), want)
	}
	if gotHeader.Get("Elli-SubscriptionId") != id || gotHeader.Get("Elli-Environment") == "" {
		t.Fatalf("headers %v", gotHeader)
	}
	var d struct {
		EventID, EventTime, EventType string
		Meta                          map[string]any
	}
	if err := json.Unmarshal(gotBody, &d); err != nil || d.EventID == "" || d.EventType != "update" ||
		d.Meta["resourceType"] != "Loan" || d.Meta["instanceId"] != a.srv.InstanceID {
		t.Fatalf("delivery body %s", gotBody)
	}
	if _, err := a.srv.Deliver(context.Background(), "nope", ev); err == nil {
		t.Fatal("delivery to an unknown subscription must fail")
	}
	if encompasstest.SignWebhook(goodKey, gotBody) != gotHeader.Get("Elli-Signature") {
		t.Fatal("SignWebhook disagrees with the delivery")
	}
}
