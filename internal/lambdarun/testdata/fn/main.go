// Command fn is a tiny real Lambda function for the runner's tests: it uses
// aws-lambda-go like the product's functions and misbehaves on request.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"
)

type event struct {
	Action string `json:"action"`
	Ms     int    `json:"ms"`
	Bytes  int    `json:"bytes"`
}

type reply struct {
	Count     int               `json:"count"`
	RequestID string            `json:"requestId"`
	Arn       string            `json:"arn"`
	Deadline  int64             `json:"deadlineMs"`
	Env       map[string]string `json:"env"`
	Blob      string            `json:"blob,omitempty"`
}

var (
	count int
	hold  [][]byte
)

func handle(ctx context.Context, e event) (any, error) {
	count++
	lc, _ := lambdacontext.FromContext(ctx)
	dl, _ := ctx.Deadline()
	fmt.Printf("handling %s #%d\n", e.Action, count)
	switch e.Action {
	case "error":
		return nil, errors.New("boom")
	case "panic":
		panic("kaboom")
	case "exit":
		os.Exit(3)
	case "sleep":
		time.Sleep(time.Duration(e.Ms) * time.Millisecond)
	case "raw":
		// A response of exactly e.Bytes bytes: a JSON string, quotes included.
		return json.RawMessage(`"` + strings.Repeat("r", e.Bytes-2) + `"`), nil
	case "alloc":
		// Hold e.Bytes of touched memory for e.Ms, as a leaky handler would.
		b := make([]byte, e.Bytes)
		for i := 0; i < len(b); i += 4096 {
			b[i] = 1
		}
		time.Sleep(time.Duration(e.Ms) * time.Millisecond)
		hold = append(hold, b)
		fmt.Printf("held %d bytes\n", len(b))
	}
	r := &reply{Count: count, RequestID: lc.AwsRequestID, Arn: lc.InvokedFunctionArn, Deadline: dl.UnixMilli(), Env: map[string]string{}}
	for _, kv := range os.Environ() {
		k, v, _ := strings.Cut(kv, "=")
		if k != "AWS_SECRET_ACCESS_KEY" {
			r.Env[k] = v
		}
	}
	if e.Action == "big" {
		r.Blob = strings.Repeat("x", e.Bytes)
	}
	return r, nil
}

func main() {
	fmt.Fprintln(os.Stderr, "init")
	switch os.Getenv("FAIL_INIT") {
	case "report":
		// What a runtime does when its set-up fails: report, then exit.
		url := "http://" + os.Getenv("AWS_LAMBDA_RUNTIME_API") + "/2018-06-01/runtime/init/error"
		req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(`{"errorMessage":"missing STATE_TABLE","errorType":"Config.Missing"}`))
		req.Header.Set("Lambda-Runtime-Function-Error-Type", "Config.Missing")
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
		}
		os.Exit(1)
	case "exit":
		fmt.Fprintln(os.Stderr, "config: STATE_TABLE is required")
		os.Exit(2)
	case "hang":
		time.Sleep(time.Hour)
	}
	lambda.Start(handle)
}
