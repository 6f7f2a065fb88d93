package encompass

import (
	"context"
	"errors"
	"fmt"
	"iter"
)

// Page is one page of a list.
type Page[T any] struct {
	Items []T
	// Total is the length of the whole list as the answer announced it, or
	// -1 when it did not (a bare v3 array, a SCIM answer without
	// totalResults).
	Total int
}

// PageFunc fetches the page of at most limit items that starts at the
// zero-based offset.
type PageFunc[T any] func(ctx context.Context, offset, limit int) (Page[T], error)

// PaginatorOptions configure a Paginator.
type PaginatorOptions struct {
	// Offset is the zero-based position of the first item to read: 0, or
	// the cursor of a listing taken up again.
	Offset int
	// Limit is the page size asked for.
	Limit int
	// EndAtShortPage says that a page shorter than Limit is the last one
	// (the v3 and settings lists). SCIM lists set it false: a SCIM server
	// may serve fewer items than asked, so only an empty page or the total
	// ends them.
	EndAtShortPage bool
	// InFlight is how many pages may be requested at once. 1 (the default)
	// requests each page when NextPage asks for it. More request the pages
	// after it ahead, in parallel, but only where the list is known to go
	// on: below the total the first page announced, or below ExpectedTotal
	// when the answers announce none. Beyond that, pages are requested one
	// at a time, so that a listing costs exactly the pages it needs.
	InFlight int
	// ExpectedTotal is the caller's estimate of the list's length (the
	// previous listing's count); 0 means none. When the list turns out
	// shorter, at most InFlight-1 pages past its end are requested in vain.
	ExpectedTotal int
	// MaxPages ends a listing with an error after this many pages: a guard
	// against a server that never ends a list. 0 means no limit.
	MaxPages int
}

// ErrNoMorePages is NextPage's error after the last page.
var ErrNoMorePages = errors.New("encompass: no more pages")

// Paginator reads a paged list one page at a time, in order, in the manner
// of the aws-sdk-go-v2 paginators:
//
//	p := client.Users.Paginator(encompass.ListUsersOptions{})
//	for p.HasMorePages() {
//		users, err := p.NextPage(ctx)
//		...
//	}
//
// Offset tells where the next page starts, so that a caller can record a
// cursor and take the listing up again later. With PaginatorOptions.InFlight
// above 1 it requests the following pages while the caller works on one.
// A Paginator is not safe for concurrent use.
type Paginator[T any] struct {
	fetch PageFunc[T]
	opts  PaginatorOptions

	next    int  // offset of the next page NextPage returns
	total   int  // the announced total, -1 while none was announced
	read    int  // pages NextPage has returned
	done    bool // nothing more to return: ended, failed or closed
	ended   bool // the list's last page was returned
	stopped bool
	// ahead are the pages requested and not yet returned, in offset order
	// and contiguous from next: page i starts at next + i*Limit.
	ahead []*pageRequest[T]
}

type pageRequest[T any] struct {
	cancel context.CancelFunc
	answer chan pageAnswer[T]
}

type pageAnswer[T any] struct {
	page Page[T]
	err  error
}

// NewPaginator returns a paginator over the pages fetch returns. A Limit of
// 0 or less is 1; an InFlight of 0 or less is 1.
func NewPaginator[T any](fetch PageFunc[T], opts PaginatorOptions, optFns ...func(*PaginatorOptions)) *Paginator[T] {
	for _, fn := range optFns {
		fn(&opts)
	}
	opts.Offset = max(opts.Offset, 0)
	opts.Limit = max(opts.Limit, 1)
	opts.InFlight = max(opts.InFlight, 1)
	return &Paginator[T]{fetch: fetch, opts: opts, next: opts.Offset, total: -1}
}

// HasMorePages reports whether NextPage has another page to return.
func (p *Paginator[T]) HasMorePages() bool {
	return !p.done && (!p.stopped || len(p.ahead) > 0)
}

