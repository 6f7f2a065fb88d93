package encompass

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/lenderops/encompass-lifecycle/pkg/encompass/encompasstest"
)

func TestPersonasListAndResolve(t *testing.T) {
	t.Parallel()
	tc := newSimClient(t, nil)
	ctx := context.Background()
	list, err := tc.Personas.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != len(tc.srv.Personas()) {
		t.Fatalf("listed %d personas, simulator has %d", len(list), len(tc.srv.Personas()))
	}
	ids, err := tc.Personas.Resolve(ctx, []string{"Loan Officer", "loan processor"})
	if err != nil {
		t.Fatal(err)
	}
	if ids["Loan Officer"] != "10" || ids["loan processor"] != "11" {
		t.Fatalf("%v", ids)
	}
	_, err = tc.Personas.Resolve(ctx, []string{"Loan Officer", "Astronaut"})
	var un *UnknownNamesError
	if !errors.As(err, &un) || !errors.Is(err, ErrNotFound) || IsRetryable(err) {
		t.Fatalf("err = %v", err)
	}
	if len(un.Unknown) != 1 || un.Unknown[0] != "Astronaut" || !strings.Contains(err.Error(), "Underwriter") {
		t.Fatalf("unknown-names error %v", err)
	}
	// Cached per client: one list call for List, one for all resolves.
	if n := tc.srv.Count("GET /encompass/v3/settings/personas"); n != 2 {
		t.Fatalf("persona list calls = %d, want 2", n)
	}
}

func TestPersonasPaging(t *testing.T) {
	t.Parallel()
	seed := encompasstest.DefaultSeed()
	for i := range 1500 {
		seed.Personas = append(seed.Personas, encompasstest.Persona{ID: fmt.Sprintf("p%04d", i), Name: fmt.Sprintf("Persona %d", i)})
	}
	tc := newSimClient(t, nil, encompasstest.WithSeed(seed))
	list, err := tc.Personas.List(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 1505 {
		t.Fatalf("listed %d personas", len(list))
	}
	if n := tc.srv.Count("GET /encompass/v3/settings/personas"); n != 2 {
		t.Fatalf("pages = %d, want 2", n)
	}
}

func TestOrganizationsListAndResolve(t *testing.T) {
	t.Parallel()
	tc := newSimClient(t, nil)
	ctx := context.Background()
	orgs, err := tc.Organizations.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(orgs) != 4 || orgs[1].ParentID != "0" {
		t.Fatalf("%+v", orgs)
	}
	var wg sync.WaitGroup
	for range 10 {
		wg.Go(func() {
			ids, err := tc.Organizations.Resolve(ctx, []string{"Administration", "PROCESSING"})
			if err != nil || ids["Administration"] != "0" || ids["PROCESSING"] != "2" {
				t.Errorf("%v %v", ids, err)
			}
		})
	}
	wg.Wait()
	if n := tc.srv.Count("GET /encompass/v1/organizations"); n != 2 {
		t.Fatalf("organization list calls = %d, want 2 (List + one cached resolve)", n)
	}
	if _, err := tc.Organizations.Resolve(ctx, []string{"Mars Branch"}); !errors.Is(err, ErrNotFound) {
		t.Fatalf("err = %v", err)
	}
}

func TestResolveRetriesAfterAFailedLoad(t *testing.T) {
	t.Parallel()
	tc := newSimClient(t, func(c *Config) { c.MaxAttempts = 1 })
	warm(t, tc)
	tc.srv.FailNext(1, 503, "GET /encompass/v1/organizations")
	if _, err := tc.Organizations.Resolve(context.Background(), []string{"Administration"}); !IsRetryable(err) {
		t.Fatalf("err = %v", err)
	}
	if _, err := tc.Organizations.Resolve(context.Background(), []string{"Administration"}); err != nil {
		t.Fatalf("a failed load was cached: %v", err)
	}
}
