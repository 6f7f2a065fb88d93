package testenv_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	smtypes "github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
	"github.com/aws/smithy-go"

	"github.com/lenderops/encompass-lifecycle/internal/testenv"
)

func TestMain(m *testing.M) {
	if os.Getenv("TESTENV_HELPER") == "start-and-hang" {
		url, _, err := testenv.StartDynalite(context.Background())
		if err != nil {
			fmt.Println("error", err)
			os.Exit(1)
		}
		fmt.Println(url)
		select {} // wait to be killed
	}
	testenv.Main(m)
}

func TestDynamoDBTablesAreSeparate(t *testing.T) {
	t.Parallel()
	d := testenv.DynamoDB(t)
	a, b := d.CreateTable(t), d.CreateTable(t)
	if a == b {
		t.Fatalf("same table name %q", a)
	}
	out, err := d.Client.DescribeTable(context.Background(), &dynamodb.DescribeTableInput{TableName: aws.String(a)})
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, k := range out.Table.KeySchema {
		keys = append(keys, aws.ToString(k.AttributeName)+":"+string(k.KeyType))
	}
	if strings.Join(keys, ",") != "pk:HASH,sk:RANGE" {
		t.Fatalf("key schema %v", keys)
	}
	if testenv.DynamoDB(t) != d {
		t.Fatal("second call started another server")
	}
}