// Offset is the zero-based position where the next page starts: after the
// last page, the number of items the listing went through (counted from 0,
// not from the starting Offset).
func (p *Paginator[T]) Offset() int { return p.next }

// Done reports whether the last page of the list was read (not merely the
// last one a stopped paginator had requested).
func (p *Paginator[T]) Done() bool { return p.ended }

// Stop makes the paginator request no more pages. HasMorePages stays true
// while pages it has already requested remain to be read: a caller short of
// time reads what it has paid for, and the listing still ends at a page
// boundary (Offset), with every item before it read.
func (p *Paginator[T]) Stop() { p.stopped = true }

// Close cancels the pages requested ahead and not read; HasMorePages is
// false afterwards. A caller that leaves a listing before its end calls it,
// so that no request outlives the listing.
func (p *Paginator[T]) Close() {
	p.done = true
	p.dropAhead()
}

// NextPage returns the next page. After an error the paginator is done.
func (p *Paginator[T]) NextPage(ctx context.Context) ([]T, error) {
	if !p.HasMorePages() {
		return nil, ErrNoMorePages
	}
	if p.opts.MaxPages > 0 && p.read >= p.opts.MaxPages {
		p.Close()
		return nil, fmt.Errorf("more than %d pages", p.opts.MaxPages)
	}
	p.request(ctx)
	req := p.ahead[0]
	p.ahead = p.ahead[1:]
	var ans pageAnswer[T]
	select {
	case ans = <-req.answer:
	case <-ctx.Done():
		ans.err = ctx.Err()
	}
	req.cancel()
	if ans.err != nil {
		p.Close()
		return nil, ans.err
	}
	p.read++
	items := ans.page.Items
	if ans.page.Total >= 0 {
		p.total = ans.page.Total
	}
	p.next += len(items)
	switch {
	case len(items) == 0, p.opts.EndAtShortPage && len(items) < p.opts.Limit, p.total >= 0 && p.next >= p.total:
		p.ended = true
		p.Close()
	case len(items) != p.opts.Limit:
		// The pages requested ahead assumed a full page here; their offsets
		// are wrong now, so they are dropped and asked for again.
		p.dropAhead()
	}
	return items, nil
}

// request starts the page at next if it is not requested yet, and, up to
// InFlight, the pages after it that are known (or expected) to exist.
func (p *Paginator[T]) request(ctx context.Context) {
	for len(p.ahead) == 0 || (!p.stopped && len(p.ahead) < p.opts.InFlight) {
		offset := p.next + len(p.ahead)*p.opts.Limit
		if len(p.ahead) > 0 {
			end := p.total
			if end < 0 {
				end = p.opts.ExpectedTotal
			}
			if offset >= end || (p.opts.MaxPages > 0 && p.read+len(p.ahead) >= p.opts.MaxPages) {
				return
			}
		}
		rctx, cancel := context.WithCancel(ctx)
		req := &pageRequest[T]{cancel: cancel, answer: make(chan pageAnswer[T], 1)}
		go func() {
			page, err := p.fetch(rctx, offset, p.opts.Limit)
			req.answer <- pageAnswer[T]{page, err}
		}()
		p.ahead = append(p.ahead, req)
	}
}

// dropAhead cancels the pages requested ahead. Their goroutines end on
// their own: each answer has room in its channel.
func (p *Paginator[T]) dropAhead() {
	for _, req := range p.ahead {
		req.cancel()
	}
	p.ahead = nil
}

// All returns an iterator over the items of every remaining page. An error
// is yielded once, as the last element; leaving the loop early closes the
// paginator.
func (p *Paginator[T]) All(ctx context.Context) iter.Seq2[T, error] {
	return func(yield func(T, error) bool) {
		defer p.Close()
		for p.HasMorePages() {
			page, err := p.NextPage(ctx)
			if err != nil {
				var zero T
				yield(zero, err)
				return
			}
			for _, item := range page {
				if !yield(item, nil) {
					return
				}
			}
		}
	}
}
