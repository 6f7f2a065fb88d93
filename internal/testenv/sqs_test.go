package testenv_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/lenderops/encompass-lifecycle/internal/testenv"
)

func sqsEntry(i int, group, dedup string) types.SendMessageBatchRequestEntry {
	return types.SendMessageBatchRequestEntry{Id: aws.String(fmt.Sprint(i)), MessageBody: aws.String(fmt.Sprintf(`{"n":%d}`, i)),
		MessageGroupId: aws.String(group), MessageDeduplicationId: aws.String(dedup)}
}

// The fake applies SQS's FIFO rules through the real client: the
// deduplication window, per-entry refusals, whole-batch limits.
func TestSQSFakeSendMessageBatch(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := testenv.SQS(t)
	now := time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC)
	f.SetClock(func() time.Time { return now })
	q := f.AddQueue("hris.fifo", 0, nil)
	var handed []string
	f.OnSend(func(m testenv.SQSMessage) { handed = append(handed, m.DedupID) })

	out, err := f.Client.SendMessageBatch(ctx, &sqs.SendMessageBatchInput{QueueUrl: aws.String(q.URL), Entries: []types.SendMessageBatchRequestEntry{
		sqsEntry(0, "E1", "ev-1"), sqsEntry(1, "E2", "ev-2"), sqsEntry(2, "E 3", "ev-3"),
	}})
	if err != nil || len(out.Successful) != 2 || len(out.Failed) != 1 || *out.Failed[0].Id != "2" || !out.Failed[0].SenderFault {
		t.Fatalf("first batch: %+v %v", out, err)
	}
	// The same deduplication id within five minutes is accepted and dropped.
	out, err = f.Client.SendMessageBatch(ctx, &sqs.SendMessageBatchInput{QueueUrl: aws.String(q.URL), Entries: []types.SendMessageBatchRequestEntry{sqsEntry(0, "E1", "ev-1")}})
	if err != nil || len(out.Successful) != 1 || len(handed) != 2 {
		t.Fatalf("duplicate: %+v %v, handed %v", out, err, handed)
	}
	now = now.Add(testenv.SQSDeduplicationWindow)
	if _, err := f.Client.SendMessageBatch(ctx, &sqs.SendMessageBatchInput{QueueUrl: aws.String(q.URL), Entries: []types.SendMessageBatchRequestEntry{sqsEntry(0, "E1", "ev-1")}}); err != nil || len(handed) != 3 {
		t.Fatalf("after the window: %v, handed %v", err, handed)
	}
	if sent := f.Sent(); len(sent) != 4 || !sent[2].Duplicate || sent[3].Duplicate {
		t.Fatalf("sent = %+v", sent)
	}

	var eleven []types.SendMessageBatchRequestEntry
	for i := range 11 {
		eleven = append(eleven, sqsEntry(i, "E1", fmt.Sprint("x", i)))
	}
	if _, err := f.Client.SendMessageBatch(ctx, &sqs.SendMessageBatchInput{QueueUrl: aws.String(q.URL), Entries: eleven}); err == nil {
		t.Fatal("eleven entries accepted")
	}
	f.FailRequests("SendMessageBatch", 1)
	if _, err := f.Client.SendMessageBatch(ctx, &sqs.SendMessageBatchInput{QueueUrl: aws.String(q.URL), Entries: eleven[:1]},
		func(o *sqs.Options) { o.RetryMaxAttempts = 1 }); err == nil {
		t.Fatal("the injected failure did not fail")
	}
	f.FailEntries(func(m testenv.SQSMessage) string { return "InternalError" })
	out, err = f.Client.SendMessageBatch(ctx, &sqs.SendMessageBatchInput{QueueUrl: aws.String(q.URL), Entries: eleven[:2]})
	if err != nil || len(out.Failed) != 2 || out.Failed[0].SenderFault {
		t.Fatalf("entry faults: %+v %v", out, err)
	}
}
