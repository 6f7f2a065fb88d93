package lambdarun

import (
	"strconv"
	"strings"
	"testing"
	"time"
)

// The memory size is enforced as Lambda enforces it: a function that goes
// over it is killed, its invocation fails with Runtime.OutOfMemory, and the
// next invocation starts a fresh process. (Linux only: the runner reads the
// peak resident memory from /proc.)
func TestMemorySizeIsEnforced(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		ms   int
	}{
		// Holds the memory for 30 s: the watcher kills it long before.
		{"killed while running", 30000},
		// Answers at once: if the watcher misses the spike, the peak is
		// caught when the answer arrives.
		{"answer after a spike", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := newContainer(t, func(c *Config) { c.MemoryMB = 128; c.Timeout = time.Minute })
			res := invoke(t, c, `{"action":"alloc","bytes":268435456,"ms":`+strconv.Itoa(tc.ms)+`}`)
			if res.Error == nil || res.Error.Type != "Runtime.OutOfMemory" || res.Payload != nil {
				t.Fatalf("error %+v payload %q; want Runtime.OutOfMemory and no answer", res.Error, res.Payload)
			}
			if res.MaxMemoryMB <= 128 || !strings.Contains(res.Error.Message, "memory size 128 MB") {
				t.Fatalf("max memory %d MB, message %q", res.MaxMemoryMB, res.Error.Message)
			}
			// A spike may be caught either way; a long hold must be killed
			// while the handler still runs.
			if tc.ms > 0 && strings.Contains(string(res.Logs), "held ") {
				t.Fatalf("the handler finished before it was killed:\n%s", res.Logs)
			}
			next := invoke(t, c, `{"action":"echo"}`)
			if r := decode(t, next); !next.Cold || r.Count != 1 {
				t.Fatalf("after the kill: cold=%v count=%d, want a fresh process", next.Cold, r.Count)
			}
		})
	}
}

func TestMemoryUnderTheSizeIsReported(t *testing.T) {
	t.Parallel()
	c := newContainer(t, func(c *Config) { c.MemoryMB = 256 })
	res := invoke(t, c, `{"action":"alloc","bytes":33554432}`)
	if res.Error != nil {
		t.Fatalf("32 MB in a 256 MB function: %+v", res.Error)
	}
	if res.MaxMemoryMB < 32 || res.MaxMemoryMB > 256 {
		t.Fatalf("max memory %d MB, want at least the 32 MB held", res.MaxMemoryMB)
	}
}
