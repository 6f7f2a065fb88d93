package webhook

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/lenderops/encompass-lifecycle/internal/testenv"
	"github.com/lenderops/encompass-lifecycle/pkg/config"
	"github.com/lenderops/encompass-lifecycle/pkg/encompass"
)

// BenchmarkVerifyAndDecode measures the CPU path of every delivery: HMAC over
// the raw body with the subscription's key, then decode and validate, for a
// 4 KiB loan delivery.
func BenchmarkVerifyAndDecode(b *testing.B) {
	benchVerifyAndDecode(b, FixedKeys(encompass.SigningKeys{testSubscription: {testKey}}))
}

// BenchmarkVerifyAndDecodeRotation is the same while a key is being rotated:
// every key of the subscription is checked, so the cost is one HMAC per key.
func BenchmarkVerifyAndDecodeRotation(b *testing.B) {
	benchVerifyAndDecode(b, FixedKeys(encompass.SigningKeys{testSubscription: {testRotatedKey, testKey}}))
}

// BenchmarkVerifyAndDecodeRefreshing is the Lambda's path: the keys of
// WEBHOOK_SECRET_ARN behind SecretKeys (an age check of config.Secrets's
// copy per delivery; no read while it is fresh).
func BenchmarkVerifyAndDecodeRefreshing(b *testing.B) {
	sm := testenv.SecretsManager(b)
	arn := uniqueARN("bench")
	sm.Put(arn, `{"`+testSubscription+`":"`+testKey+`"}`)
	secrets := config.NewSecrets(sm.Client, 0, nil)
	if _, err := secrets.Get(context.Background(), arn); err != nil { // the cold start's read
		b.Fatal(err)
	}
	benchVerifyAndDecode(b, SecretKeys(secrets, arn, encompass.SigningKeys{testSubscription: {testKey}}, nil))
	if n := sm.Calls(arn); n != 1 {
		b.Fatalf("the keys were read %d times while fresh, want only the cold start's read", n)
	}
}

func benchVerifyAndDecode(b *testing.B, keys Verifier) {
	body := fieldChangeDelivery("ev-bench", 4<<10)
	if len(body) != 4096 || !json.Valid(body) {
		b.Fatalf("payload %d bytes", len(body))
	}
	sig := sign(testKey, body)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		ev, err := verifyAndDecode(context.Background(), keys, testSubscription, sig, body)
		if err != nil || ev.EventID != "ev-bench" {
			b.Fatalf("%v %q", err, ev.EventID)
		}
	}
}

// fieldChangeDelivery is a realistic delivery of exactly size bytes: a loan
// fieldchange event whose meta.payload lists changed fields.
func fieldChangeDelivery(eventID string, size int) []byte {
	var changes bytes.Buffer
	for i := 0; changes.Len() < size-700; i++ {
		if i > 0 {
			changes.WriteByte(',')
		}
		fmt.Fprintf(&changes, `{"fieldId":"CX.LOAN.FIELD.%d","from":"value %d before","to":"value %d after"}`, 4000+i, i, i)
	}
	head := fmt.Sprintf(`{"eventId":%q,"eventTime":"2026-11-20T15:04:05Z","eventType":"fieldchange",`+
		`"meta":{"userId":"admin","resourceType":"Loan","resourceId":"9f1e7c3a-1111-2222-3333-444455556666",`+
		`"instanceId":"BE11140034","resourceRef":"/encompass/v3/loans/9f1e7c3a-1111-2222-3333-444455556666",`+
		`"payload":{"changes":[%s],"note":"`, eventID, changes.String())
	tail := `"}}}`
	return []byte(head + strings.Repeat("x", size-len(head)-len(tail)) + tail)
}
