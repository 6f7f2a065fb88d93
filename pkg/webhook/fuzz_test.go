package webhook

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/lenderops/encompass-lifecycle/pkg/strictjson"
)

// FuzzVerifyAndDecode feeds signed bodies of any shape to the request path.
// Whatever the body, it never panics, every error is one of the three
// refusals, no error quotes a value of the body (the marker), and what is
// accepted is a JSON object whose exact keys hold the decoded eventId and
// names: what the receiver claims and routes on is what consumers read.
func FuzzVerifyAndDecode(f *testing.F) {
	for _, seed := range []string{
		string(loanDelivery("MARKER")),
		`{"eventId":"MARKER","eventType":"update","meta":{"resourceType":"Loan"}}`,
		`{"eventId":"a","eventType":"update","meta":{"resourceType":"Loan"},"eventId":"MARKER"}`,
		`{"eventId":"a","EventID":"MARKER","eventType":"update","meta":{"resourceType":"Loan"}}`,
		`{"eventId":"a","eventType":"MARKER x","meta":{"resourceType":"Loan"}}`,
		`{"eventId":"a","eventType":"update","meta":{"resourceType":"Loan","payload":{"MARKER":1,"MARKER":2}}}`,
		`{"eventId":"a\u0000","eventType":"update","meta":{"resourceType":"Loan"}}`,
		`{"eventId":"a","eventType":"update","meta":"MARKER"}`,
		`[{"eventId":"MARKER"}]`, `"MARKER"`, `null`, `{`, ``,
		// Layouts the walker must skip over exactly as encoding/json reads them.
		" { \"meta\" : { \"payload\" : \"}{\\\"]\" , \"resourceType\" : \"Loan\" } ,\n\t\"eventType\":\"update\", \"eventId\" : \"\\u0061\\\"\" } ",
		`{"x":-1.5e+5,"y":true,"z":null,"w":[{"eventId":"inner"},"]"],"eventId":"a","eventType":"update","meta":{"p":{"resourceType":"deep"},"resourceType":"Loan"}}`,
		`{"\u0065ventId":"a","eventType":"update","meta":{"resourceType":"Loan"}}`,
		`{"eventId":"a\ud800","eventType":"update","meta":{"resourceType":"Loan"}}`,
		"{\"eventId\":\"a\xff\",\"eventType\":\"update\",\"meta\":{\"resourceType\":\"Loan\"}}",
	} {
		f.Add([]byte(seed))
	}
	keys := FixedKeys(testKeys)
	f.Fuzz(func(t *testing.T, body []byte) {
		ev, err := verifyAndDecode(context.Background(), keys, testSubscription, sign(testKey, body), body)
		if err != nil {
			if !errors.Is(err, errMalformed) && !errors.Is(err, errEntryTooLarge) {
				t.Fatalf("unexpected refusal: %v", err)
			}
			// strictjson's errors name the path of a key; nothing else may
			// come from the body.
			msg := err.Error()
			var se *strictjson.Error
			if errors.As(err, &se) {
				msg = strings.ReplaceAll(msg, se.Path, "")
			}
			if strings.Contains(msg, "MARKER") {
				t.Fatalf("the error quotes a value of the body: %v", err)
			}
			return
		}
		var doc map[string]any
		if err := json.Unmarshal(body, &doc); err != nil {
			t.Fatalf("accepted a body that is not a JSON object: %v", err)
		}
		meta, _ := doc["meta"].(map[string]any)
		if doc["eventId"] != ev.EventID || doc["eventType"] != ev.EventType || meta == nil || meta["resourceType"] != ev.Meta.ResourceType {
			t.Fatalf("decoded %+v, consumers read eventId %v, eventType %v, meta %v", ev, doc["eventId"], doc["eventType"], doc["meta"])
		}
		if !plainName(ev.EventType) || !plainName(ev.Meta.ResourceType) || !printable(ev.EventID) {
			t.Fatalf("accepted names %q %q, eventId %q", ev.Meta.ResourceType, ev.EventType, ev.EventID)
		}
	})
}