// A test binary killed with SIGKILL leaves no dynalite behind.
func TestDynaliteDiesWithItsParent(t *testing.T) {
	t.Parallel()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "TESTENV_HELPER=start-and-hang")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "http://") {
		_ = cmd.Process.Kill()
		t.Fatalf("helper said %q (%v)", line, err)
	}
	url := strings.TrimSpace(line)
	if _, err := http.Post(url, "application/x-amz-json-1.0", nil); err != nil {
		t.Fatalf("dynalite not answering before kill: %v", err)
	}
	_ = cmd.Process.Kill()
	_ = cmd.Wait()
	host := strings.TrimPrefix(url, "http://")
	for i := 0; ; i++ {
		conn, err := net.DialTimeout("tcp", host, time.Second)
		if err != nil {
			return // gone
		}
		conn.Close()
		if i > 100 {
			t.Fatalf("dynalite at %s still answering after its parent died", url)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestStartDynaliteStop(t *testing.T) {
	t.Parallel()
	url, stop, err := testenv.StartDynalite(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	url2, stop2, err := testenv.StartDynalite(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer stop2()
	if url2 == url {
		t.Fatalf("two servers on one address %s", url)
	}
	c := testenv.NewDynamoDBClient(url)
	if _, err := c.ListTables(context.Background(), &dynamodb.ListTablesInput{}); err != nil {
		t.Fatal(err)
	}
	stop()
	stop() // idempotent
	if _, err := net.DialTimeout("tcp", strings.TrimPrefix(url, "http://"), time.Second); err == nil {
		t.Fatal("still listening after stop")
	}
}

func putEvents(t *testing.T, c *eventbridge.Client, entries ...ebtypes.PutEventsRequestEntry) (*eventbridge.PutEventsOutput, error) {
	t.Helper()
	return c.PutEvents(context.Background(), &eventbridge.PutEventsInput{Entries: entries})
}

func entry(detail string) ebtypes.PutEventsRequestEntry {
	return ebtypes.PutEventsRequestEntry{
		Source: aws.String("s"), DetailType: aws.String("T"), Detail: aws.String(detail), EventBusName: aws.String("bus"),
	}
}

func TestEventBridgeFakeValidates(t *testing.T) {
	t.Parallel()
	f := testenv.EventBridge(t)
	// Per-entry validation.
	noSource := entry(`{"a":1}`)
	noSource.Source = nil
	out, err := putEvents(t, f.Client, entry(`{"a":1}`), noSource, entry(`not json`), entry(`[1]`))
	if err != nil {
		t.Fatal(err)
	}
	codes := []string{}
	for _, e := range out.Entries {
		codes = append(codes, aws.ToString(e.ErrorCode))
	}
	if out.FailedEntryCount != 3 || strings.Join(codes, ",") != ",InvalidArgument,MalformedDetail,MalformedDetail" {
		t.Fatalf("failed %d codes %v", out.FailedEntryCount, codes)
	}
	if len(f.Events()) != 1 || f.Events()[0].EventBusName != "bus" || f.Count("T") != 1 {
		t.Fatalf("events %+v", f.Events())
	}

	// Request validation: 11 entries, over 256 KB, none.
	var eleven []ebtypes.PutEventsRequestEntry
	for range 11 {
		eleven = append(eleven, entry(`{}`))
	}
	big := entry(`{"x":"` + strings.Repeat("a", 200*1024) + `"}`)
	for name, entries := range map[string][]ebtypes.PutEventsRequestEntry{
		"eleven": eleven, "oversize": {big, big},
	} {
		_, err := putEvents(t, f.Client, entries...)
		var apiErr smithy.APIError
		if !errors.As(err, &apiErr) || apiErr.ErrorCode() != "ValidationException" {
			t.Errorf("%s: err = %v", name, err)
		}
	}
	if len(f.Events()) != 1 {
		t.Fatalf("rejected requests recorded events")
	}
}

func TestEventBridgeFakeFaults(t *testing.T) {
	t.Parallel()
	f := testenv.EventBridge(t)
	f.FailEntries(1, "ThrottlingException")
	out, err := putEvents(t, f.Client, entry(`{"n":1}`), entry(`{"n":2}`))
	if err != nil || out.FailedEntryCount != 1 || aws.ToString(out.Entries[0].ErrorCode) != "ThrottlingException" || out.Entries[1].EventId == nil {
		t.Fatalf("%+v %v", out, err)
	}
	f.FailRequests(5, 500)
	c := eventbridge.New(eventbridge.Options{Region: "us-east-1", Credentials: testenv.Credentials, BaseEndpoint: aws.String(f.URL), RetryMaxAttempts: 1})
	if _, err := putEvents(t, c, entry(`{}`)); err == nil {
		t.Fatal("injected 500 not seen")
	}
	if f.Calls() != 2 {
		t.Fatalf("calls %d", f.Calls())
	}
	f.Reset()
	if f.Calls() != 0 || len(f.Events()) != 0 {
		t.Fatal("reset kept state")
	}
	if _, err := putEvents(t, f.Client, entry(`{}`)); err != nil {
		t.Fatalf("after reset: %v", err)
	}
}

func TestSecretsManagerFake(t *testing.T) {
	t.Parallel()
	f := testenv.SecretsManager(t)
	f.Put("arn:aws:secretsmanager:us-east-1:1:secret:x", `{"k":"v"}`)
	out, err := f.Client.GetSecretValue(context.Background(), &secretsmanager.GetSecretValueInput{SecretId: aws.String("arn:aws:secretsmanager:us-east-1:1:secret:x")})
	if err != nil || aws.ToString(out.SecretString) != `{"k":"v"}` {
		t.Fatalf("%v %v", out, err)
	}
	_, err = f.Client.GetSecretValue(context.Background(), &secretsmanager.GetSecretValueInput{SecretId: aws.String("missing")})
	var nf *smtypes.ResourceNotFoundException
	if !errors.As(err, &nf) {
		t.Fatalf("missing secret: %v", err)
	}
	if f.Calls("arn:aws:secretsmanager:us-east-1:1:secret:x") != 1 || f.Calls("missing") != 1 {
		t.Fatal("calls not counted")
	}
}

// DynaliteCPU reads the emulator's CPU time, which grows with its work.
func TestDynaliteCPU(t *testing.T) {
	d := testenv.DynamoDB(t)
	table := d.CreateTable(t)
	before, err := testenv.DynaliteCPU(d.URL)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 300 {
		if _, err := d.Client.PutItem(context.Background(), &dynamodb.PutItemInput{TableName: &table, Item: map[string]ddbtypes.AttributeValue{
			"pk": &ddbtypes.AttributeValueMemberS{Value: fmt.Sprint(i)}, "sk": &ddbtypes.AttributeValueMemberS{Value: "x"}}}); err != nil {
			t.Fatal(err)
		}
	}
	after, err := testenv.DynaliteCPU(d.URL)
	if err != nil || after <= before {
		t.Fatalf("cpu %v -> %v, %v", before, after, err)
	}
	if _, err := testenv.DynaliteCPU("http://127.0.0.1:1"); err == nil {
		t.Fatal("an unknown dynalite has a cpu time")
	}
}
