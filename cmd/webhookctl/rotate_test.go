package main

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/lenderops/encompass-lifecycle/pkg/encompass"
)

// keyedReceiver answers like functions/webhook in the order of CONTRACTS
// section 4 (signature, then payload) with keys the test changes, as an
// operator changes the secret.
type keyedReceiver struct {
	mu   sync.Mutex
	keys encompass.SigningKeys
}

func (rc *keyedReceiver) set(id string, keys ...string) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.keys = encompass.SigningKeys{id: keys}
}

func (rc *keyedReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(io.LimitReader(r.Body, 256<<10))
	rc.mu.Lock()
	err := rc.keys.Verify(r.Header.Get(encompass.HeaderSubscriptionID), body, r.Header.Get(encompass.HeaderSignature))
	rc.mu.Unlock()
	if err != nil {
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	if _, err := encompass.ParseWebhookEvent(body); err != nil {
		w.WriteHeader(http.StatusBadRequest)
		return
	}
}

func TestRotate(t *testing.T) {
	sim := simEnv(t)
	rc := &keyedReceiver{}
	hook := httptest.NewServer(rc)
	t.Cleanup(hook.Close)
	dir := t.TempDir()
	oldFile, newFile := filepath.Join(dir, "old.json"), filepath.Join(dir, "new.json")

	r := ctl(t, "register", "-url", hook.URL+"/webhooks/encompass", "-key-file", oldFile)
	if r.code != 0 {
		t.Fatalf("register: exit %d: %s", r.code, r.stderr)
	}
	id, oldKey := readKeyFile(t, oldFile)
	rc.set(id, oldKey)
	deliver := func() int {
		t.Helper()
		status, err := sim.Deliver(context.Background(), id, sim.NewWebhookEvent("Loan", "update", "L1"))
		if err != nil {
			t.Fatal(err)
		}
		return status
	}
	if s := deliver(); s != http.StatusOK {
		t.Fatalf("delivery before the rotation: %d", s)
	}
	simKey := func() string { return sim.Subscriptions()[0].SigningKey }

	// Step 1: a new key, nothing sent to Encompass.
	sim.ResetRequests()
	r = ctl(t, "rotate", "-id", id, "-key-file", newFile)
	if r.code != 0 {
		t.Fatalf("rotate: exit %d: %s", r.code, r.stderr)
	}
	gotID, newKey := readKeyFile(t, newFile)
	if gotID != id || newKey == oldKey || !encompass.ValidSigningKey(newKey) {
		t.Fatalf("rotate wrote an entry for %q with a valid new key: %v", gotID, encompass.ValidSigningKey(newKey) && newKey != oldKey)
	}
	if strings.Contains(r.stdout+r.stderr, newKey) || strings.Contains(r.stdout+r.stderr, oldKey) {
		t.Error("rotate printed a key without -print-key")
	}
	if !strings.Contains(r.stdout, "next to the old one") || !strings.Contains(r.stdout, "-apply") {
		t.Errorf("rotate does not explain the next steps: %s", r.stdout)
	}
	if simKey() != oldKey || sim.Count("PUT /webhook/v1/subscriptions/{id}") != 0 {
		t.Fatal("rotate without -apply changed the subscription")
	}
	if s := deliver(); s != http.StatusOK {
		t.Fatalf("delivery after step 1: %d", s)
	}

	// Step 2 before the receiver holds the key: refused, nothing changed.
	r = ctl(t, "rotate", "-id", id, "-key-file", newFile, "-apply")
	if r.code != 1 || !strings.Contains(r.stderr, "401") {
		t.Fatalf("apply while the receiver lacks the key: exit %d: %s", r.code, r.stderr)
	}
	if simKey() != oldKey || sim.Count("PUT /webhook/v1/subscriptions/{id}") != 0 {
		t.Fatal("apply PUT a key the receiver does not hold")
	}

	// The operator adds the new key next to the old one: step 2 goes through.
	rc.set(id, oldKey, newKey)
	r = ctl(t, "rotate", "-id", id, "-key-file", newFile, "-apply")
	if r.code != 0 {
		t.Fatalf("apply: exit %d: %s", r.code, r.stderr)
	}
	if strings.Contains(r.stdout+r.stderr, newKey) {
		t.Error("apply printed the key")
	}
	subs := sim.Subscriptions()
	if len(subs) != 1 || subs[0].SigningKey != newKey || subs[0].Endpoint != hook.URL+"/webhooks/encompass" ||
		subs[0].Resource != "Loan" || strings.Join(subs[0].Events, ",") != "create,update,delete" {
		t.Fatalf("after apply the subscription is %v (new key: %v)", subs, len(subs) == 1 && subs[0].SigningKey == newKey)
	}
	// Deliveries are now signed with the new key: the two-key secret verifies
	// them, the old key alone would not.
	if s := deliver(); s != http.StatusOK {
		t.Fatalf("delivery signed with the new key, two-key secret: %d", s)
	}
	rc.set(id, oldKey)
	if s := deliver(); s != http.StatusUnauthorized {
		t.Fatalf("delivery signed with the new key accepted by the old key alone: %d", s)
	}
	// Step 4: the old key removed.
	rc.set(id, newKey)
	if s := deliver(); s != http.StatusOK {
		t.Fatalf("delivery after the old key was removed: %d", s)
	}
}

func TestRotatePrintKeyAndFailures(t *testing.T) {
	sim := simEnv(t)
	dir := t.TempDir()
	oldFile := filepath.Join(dir, "old.json")
	if r := ctl(t, "register", "-url", endpoint, "-key-file", oldFile); r.code != 0 {
		t.Fatalf("register: %s", r.stderr)
	}
	id, _ := readKeyFile(t, oldFile)

	r := ctl(t, "rotate", "-id", id, "-print-key")
	if r.code != 0 || strings.Count(r.stdout, "new signing key entry (shown once): {") != 1 {
		t.Fatalf("rotate -print-key: exit %d: %s", r.code, r.stderr)
	}

	// An unknown subscription: no key file left behind.
	missing := filepath.Join(dir, "missing.json")
	r = ctl(t, "rotate", "-id", "no-such-subscription", "-key-file", missing)
	if r.code != 1 {
		t.Fatalf("unknown subscription: exit %d", r.code)
	}
	if _, err := os.Stat(missing); !errors.Is(err, os.ErrNotExist) {
		t.Error("key file left behind for an unknown subscription")
	}

	bad := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	weak := "weak-secret-value"
	for _, tc := range []struct{ name, file, want string }{
		{"no such file", filepath.Join(dir, "absent.json"), "no such file"},
		{"not JSON", bad("notjson", "Secret-Not-Json-1234567890-ABCDEFGH!"), "not a"},
		{"other subscription", bad("other.json", `{"other-id":"Abcdefghijklmnopqrstuvwxyz0123456789!"}`), "no single entry"},
		{"two entries", bad("two.json", `{"`+id+`":"Abcdefghijklmnopqrstuvwxyz0123456789!","x":"y"}`), "no single entry"},
		{"weak key", bad("weak.json", `{"`+id+`":"`+weak+`"}`), "key policy"},
		{"oversized", bad("big.json", `{"`+id+`":"`+strings.Repeat("A", 8<<10)+`"}`), "larger than"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sim.ResetRequests()
			r := ctl(t, "rotate", "-id", id, "-key-file", tc.file, "-apply")
			if r.code != 1 || !strings.Contains(r.stderr, tc.want) {
				t.Fatalf("exit %d, stderr %q; want exit 1 mentioning %q", r.code, r.stderr, tc.want)
			}
			if strings.Contains(r.stderr, weak) || strings.Contains(r.stderr, "Secret-Not-Json") {
				t.Error("the error quotes the key file")
			}
			if len(sim.Requests()) != 0 {
				t.Errorf("a bad key file reached the API (%d requests)", len(sim.Requests()))
			}
		})
	}

	// The probe cannot reach the registered (fake) endpoint: nothing changes
	// unless the operator skips the probe.
	newFile := filepath.Join(dir, "new.json")
	if r := ctl(t, "rotate", "-id", id, "-key-file", newFile); r.code != 0 {
		t.Fatal(r.stderr)
	}
	_, newKey := readKeyFile(t, newFile)
	saved := probeClient
	probeClient = &http.Client{Transport: refuseTransport{}}
	t.Cleanup(func() { probeClient = saved })
	r = ctl(t, "rotate", "-id", id, "-key-file", newFile, "-apply")
	if r.code != 1 || !strings.Contains(r.stderr, "-probe=false") || sim.Subscriptions()[0].SigningKey == newKey {
		t.Fatalf("unreachable receiver: exit %d: %s", r.code, r.stderr)
	}
	r = ctl(t, "rotate", "-id", id, "-key-file", newFile, "-apply", "-probe=false")
	if r.code != 0 || sim.Subscriptions()[0].SigningKey != newKey {
		t.Fatalf("apply -probe=false: exit %d: %s", r.code, r.stderr)
	}
}

// refuseTransport fails every request, as an unreachable endpoint does.
type refuseTransport struct{}

func (refuseTransport) RoundTrip(*http.Request) (*http.Response, error) {
	return nil, errors.New("connection refused")
}
