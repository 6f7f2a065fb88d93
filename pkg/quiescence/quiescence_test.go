package quiescence_test

import (
	"context"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/lenderops/encompass-lifecycle/pkg/quiescence"
)

// Waiters are released only when every active item waits or has left.
func TestWaitersMeetWhenTheBatchIsQuiet(t *testing.T) {
	t.Parallel()
	g := quiescence.New()
	for range 3 {
		g.Enter()
	}
	var released atomic.Int32
	var wg sync.WaitGroup
	for range 2 {
		wg.Go(func() {
			if err := g.Wait(context.Background()); err != nil {
				t.Error(err)
			}
			released.Add(1)
		})
	}
	// Two of three wait: the third is still working.
	for g.Waiting() != 2 {
		runtime.Gosched()
	}
	if released.Load() != 0 {
		t.Fatal("released while an item was still working")
	}
	g.Leave() // the third finishes
	wg.Wait()
	if released.Load() != 2 {
		t.Fatalf("%d released", released.Load())
	}
	// A new moment: the two left their wait; one waits alone with two active.
	done := make(chan struct{})
	go func() { _ = g.Wait(context.Background()); close(done) }()
	for g.Waiting() != 1 {
		runtime.Gosched()
	}
	select {
	case <-done:
		t.Fatal("released with another item active")
	default:
	}
	g.Leave()
	<-done
}

// A waiter whose context ends stops waiting, and no longer counts.
func TestWaitEndsWithItsContext(t *testing.T) {
	t.Parallel()
	g := quiescence.New()
	g.Enter()
	g.Enter()
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error)
	go func() { errc <- g.Wait(ctx) }()
	for g.Waiting() != 1 {
		runtime.Gosched()
	}
	cancel()
	if err := <-errc; err == nil {
		t.Fatal("no error")
	}
	if g.Waiting() != 0 {
		t.Fatalf("waiting %d after the cancel", g.Waiting())
	}
	if quiescence.From(quiescence.With(context.Background(), g)) != g || quiescence.From(context.Background()) != nil {
		t.Fatal("context round trip")
	}
}
