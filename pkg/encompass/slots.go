package encompass

import (
	"context"
	"sync"
)

// slots bounds the requests in flight. A request that finishes work already
// begun (Urgent: the group PATCH of accounts just created, the read-back of
// an unknown outcome) is given the next free slot before a request that
// starts new work, so that a batch near its deadline completes the hires it
// began instead of starting more and finishing none.
type slots struct {
	mu     sync.Mutex
	free   int
	urgent []chan struct{} // waiters, first come first served within a level
	normal []chan struct{}
}

func newSlots(n int) *slots { return &slots{free: n} }

// acquire takes a slot, giving up with the context.
func (s *slots) acquire(ctx context.Context, urgent bool) error {
	s.mu.Lock()
	if s.free > 0 && len(s.urgent)+len(s.normal) == 0 {
		s.free--
		s.mu.Unlock()
		return nil
	}
	ready := make(chan struct{})
	if urgent {
		s.urgent = append(s.urgent, ready)
	} else {
		s.normal = append(s.normal, ready)
	}
	s.mu.Unlock()
	select {
	case <-ready:
		return nil
	case <-ctx.Done():
		s.mu.Lock()
		defer s.mu.Unlock()
		select {
		case <-ready:
			// Handed a slot meanwhile: give it to the next one.
			s.handOver()
		default:
			s.urgent = remove(s.urgent, ready)
			s.normal = remove(s.normal, ready)
		}
		return ctx.Err()
	}
}

// release returns a slot: to the first urgent waiter, else the first other
// waiter, else the pool.
func (s *slots) release() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.handOver()
}

// handOver gives one slot to the next waiter, or back to the pool. The
// caller holds s.mu.
func (s *slots) handOver() {
	switch {
	case len(s.urgent) > 0:
		close(s.urgent[0])
		s.urgent = s.urgent[1:]
	case len(s.normal) > 0:
		close(s.normal[0])
		s.normal = s.normal[1:]
	default:
		s.free++
	}
}

func remove(q []chan struct{}, c chan struct{}) []chan struct{} {
	for i, x := range q {
		if x == c {
			return append(q[:i:i], q[i+1:]...)
		}
	}
	return q
}

type urgentKey struct{}

// Urgent marks the calls made with ctx as finishing work already begun:
// they take the next free in-flight slot ahead of calls that start new work.
func Urgent(ctx context.Context) context.Context { return context.WithValue(ctx, urgentKey{}, true) }

func isUrgent(ctx context.Context) bool { v, _ := ctx.Value(urgentKey{}).(bool); return v }
