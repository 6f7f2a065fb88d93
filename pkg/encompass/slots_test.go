package encompass

import (
	"context"
	"testing"
	"time"
)

// A request finishing work already begun (Urgent) gets the next free slot
// ahead of requests that start new work, whatever order they waited in;
// within a level, first come first served.
func TestSlotsServeUrgentFirst(t *testing.T) {
	t.Parallel()
	s := newSlots(1)
	if err := s.acquire(context.Background(), false); err != nil {
		t.Fatal(err)
	}
	order := make(chan string, 3)
	wait := func(name string, urgent bool) {
		go func() {
			if err := s.acquire(context.Background(), urgent); err != nil {
				t.Error(err)
				return
			}
			order <- name
			s.release()
		}()
	}
	waiters := func() int { s.mu.Lock(); defer s.mu.Unlock(); return len(s.urgent) + len(s.normal) }
	wait("new-1", false)
	for waiters() != 1 {
		time.Sleep(time.Millisecond)
	}
	wait("new-2", false)
	for waiters() != 2 {
		time.Sleep(time.Millisecond)
	}
	wait("finish", true)
	for waiters() != 3 {
		time.Sleep(time.Millisecond)
	}
	s.release()
	got := []string{<-order, <-order, <-order}
	if got[0] != "finish" || got[1] != "new-1" || got[2] != "new-2" {
		t.Fatalf("served %v, want finish, new-1, new-2", got)
	}
	free := func() int { s.mu.Lock(); defer s.mu.Unlock(); return s.free }
	for free() != 1 { // the last one releases after it reported
		time.Sleep(time.Millisecond)
	}
}

// A waiter that gives up leaves the queue; one that was handed a slot as it
// gave up hands it on, so no slot is lost.
func TestSlotsWaiterGivesUp(t *testing.T) {
	t.Parallel()
	s := newSlots(1)
	_ = s.acquire(context.Background(), false)
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error)
	go func() { errc <- s.acquire(ctx, false) }()
	for func() int { s.mu.Lock(); defer s.mu.Unlock(); return len(s.normal) }() != 1 {
		time.Sleep(time.Millisecond)
	}
	cancel()
	if err := <-errc; err == nil {
		t.Fatal("acquired after the cancel")
	}
	s.release()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.free != 1 || len(s.normal) != 0 {
		t.Fatalf("free %d, waiting %d", s.free, len(s.normal))
	}
}
