package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/arn"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
)

// sqsAPI is the part of the SQS client redrive uses; *sqs.Client has it.
type sqsAPI interface {
	GetQueueUrl(ctx context.Context, in *sqs.GetQueueUrlInput, optFns ...func(*sqs.Options)) (*sqs.GetQueueUrlOutput, error)
	GetQueueAttributes(ctx context.Context, in *sqs.GetQueueAttributesInput, optFns ...func(*sqs.Options)) (*sqs.GetQueueAttributesOutput, error)
	StartMessageMoveTask(ctx context.Context, in *sqs.StartMessageMoveTaskInput, optFns ...func(*sqs.Options)) (*sqs.StartMessageMoveTaskOutput, error)
	ListMessageMoveTasks(ctx context.Context, in *sqs.ListMessageMoveTasksInput, optFns ...func(*sqs.Options)) (*sqs.ListMessageMoveTasksOutput, error)
}

// queueRef is a queue named by ARN or URL, with whichever is known.
type queueRef struct{ arn, url string }

// parseQueue reads a queue ARN (arn:aws:sqs:REGION:ACCOUNT:NAME) or URL
// (https://sqs.REGION.amazonaws.com/ACCOUNT/NAME, or a local endpoint's
// http://HOST:PORT/ACCOUNT/NAME). Anything else is a usage error.
func parseQueue(flagName, s string) (queueRef, error) {
	bad := func(why string) (queueRef, error) {
		return queueRef{}, fmt.Errorf("%w: -%s %q: %s; want a queue ARN (arn:aws:sqs:REGION:ACCOUNT:NAME) or URL (https://sqs.REGION.amazonaws.com/ACCOUNT/NAME)", errUsage, flagName, s, why)
	}
	if err := checkID("-"+flagName, s); err != nil {
		return queueRef{}, err
	}
	if strings.HasPrefix(s, "arn:") {
		a, err := arn.Parse(s)
		switch {
		case err != nil:
			return bad(err.Error())
		case a.Service != "sqs":
			return bad("not an SQS ARN (service " + a.Service + ")")
		case a.Region == "" || a.AccountID == "" || !validQueueName(a.Resource):
			return bad("region, account and queue name are all needed")
		}
		return queueRef{arn: s}, nil
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return bad("neither an ARN nor an http(s) URL")
	}
	parts := strings.Split(strings.Trim(u.Path, "/"), "/")
	if len(parts) != 2 || parts[0] == "" || !validQueueName(parts[1]) {
		return bad("the URL's path must be /ACCOUNT/QUEUE_NAME")
	}
	return queueRef{url: s}, nil
}

// validQueueName: 1 to 80 letters, digits, - and _, with .fifo for FIFO queues.
func validQueueName(n string) bool {
	base := strings.TrimSuffix(n, ".fifo")
	if base == "" || len(n) > 80 {
		return false
	}
	for _, r := range base {
		if !(r == '-' || r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
			return false
		}
	}
	return true
}

// resolve fills in the URL from the ARN or the ARN from the URL.
func resolve(ctx context.Context, c sqsAPI, q queueRef) (queueRef, error) {
	if q.url == "" {
		a, _ := arn.Parse(q.arn)
		out, err := c.GetQueueUrl(ctx, &sqs.GetQueueUrlInput{QueueName: aws.String(a.Resource), QueueOwnerAWSAccountId: aws.String(a.AccountID)})
		if err != nil {
			return q, fmt.Errorf("find the URL of %s: %w", q.arn, err)
		}
		q.url = aws.ToString(out.QueueUrl)
	}
	if q.arn == "" {
		out, err := c.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: aws.String(q.url), AttributeNames: []types.QueueAttributeName{types.QueueAttributeNameQueueArn}})
		if err != nil {
			return q, fmt.Errorf("find the ARN of %s: %w", q.url, err)
		}
		q.arn = out.Attributes[string(types.QueueAttributeNameQueueArn)]
		if q.arn == "" {
			return q, fmt.Errorf("SQS gave no ARN for %s", q.url)
		}
	}
	return q, nil
}

