package lambdarun

import (
	"context"
	"testing"
)

// BenchmarkInvokeWarm measures the runner's own cost per invocation of a
// warm function that does nothing: Runtime API round trips and log capture.
func BenchmarkInvokeWarm(b *testing.B) {
	c, err := New(Config{Name: "BenchFunction", Bootstrap: testBootstrap})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	payload := []byte(`{"action":"noop"}`)
	if _, err := c.Invoke(context.Background(), payload); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		res, err := c.Invoke(context.Background(), payload)
		if err != nil || res.Error != nil || res.Cold {
			b.Fatalf("%v %v cold=%v", err, res.Error, res.Cold)
		}
	}
}

// BenchmarkColdStart measures process start to first response of the tiny
// aws-lambda-go function: the floor under every real function's cold start.
func BenchmarkColdStart(b *testing.B) {
	c, err := New(Config{Name: "BenchFunction", Bootstrap: testBootstrap})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	payload := []byte(`{"action":"noop"}`)
	var total float64
	for b.Loop() {
		c.Stop()
		res, err := c.Invoke(context.Background(), payload)
		if err != nil || res.Error != nil || !res.Cold {
			b.Fatalf("%v %v cold=%v", err, res.Error, res.Cold)
		}
		total += float64(res.ColdStart.Microseconds())
	}
	b.ReportMetric(total/float64(b.N), "cold-start-us")
}
