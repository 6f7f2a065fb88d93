package testenv

import (
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
)

// SlowDynamoDB is a client of d whose every request takes latency longer: a
// proxy in front of dynalite waits before forwarding it. Benchmarks divide a
// path's time by latency to count the DynamoDB round trips it makes in
// series, whatever the machine's own speed.
func SlowDynamoDB(t testing.TB, d *Dynalite, latency time.Duration) *dynamodb.Client {
	t.Helper()
	target, err := url.Parse(d.URL)
	if err != nil {
		t.Fatal(err)
	}
	proxy := httputil.NewSingleHostReverseProxy(target)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-time.After(latency):
		case <-r.Context().Done():
			return
		}
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return dynamodb.New(d.Client.Options(), func(o *dynamodb.Options) { o.BaseEndpoint = aws.String(srv.URL) })
}
