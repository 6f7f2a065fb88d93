package state_test

import (
	"context"
	"testing"
	"time"

	"github.com/lenderops/encompass-lifecycle/internal/testenv"
	"github.com/lenderops/encompass-lifecycle/pkg/state"
)

func TestMain(m *testing.M) { testenv.Main(m) }

func newStore(t *testing.T, opts ...state.Option) *state.Store {
	t.Helper()
	d := testenv.DynamoDB(t)
	return state.New(d.Client, d.CreateTable(t), opts...)
}

func TestSmoke(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	ok, err := s.ClaimEvent(ctx, "e1", "E1", time.Hour)
	if err != nil || !ok {
		t.Fatalf("claim: %v %v", ok, err)
	}
	if err := s.PutEmployee(ctx, state.Employee{EmployeeID: "E1", Status: state.StatusActive, LastOccurredAt: time.Now()}, 0); err != nil {
		t.Fatal(err)
	}
	e, found, err := s.GetEmployee(ctx, "E1")
	if err != nil || !found || e.Version != 1 {
		t.Fatalf("%+v %v %v", e, found, err)
	}
}
