package main

import (
	"fmt"
	"testing"
)

// BenchmarkVerifyAndDecode measures the CPU path of every delivery: HMAC over
// the raw body, then decode and validate, for a 4 KiB loan delivery.
func BenchmarkVerifyAndDecode(b *testing.B) {
	body := padTo(loanDelivery("ev-bench"), 4<<10)
	if len(body) != 4096 {
		b.Fatalf("payload %d bytes", len(body))
	}
	keys := benchKeys(b)
	sig := sign(testKey, body)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		d, err := VerifyAndDecode(keys, testSubscription, sig, body)
		if err != nil || d.EventID != "ev-bench" {
			b.Fatal(fmt.Sprint(err))
		}
	}
}
