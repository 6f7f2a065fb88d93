package localenv

import (
	"encoding/json"
	"fmt"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/lenderops/encompass-lifecycle/internal/testenv"
	"github.com/lenderops/encompass-lifecycle/pkg/encompass"
)

// Queue ARNs of the two FIFO queues, as the stack names them (the values
// testenv.FunctionEnv configures).
const (
	ProvisionQueueARN   = testenv.ProvisionQueueARN
	DeprovisionQueueARN = testenv.DeprovisionQueueARN
)

var messageSeq atomic.Int64

// SQSBatch wraps HRIS event bodies in the SQS event a FIFO queue delivers:
// MessageGroupId is the body's employeeId and MessageDeduplicationId its
// eventId, as the producer is told to set them (CONTRACTS section 1). Bodies
// that are not HRIS JSON are delivered as they are, which is how a bad
// producer's message arrives.
func SQSBatch(queueARN string, bodies ...[]byte) events.SQSEvent {
	ev := events.SQSEvent{Records: make([]events.SQSMessage, 0, len(bodies))}
	for _, body := range bodies {
		var probe struct {
			EventID  string `json:"eventId"`
			Employee struct {
				EmployeeID string `json:"employeeId"`
			} `json:"employee"`
		}
		json.Unmarshal(body, &probe) //nolint:errcheck // malformed bodies are delivered as is
		group := probe.Employee.EmployeeID
		if group == "" {
			group = "unknown"
		}
		ev.Records = append(ev.Records, sqsRecord(queueARN, "", string(body), group, probe.EventID, time.Now()))
	}
	return ev
}

// sqsRecord is one message as a FIFO queue hands it to the function it
// feeds, sent at sent with the group and deduplication ids its sender set:
// a fresh receipt handle and sequence number, received once, and messageID,
// or a fresh one when it is empty.
func sqsRecord(queueARN, messageID, body, group, dedup string, sent time.Time) events.SQSMessage {
	n := messageSeq.Add(1)
	if messageID == "" {
		messageID = fmt.Sprintf("00000000-0000-4000-8000-%012d", n)
	}
	ms := strconv.FormatInt(sent.UnixMilli(), 10)
	return events.SQSMessage{
		MessageId:     messageID,
		ReceiptHandle: "local-" + strconv.FormatInt(n, 10),
		Body:          body,
		Attributes: map[string]string{
			"ApproximateReceiveCount":          "1",
			"SentTimestamp":                    ms,
			"MessageGroupId":                   group,
			"MessageDeduplicationId":           dedup,
			"SequenceNumber":                   strconv.FormatInt(n, 10),
			"ApproximateFirstReceiveTimestamp": ms,
		},
		EventSource:    "aws:sqs",
		EventSourceARN: queueARN,
		AWSRegion:      "us-east-1",
	}
}

// Schedule is the EventBridge scheduled event that triggers the poller.
func Schedule(at time.Time) events.EventBridgeEvent {
	return events.EventBridgeEvent{
		Version:    "0",
		ID:         fmt.Sprintf("schedule-%d", at.UnixNano()),
		DetailType: "Scheduled Event",
		Source:     "aws.events",
		AccountID:  "000000000000",
		Time:       at.UTC(),
		Region:     "us-east-1",
		Resources:  []string{"arn:aws:events:us-east-1:000000000000:rule/encompass-poller"},
		Detail:     json.RawMessage(`{}`),
	}
}

// WebhookRequest is the API Gateway HTTP API (payload 2.0) request for a
// webhook delivery of body signed with key; an empty key sends no signature.
func WebhookRequest(body []byte, subscriptionID, key string) events.APIGatewayV2HTTPRequest {
	headers := map[string]string{
		"content-type":        "application/json",
		"elli-subscriptionid": subscriptionID,
		"elli-environment":    "prod",
		"user-agent":          "Encompass-Webhook",
		"content-length":      strconv.Itoa(len(body)),
		"x-forwarded-proto":   "https",
	}
	if key != "" {
		headers["elli-signature"] = encompass.Sign(key, body)
	}
	return events.APIGatewayV2HTTPRequest{
		Version:  "2.0",
		RouteKey: "POST /webhooks/encompass",
		RawPath:  "/webhooks/encompass",
		Headers:  headers,
		Body:     string(body),
		RequestContext: events.APIGatewayV2HTTPRequestContext{
			APIID:      "local",
			Stage:      "$default",
			RequestID:  fmt.Sprintf("local-%d", messageSeq.Add(1)),
			DomainName: "local.execute-api.us-east-1.amazonaws.com",
			HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{
				Method:   "POST",
				Path:     "/webhooks/encompass",
				Protocol: "HTTP/1.1",
				SourceIP: "127.0.0.1",
			},
			TimeEpoch: time.Now().UnixMilli(),
		},
	}
}
