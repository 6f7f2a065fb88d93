package testenv

import (
	"bytes"
	"sync"
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
