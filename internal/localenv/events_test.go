package localenv

import (
	"encoding/json"
	"testing"

	"github.com/lenderops/encompass-lifecycle/pkg/encompass"
)

func TestSQSBatchCarriesFIFOAttributes(t *testing.T) {
	t.Parallel()
	ev := SQSBatch(ProvisionQueueARN,
		[]byte(`{"eventId":"hris-1","employee":{"employeeId":"E1"}}`),
		[]byte(`not json at all`),
	)
	if len(ev.Records) != 2 {
		t.Fatalf("%d records", len(ev.Records))
	}
	r := ev.Records[0]
	if r.Attributes["MessageGroupId"] != "E1" || r.Attributes["MessageDeduplicationId"] != "hris-1" || r.EventSourceARN != ProvisionQueueARN {
		t.Errorf("first record = %+v, want group E1, dedup hris-1, the provision queue", r)
	}
	if ev.Records[1].Body != "not json at all" || ev.Records[1].MessageId == r.MessageId {
		t.Errorf("malformed body not delivered as is, or message ids repeat: %+v", ev.Records[1])
	}
	if b, _ := json.Marshal(SQSBatch(ProvisionQueueARN)); string(b) != `{"Records":[]}` {
		t.Errorf("empty batch = %s", b)
	}
}

func TestWebhookRequestIsSigned(t *testing.T) {
	t.Parallel()
	key, err := encompass.GenerateSigningKey()
	if err != nil {
		t.Fatal(err)
	}
	body := []byte(`{"eventId":"e1","eventType":"update","meta":{"resourceType":"Loan"}}`)
	req := WebhookRequest(body, "sub", key)
	keys := encompass.SigningKeys{"sub": {key}}
	if err := keys.Verify(req.Headers["elli-subscriptionid"], []byte(req.Body), req.Headers["elli-signature"]); err != nil {
		t.Errorf("signature does not verify: %v", err)
	}
	if unsigned := WebhookRequest(body, "sub", ""); unsigned.Headers["elli-signature"] != "" {
		t.Error("a request without a key carries a signature")
	}
}