func runRedrive(ctx context.Context, d *deps, args []string) error {
	fs := newFlags("redrive", d)
	queueFlag := fs.String("queue", "", "the source queue whose dead-letter queue to move back: provision, deprovision ($PROVISION_QUEUE_ARN, $DEPROVISION_QUEUE_ARN), or an ARN or URL")
	dlqFlag := fs.String("dlq", "", "the dead-letter queue itself (ARN or URL), instead of -queue")
	apply := fs.Bool("apply", false, "start the move; without it nothing is moved")
	status := fs.Bool("status", false, "list the dead-letter queue's move tasks (ListMessageMoveTasks)")
	rate := fs.Int("max-per-second", 0, "messages moved per second (1-500; default: SQS's own pace)")
	if _, err := parse(fs, args, 0, ""); err != nil {
		return err
	}
	if *queueFlag == "" && *dlqFlag == "" {
		return fmt.Errorf("%w: redrive needs -queue (provision, deprovision, or a queue ARN or URL) or -dlq", errUsage)
	}
	if *rate != 0 && (*rate < 1 || *rate > 500) {
		return fmt.Errorf("%w: -max-per-second %d: SQS allows 1 to 500", errUsage, *rate)
	}
	if *status && *apply {
		return fmt.Errorf("%w: -status only reads; leave out -apply", errUsage)
	}
	var source, dlq queueRef
	var err error
	if *queueFlag != "" {
		name := *queueFlag
		switch name {
		case "provision", "deprovision":
			env := strings.ToUpper(name) + "_QUEUE_ARN"
			output := strings.ToUpper(name[:1]) + name[1:] + "QueueArn"
			if name = d.getenv(env); name == "" {
				return fmt.Errorf("%w: -queue %s: set %s (the stack's %s output)", errUsage, *queueFlag, env, output)
			}
		}
		if source, err = parseQueue("queue", name); err != nil {
			return err
		}
	}
	if *dlqFlag != "" {
		if dlq, err = parseQueue("dlq", *dlqFlag); err != nil {
			return err
		}
	}

	c, err := d.sqs(ctx)
	if err != nil {
		return err
	}
	if *queueFlag != "" {
		if source, err = resolve(ctx, c, source); err != nil {
			return err
		}
	}
	if *dlqFlag == "" {
		// The source queue's redrive policy names its dead-letter queue.
		out, err := c.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: aws.String(source.url),
			AttributeNames: []types.QueueAttributeName{types.QueueAttributeNameRedrivePolicy}})
		if err != nil {
			return fmt.Errorf("read the redrive policy of %s: %w", source.arn, err)
		}
		var policy struct {
			DeadLetterTargetArn string `json:"deadLetterTargetArn"`
		}
		raw := out.Attributes[string(types.QueueAttributeNameRedrivePolicy)]
		if raw == "" || json.Unmarshal([]byte(raw), &policy) != nil || policy.DeadLetterTargetArn == "" {
			return fmt.Errorf("%s has no dead-letter queue in its redrive policy; name one with -dlq", source.arn)
		}
		if dlq, err = parseQueue("dlq", policy.DeadLetterTargetArn); err != nil {
			return fmt.Errorf("the redrive policy of %s: %w", source.arn, err)
		}
	}
	if dlq, err = resolve(ctx, c, dlq); err != nil {
		return err
	}
	if *status {
		return moveStatus(ctx, c, d.stdout, dlq)
	}

	out, err := c.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: aws.String(dlq.url), AttributeNames: []types.QueueAttributeName{
		types.QueueAttributeNameApproximateNumberOfMessages, types.QueueAttributeNameApproximateNumberOfMessagesNotVisible}})
	if err != nil {
		return fmt.Errorf("count the messages of %s: %w", dlq.arn, err)
	}
	waiting, _ := strconv.Atoi(out.Attributes[string(types.QueueAttributeNameApproximateNumberOfMessages)])
	inFlight, _ := strconv.Atoi(out.Attributes[string(types.QueueAttributeNameApproximateNumberOfMessagesNotVisible)])
	dest := "the queues they came from"
	if source.arn != "" {
		dest = source.arn
	}
	fmt.Fprintf(d.stdout, "dead-letter queue  %s\n", dlq.arn)
	fmt.Fprintf(d.stdout, "messages           %d waiting, %d being read (approximate: ApproximateNumberOfMessages, ...NotVisible)\n", waiting, inFlight)
	fmt.Fprintf(d.stdout, "move to            %s\n", dest)
	switch {
	case !*apply:
		fmt.Fprintf(d.stdout, "dry run: nothing moved. Run again with -apply to move them through SQS's StartMessageMoveTask.\n")
		return nil
	case waiting == 0:
		fmt.Fprintf(d.stdout, "nothing to move: no move task started.\n")
		return nil
	}
	in := &sqs.StartMessageMoveTaskInput{SourceArn: aws.String(dlq.arn)}
	if source.arn != "" {
		in.DestinationArn = aws.String(source.arn)
	}
	if *rate > 0 {
		in.MaxNumberOfMessagesPerSecond = aws.Int32(int32(*rate))
	}
	started, err := c.StartMessageMoveTask(ctx, in)
	if err != nil {
		return fmt.Errorf("start the move from %s: %w", dlq.arn, err)
	}
	fmt.Fprintf(d.stdout, "move task started: %s\nfollow it with: lifecyclectl redrive -status -dlq %s\n", aws.ToString(started.TaskHandle), dlq.arn)
	return nil
}

// moveStatus lists the most recent move tasks of the dead-letter queue.
func moveStatus(ctx context.Context, c sqsAPI, w io.Writer, dlq queueRef) error {
	out, err := c.ListMessageMoveTasks(ctx, &sqs.ListMessageMoveTasksInput{SourceArn: aws.String(dlq.arn), MaxResults: aws.Int32(10)})
	if err != nil {
		return fmt.Errorf("list the move tasks of %s: %w", dlq.arn, err)
	}
	fmt.Fprintf(w, "dead-letter queue  %s\n", dlq.arn)
	if len(out.Results) == 0 {
		fmt.Fprintf(w, "no move tasks in the last 14 days\n")
		return nil
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "STATUS\tSTARTED\tMOVED\tTO MOVE\tPER SECOND\tDESTINATION\tFAILURE")
	for _, r := range out.Results {
		started := "-"
		if r.StartedTimestamp > 0 {
			started = time.UnixMilli(r.StartedTimestamp).UTC().Format(time.RFC3339)
		}
		rate, dest := "auto", "the queues they came from"
		if r.MaxNumberOfMessagesPerSecond != nil {
			rate = strconv.Itoa(int(*r.MaxNumberOfMessagesPerSecond))
		}
		if r.DestinationArn != nil {
			dest = *r.DestinationArn
		}
		toMove := "-"
		if r.ApproximateNumberOfMessagesToMove != nil {
			toMove = strconv.FormatInt(*r.ApproximateNumberOfMessagesToMove, 10)
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\t%s\t%s\n", aws.ToString(r.Status), started, r.ApproximateNumberOfMessagesMoved,
			toMove, rate, dest, dash(aws.ToString(r.FailureReason)))
	}
	return tw.Flush()
}
