// Package quiescence lets the concurrent work items of one batch meet: an
// item can wait until every other item of the batch is either finished or
// waiting too, so that what they all need (the group joins of a batch of
// hires) is done once, for all of them, instead of once each.
//
// pkg/sqsbatch enters each message's work into the batch's Group and puts
// the Group in the work's context; the SCIM group joiner
// (pkg/encompass/directory) waits on it. Neither knows the other.
package quiescence

import (
	"context"
	"sync"
)

// Group tracks the work items of one batch. The zero value is not usable;
// use New.
type Group struct {
	mu      sync.Mutex
	active  int           // items entered and not left
	waiting int           // active items inside Wait
	quiet   chan struct{} // closed when every active item waits; then replaced
}

// New returns an empty Group.
func New() *Group { return &Group{quiet: make(chan struct{})} }

// Enter counts one more running item.
func (g *Group) Enter() {
	g.mu.Lock()
	g.active++
	g.mu.Unlock()
}

// Leave counts an item as finished; the others may now be all waiting.
func (g *Group) Leave() {
	g.mu.Lock()
	g.active--
	g.check()
	g.mu.Unlock()
}

// Wait blocks the calling item until every active item of the batch waits
// (or has left), or ctx ends. It returns ctx's error in the second case.
// Every waiter of one quiet moment returns together.
func (g *Group) Wait(ctx context.Context) error {
	g.mu.Lock()
	g.waiting++
	quiet := g.quiet
	g.check()
	g.mu.Unlock()
	select {
	case <-quiet:
		return nil
	case <-ctx.Done():
		g.mu.Lock()
		// Still counted unless the quiet moment came meanwhile.
		select {
		case <-quiet:
		default:
			g.waiting--
		}
		g.mu.Unlock()
		return ctx.Err()
	}
}

// check releases the waiters when every active item waits. The caller
// holds g.mu.
func (g *Group) check() {
	if g.waiting > 0 && g.waiting >= g.active {
		close(g.quiet)
		g.quiet = make(chan struct{})
		g.waiting = 0
	}
}

type key struct{}

// With returns ctx carrying g.
func With(ctx context.Context, g *Group) context.Context { return context.WithValue(ctx, key{}, g) }

// From returns the Group in ctx, or nil outside a batch.
func From(ctx context.Context) *Group {
	g, _ := ctx.Value(key{}).(*Group)
	return g
}

// Waiting reports how many items wait now (tests, diagnostics).
func (g *Group) Waiting() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.waiting
}
