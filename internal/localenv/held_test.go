package localenv

import (
	"os"
	"sync"
	"testing"
	"time"
)

// TestClockConcurrentMoves: moves of the clock from many goroutines at once
// each replace the file whole (no writer loses its temporary file to
// another), and the file ends with the offset of the last move.
func TestClockConcurrentMoves(t *testing.T) {
	t.Parallel()
	c, err := newClock(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	const movers = 64
	errs := make(chan error, movers)
	var wg sync.WaitGroup
	for range movers {
		wg.Go(func() {
			if err := c.Advance(time.Second); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	b, err := os.ReadFile(c.path)
	if err != nil {
		t.Fatal(err)
	}
	if want := (movers * time.Second).String() + "\n"; string(b) != want {
		t.Errorf("clock file holds %q, want %q", b, want)
	}
}
