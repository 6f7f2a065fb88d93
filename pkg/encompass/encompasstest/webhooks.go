package encompasstest

// subscription is a webhook subscription.
type subscription struct {
	ID string
}
