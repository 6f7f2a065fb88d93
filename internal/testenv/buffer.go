package testenv

import (
	"bytes"
	"strings"
	"sync"
	"testing"
)

// Buffer is a goroutine-safe byte buffer: a sink for the logs and metrics
// that handlers write from many goroutines, and for a child process's
// output, which exec copies from a goroutine of its own.
type Buffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

// Write appends p.
func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

// String returns everything written so far.
func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// Tail returns the last n lines written so far.
func (b *Buffer) Tail(n int) string { return LastLines(b.String(), n) }

// Watch checks the buffer when t ends: the logs of a handler under test.
// Every secret leaked finds in them fails the test (leaked is usually the
// simulator's LeakedSecrets), and a failed test shows its last n lines.
func (b *Buffer) Watch(t testing.TB, leaked func(string) []string, n int) {
	t.Cleanup(func() {
		text := b.String()
		if t.Failed() {
			t.Logf("logs:\n%s", LastLines(text, n))
		}
		for _, leak := range leaked(text) {
			t.Errorf("%s appeared in the logs", leak)
		}
	})
}

// LastLines returns the last n lines of s.
func LastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
