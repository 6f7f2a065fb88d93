package encompass

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"strings"
	"testing"
)

const testKey = "Abcdefghijklmnopqrstuvwxyz012345!@#$"

func TestSignKnownVector(t *testing.T) {
	t.Parallel()
	// RFC 4231 test case 2: key "Jefe", data "what do ya want for nothing?".
	got := Sign("Jefe", []byte("what do ya want for nothing?"))
	want := base64.StdEncoding.EncodeToString(mustHex(t, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"))
	if got != want {
		t.Fatalf("Sign = %s, want %s", got, want)
	}
}

func mustHex(t *testing.T, s string) []byte {
	t.Helper()
	out := make([]byte, len(s)/2)
	for i := range out {
		var b byte
		for _, c := range s[2*i : 2*i+2] {
			b <<= 4
			switch {
			case c >= '0' && c <= '9':
				b |= byte(c - '0')
			case c >= 'a' && c <= 'f':
				b |= byte(c - 'a' + 10)
			default:
				t.Fatalf("bad hex %q", s)
			}
		}
		out[i] = b
	}
	return out
}

func TestVerify(t *testing.T) {
	t.Parallel()
	body := []byte(`{"eventId":"e1","eventType":"update","meta":{"resourceType":"Loan"}}`)
	keys := SigningKeys{"sub-1": {testKey}, "sub-2": {"old-key", testKey}, "sub-empty": {}}
	good := Sign(testKey, body)
	tests := []struct {
		name, sub, sig string
		body           []byte
		want           error
	}{
		{"valid", "sub-1", good, body, nil},
		{"valid with spaces", "sub-1", " " + good + " ", body, nil},
		{"rotation new key", "sub-2", good, body, nil},
		{"rotation old key", "sub-2", Sign("old-key", body), body, nil},
		{"unknown subscription", "sub-9", good, body, ErrUnknownSubscription},
		{"empty subscription", "", good, body, ErrUnknownSubscription},
		{"subscription without keys", "sub-empty", good, body, ErrUnknownSubscription},
		{"missing signature", "sub-1", "", body, ErrBadSignature},
		{"not base64", "sub-1", "%%%", body, ErrBadSignature},
		{"wrong length", "sub-1", base64.StdEncoding.EncodeToString([]byte("short")), body, ErrBadSignature},
		{"oversized", "sub-1", strings.Repeat("A", 10000), body, ErrBadSignature},
		{"tampered body", "sub-1", good, append([]byte(" "), body...), ErrBadSignature},
		{"other key", "sub-1", Sign("another-key", body), body, ErrBadSignature},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := keys.Verify(tt.sub, tt.body, tt.sig)
			if !errors.Is(err, tt.want) && !(err == nil && tt.want == nil) {
				t.Fatalf("Verify = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestVerifyErrorsNeverRevealKeys(t *testing.T) {
	t.Parallel()
	keys := SigningKeys{"s": {testKey}}
	err := keys.Verify("s", []byte("body"), Sign("wrong", []byte("body")))
	if err == nil || strings.Contains(err.Error(), testKey) {
		t.Fatalf("err = %v", err)
	}
	if strings.Contains(keys.String(), testKey) {
		t.Fatal("SigningKeys.String reveals a key")
	}
}

func TestParseSigningKeys(t *testing.T) {
	t.Parallel()
	k, err := ParseSigningKeys([]byte(`{"a":"k1","b":["k2","k3"]}`))
	if err != nil || len(k["a"]) != 1 || k["b"][1] != "k3" {
		t.Fatalf("%v %v", k, err)
	}
	for _, bad := range []string{``, `[]`, `{}`, `{"a":""}`, `{"a":[]}`, `{"a":[""]}`, `{"":"k"}`, `{"a":1}`, `{"a":{"k":"v"}}`, `{"a":"` + testKey + `",`} {
		_, err := ParseSigningKeys([]byte(bad))
		if err == nil {
			t.Errorf("%q accepted", bad)
			continue
		}
		if strings.Contains(err.Error(), testKey) {
			t.Errorf("error reveals key: %v", err)
		}
	}
}

func TestGenerateSigningKey(t *testing.T) {
	t.Parallel()
	seen := map[string]bool{}
	for range 200 {
		k, err := GenerateSigningKey()
		if err != nil {
			t.Fatal(err)
		}
		if !ValidSigningKey(k) {
			t.Fatalf("generated key %q breaks the policy", k)
		}
		if seen[k] {
			t.Fatal("duplicate key")
		}
		seen[k] = true
	}
	for _, bad := range []string{"short1A!", strings.Repeat("a", 40), "abcdefghijklmnopqrstuvwxyzABCDEF0123", "abcdefghijklmnopqrstuvwxyzABCDEF0123!~", strings.Repeat("aA1!", 17)} {
		if ValidSigningKey(bad) {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestParseWebhookEvent(t *testing.T) {
	t.Parallel()
	ev, err := ParseWebhookEvent([]byte(`{"eventId":"e1","eventTime":"2026-11-20T15:04:05Z","eventType":"update","meta":{"userId":"u","resourceType":"Loan","resourceId":"L1","instanceId":"BE1","resourceRef":"/loans/L1","payload":{"x":1}}}`))
	if err != nil || ev.DetailType() != "Loan update" || string(ev.Meta.Payload) != `{"x":1}` {
		t.Fatalf("%+v %v", ev, err)
	}
	for _, bad := range []string{``, `[]`, `{}`, `{"eventId":"e","eventType":"update"}`, `{"eventId":" ","eventType":"u","meta":{"resourceType":"Loan"}}`, `{"eventId":1}`} {
		if _, err := ParseWebhookEvent([]byte(bad)); !errors.Is(err, ErrBadPayload) {
			t.Errorf("%q: %v", bad, err)
		}
	}
}

// FuzzVerifySignature checks that Verify accepts exactly the signatures
// Sign produces, never panics, and never accepts a signature made with
// another key or over another body.
func FuzzVerifySignature(f *testing.F) {
	f.Add([]byte(`{"eventId":"e1"}`), testKey, "")
	f.Add([]byte{}, "k", "AAAA")
	f.Add([]byte("\x00\xff"), "Jefe", "W9zBRr9gdU5qBCQmCJV1x1oAPwidJzmDnexYuWTsOEM=")
	f.Add([]byte("x"), testKey, strings.Repeat("=", 44))
	f.Fuzz(func(t *testing.T, body []byte, key, sig string) {
		if key == "" {
			return
		}
		keys := SigningKeys{"s": {key}}
		// Arbitrary signatures: no panic; acceptance only if it is the MAC.
		if err := keys.Verify("s", body, sig); err == nil {
			m := hmac.New(sha256.New, []byte(key))
			m.Write(body)
			raw, derr := base64.StdEncoding.DecodeString(strings.TrimSpace(sig))
			if derr != nil || !hmac.Equal(raw, m.Sum(nil)) {
				t.Fatalf("accepted a wrong signature %q", sig)
			}
		}
		good := Sign(key, body)
		if err := keys.Verify("s", body, good); err != nil {
			t.Fatalf("rejected its own signature: %v", err)
		}
		if err := keys.Verify("other", body, good); !errors.Is(err, ErrUnknownSubscription) {
			t.Fatalf("unknown subscription: %v", err)
		}
		if err := (SigningKeys{"s": {key + "x"}}).Verify("s", body, good); !errors.Is(err, ErrBadSignature) {
			t.Fatalf("other key accepted: %v", err)
		}
		if err := keys.Verify("s", append(body, 'x'), good); !errors.Is(err, ErrBadSignature) {
			t.Fatalf("other body accepted: %v", err)
		}
	})
}
