package main

import "fmt"

// Concurrency is how the Encompass request budget is shared between the
// functions that call Encompass. The webhook function makes no Encompass
// calls and takes no share.
type Concurrency struct {
	// InFlight is each function instance's limit of Encompass requests in
	// flight (ENCOMPASS_MAX_IN_FLIGHT).
	InFlight int
	// Provision and Deprovision are the maximum concurrency of each queue's
	// event source mapping, and the functions' reserved concurrency.
	Provision   int
	Deprovision int
	// Poller is the poller's reserved concurrency: one poll at a time.
	Poller int
	// Reconcile is the reconcile function's reserved concurrency: one
	// roster at a time (it lists Encompass when the poller's snapshot is
	// not fresh).
	Reconcile int
}

// Requests is the most Encompass requests the stack can have in flight:
// every instance of every function at its in-flight limit.
func (c Concurrency) Requests() int {
	return (c.Provision + c.Deprovision + c.Poller + c.Reconcile) * c.InFlight
}

const (
	// minESMConcurrency is AWS's minimum for an SQS event source mapping's
	// maximum concurrency.
	minESMConcurrency = 2
	// pollerConcurrency is one: polls compare snapshots, two at once race.
	pollerConcurrency = 1
	// reconcileConcurrency is one: rosters are reconciled one at a time.
	reconcileConcurrency = 1
	// instancesPerInFlight sets how the budget is split between parallel
	// instances (different employees at once) and parallel requests inside
	// one instance: one more request per instance for every 8 of budget.
	instancesPerInFlight = 8
	// MinRequestBudget is the smallest budget that fits the AWS minimum of 2
	// per queue plus the poller and reconcile, each instance at one request
	// in flight.
	MinRequestBudget = 2*minESMConcurrency + pollerConcurrency + reconcileConcurrency
)

// PlanConcurrency derives every concurrency setting from one budget B of
// Encompass requests in flight:
//
//	inFlight    = max(1, B / 8)
//	instances   = B / inFlight            (whole instances that fit)
//	poller      = 1
//	reconcile   = 1
//	deprovision = ceil((instances-2) / 2) (leavers first)
//	provision   = (instances-2) - deprovision
//
// so that (provision + deprovision + poller + reconcile) * inFlight <= B.
// The default B = 24 gives inFlight 3, deprovision 3, provision 3, poller
// 1, reconcile 1: 24 requests.
func PlanConcurrency(budget int) (Concurrency, error) {
	if budget > TenantConcurrencyLimit {
		return Concurrency{}, fmt.Errorf("%d is above the Encompass tenant's limit of %d requests in flight (shared with every other caller of the tenant; leave them headroom)", budget, TenantConcurrencyLimit)
	}
	if budget < MinRequestBudget {
		return Concurrency{}, fmt.Errorf("%d is below %d: each queue's event source needs a maximum concurrency of at least %d (AWS minimum), the poller 1 and reconcile 1", budget, MinRequestBudget, minESMConcurrency)
	}
	inFlight := max(1, budget/instancesPerInFlight)
	workers := budget/inFlight - pollerConcurrency - reconcileConcurrency
	deprovision := (workers + 1) / 2
	c := Concurrency{
		InFlight:    inFlight,
		Deprovision: deprovision,
		Provision:   workers - deprovision,
		Poller:      pollerConcurrency,
		Reconcile:   reconcileConcurrency,
	}
	if c.Provision < minESMConcurrency || c.Requests() > budget {
		// Unreachable for budgets in range; kept so that a change to the
		// constants above cannot produce a plan that breaks the budget.
		return Concurrency{}, fmt.Errorf("%d cannot be shared: plan %+v needs %d", budget, c, c.Requests())
	}
	return c, nil
}
