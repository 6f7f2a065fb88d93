package main

import (
	"maps"
	"strings"
	"testing"
)

func TestParseBench(t *testing.T) {
	t.Parallel()
	out := `goos: linux
goarch: amd64
pkg: github.com/lenderops/encompass-lifecycle/functions/webhook
cpu: Some CPU
BenchmarkVerifyAndDecode-2   	   20000	      5210 ns/op	 786.20 MB/s	    1234 B/op	      12 allocs/op
BenchmarkListAllUsers100k-8  	       2	 912345678 ns/op	         502.0 api-calls/op	    100005 users/op	123456789 B/op	  400000 allocs/op
BenchmarkBroken-2            	 notanumber	 5 ns/op
BenchmarkOdd-2 10 5 ns/op extra
--- FAIL: BenchmarkX
PASS
ok  	github.com/lenderops/encompass-lifecycle/functions/webhook	1.234s
`
	got := parseBench("./pkg", strings.NewReader(out))
	if len(got) != 2 {
		t.Fatalf("parsed %d results, want 2: %+v", len(got), got)
	}
	tests := []struct {
		name    string
		n       int64
		metrics map[string]float64
	}{
		{"BenchmarkVerifyAndDecode", 20000, map[string]float64{"ns/op": 5210, "MB/s": 786.2, "B/op": 1234, "allocs/op": 12}},
		{"BenchmarkListAllUsers100k", 2, map[string]float64{"ns/op": 912345678, "api-calls/op": 502, "users/op": 100005, "B/op": 123456789, "allocs/op": 400000}},
	}
	for i, tt := range tests {
		if got[i].Name != tt.name || got[i].N != tt.n || !maps.Equal(got[i].Metrics, tt.metrics) {
			t.Errorf("result %d = %+v, want %s N=%d %v", i, got[i], tt.name, tt.n, tt.metrics)
		}
	}
	if r, ok := find(got, "./pkg", "ListAll"); !ok || r.Name != "BenchmarkListAllUsers100k" {
		t.Errorf("find ListAll = %+v %v", r, ok)
	}
	if _, ok := find(got, "./other", "ListAll"); ok {
		t.Error("find matched another package")
	}
}

func TestNS(t *testing.T) {
	t.Parallel()
	for v, want := range map[float64]string{12: "12 ns", 5210: "5.2 µs", 2.5e6: "2.5 ms", 3.25e9: "3.25 s"} {
		if got := ns(v); got != want {
			t.Errorf("ns(%v) = %q, want %q", v, got, want)
		}
	}
}

func TestThousands(t *testing.T) {
	t.Parallel()
	for n, want := range map[int]string{0: "0", 999: "999", 1000: "1,000", 100000: "100,000", 1234567: "1,234,567"} {
		if got := thousands(n); got != want {
			t.Errorf("thousands(%d) = %q, want %q", n, got, want)
		}
	}
}

func TestTenantLimitBound(t *testing.T) {
	for _, c := range []struct {
		m    map[string]float64
		want string
	}{
		{map[string]float64{"dynalite-cores": 1.02, "process-cores": 0.5, "machine-cores": 2, "encompass-slots-busy": 0.49}, "the DynamoDB emulator (dynalite, one Node process, 102% of a core"},
		{map[string]float64{"dynalite-cores": 0.83, "process-cores": 0.95, "machine-cores": 2, "encompass-slots-busy": 0.41}, "this machine's 2 cores (89% used: dynalite 0.83 cores, handlers and simulator 0.95"},
		{map[string]float64{"dynalite-cores": 0.3, "process-cores": 0.4, "machine-cores": 8, "encompass-slots-busy": 0.97}, "the Encompass slots (97% busy"},
		// Nothing at 85%: the busiest names the bound, not the slots by default.
		{map[string]float64{"dynalite-cores": 0.848, "process-cores": 0.6, "machine-cores": 2, "encompass-slots-busy": 0.48}, "the DynamoDB emulator (dynalite, one Node process, 85% of a core"},
	} {
		if got := tenantLimitBound(c.m); !strings.HasPrefix(got, c.want) {
			t.Errorf("tenantLimitBound(%v) = %q, want prefix %q", c.m, got, c.want)
		}
	}
}
