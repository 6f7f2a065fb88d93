package encompasstest_test

import (
	"encoding/json"
	"fmt"
	"testing"

	"github.com/lenderops/encompass-lifecycle/pkg/encompass/encompasstest"
)

// BenchmarkWithUsers100k measures building a simulator with 100,000 users.
func BenchmarkWithUsers100k(b *testing.B) {
	for b.Loop() {
		s := encompasstest.New(encompasstest.WithUsers(100000))
		if s.UserCount() < 100000 {
			b.Fatal("users missing")
		}
	}
}

// BenchmarkV3List100k lists 100,000 users through HTTP, 200 per page (500
// pages), the way the poller does; one op is one full listing.
func BenchmarkV3List100k(b *testing.B) {
	a := newAPI(b, encompasstest.WithSeed(encompasstest.Seed{
		Personas:      []encompasstest.Persona{{ID: "1", Name: "Loan Officer"}},
		Organizations: []encompasstest.Organization{{ID: "0", Name: "Administration"}},
	}), encompasstest.WithUsers(100000))
	b.ReportAllocs()
	for b.Loop() {
		n := 0
		for start := 0; ; start += 200 {
			_, body, _ := a.do("GET", fmt.Sprintf("/encompass/v3/users?start=%d&limit=200", start), nil)
			var page []json.RawMessage
			if err := json.Unmarshal(body, &page); err != nil {
				b.Fatal(err)
			}
			n += len(page)
			if len(page) < 200 {
				break
			}
		}
		if n != 100000 {
			b.Fatalf("listed %d", n)
		}
	}
}
