package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/url"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/lenderops/encompass-lifecycle/internal/testenv"
	"github.com/lenderops/encompass-lifecycle/pkg/coldstart"
	"github.com/lenderops/encompass-lifecycle/pkg/encompass/encompasstest"
	"github.com/lenderops/encompass-lifecycle/pkg/reconcile"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// The function wires the real clients from the environment (S3 path-style
// and SQS through their endpoint variables, queue URLs from the ARNs),
// reconciles, sends, reports and ends the invocation with its metrics.
func TestBuildAndHandle(t *testing.T) {
	sim := encompasstest.NewServer(t)
	env, eb := testenv.FunctionEnv(t, sim)
	s3 := testenv.S3(t)
	sqs := testenv.SQS(t)
	t.Setenv("AWS_ENDPOINT_URL_S3", s3.URL)
	t.Setenv("AWS_ENDPOINT_URL_SQS", sqs.URL)
	ctx := context.Background()
	if err := s3.CreateBucket(ctx, "lender-rosters", true); err != nil {
		t.Fatal(err)
	}
	prov := sqs.AddQueue("p.fifo", 0, nil)
	sqs.AddQueue("d.fifo", 0, nil)
	env["ROSTER_BUCKET"] = "lender-rosters"
	env["PROVISION_QUEUE_ARN"] = "arn:aws:sqs:us-east-1:" + testenv.SQSAccount + ":p.fifo"
	env["DEPROVISION_QUEUE_ARN"] = "arn:aws:sqs:us-east-1:" + testenv.SQSAccount + ":d.fifo"
	env["RECONCILE_IGNORE_LOGINS"] = "former*"
	var out bytes.Buffer
	handle, err := build(ctx, testenv.Getenv(env), &out, sim.Client())
	if err != nil {
		t.Fatal(err)
	}
	key := "rosters/apply/day one.csv"
	version, etag, err := s3.Put(ctx, "lender-rosters", key, []byte("employeeId,givenName,familyName,email,jobCode,status\n"+
		"E10002,Alex,Smith,alex.smith@lender.example,LO1,active\nE20001,Pat,Lee,pat.lee@lender.example,LO1,active\n"))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := handle(ctx, events.S3Event{Records: []events.S3EventRecord{{S3: events.S3Entity{
		Bucket: events.S3Bucket{Name: "lender-rosters"}, Object: events.S3Object{Key: url.QueryEscape(key), VersionID: version, ETag: etag},
	}}}})
	if err != nil || len(resp.Results) != 1 {
		t.Fatalf("%+v %v\n%s", resp, err, out.String())
	}
	res := resp.Results[0]
	if res.Sent != 2 || res.Counts[reconcile.ClassAdoptable] != 1 || res.Counts[reconcile.ClassMissing] != 1 {
		t.Fatalf("%+v", res)
	}
	// The API user (apiadmin) is told through SCIM: the orphans are the two
	// hand-made accounts the roster does not name.
	if res.Counts[reconcile.ClassOrphan] != 2 {
		t.Fatalf("orphans: %+v\n%s", res.Counts, out.String())
	}
	if sent := sqs.Sent(); len(sent) != 2 || sent[0].QueueURL != prov.URL {
		t.Fatalf("sent %+v", sent)
	}
	if evs := eb.Events(); len(evs) != 1 || evs[0].Source != "encompass.reconcile" {
		t.Fatalf("published %+v", evs)
	}
	if _, err := s3.Get(ctx, "lender-rosters", res.ReportKey); err != nil {
		t.Fatal(err)
	}
	// The invocation ends with its EMF lines: the function's, and one per
	// finding class (the leaver_enabled alarm's metric).
	var emf map[string]any
	classes := map[string]bool{}
	for _, l := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(l), &m) != nil || m["_aws"] == nil {
			continue
		}
		if c, ok := m["Class"].(string); ok {
			classes[c] = true
		} else {
			emf = m
		}
	}
	if emf["EventsSent"] != float64(2) || emf["SendMessageBatchCalls"] != float64(1) || len(classes) != len(reconcile.Classes) {
		t.Errorf("metrics %v, classes %v", emf, classes)
	}
	if leaks := sim.LeakedSecrets(out.String()); len(leaks) > 0 {
		t.Fatalf("logged: %v", leaks)
	}
}

// A missing or malformed variable stops the cold start with one message
// naming each.
func TestColdStartNamesBadVariables(t *testing.T) {
	sim := encompasstest.NewServer(t)
	env, _ := testenv.FunctionEnv(t, sim)
	env["PROVISION_QUEUE_ARN"] = "not-an-arn"
	delete(env, "DEPROVISION_QUEUE_ARN")
	var out bytes.Buffer
	_, err := build(context.Background(), testenv.Getenv(env), &out, sim.Client())
	if err == nil {
		t.Fatal("no error")
	}
	coldstart.Fail(&out, name, err)
	for _, v := range []string{"ROSTER_BUCKET", "PROVISION_QUEUE_ARN", "DEPROVISION_QUEUE_ARN"} {
		if !strings.Contains(out.String(), v) {
			t.Errorf("%s not named: %s", v, out.String())
		}
	}
}
