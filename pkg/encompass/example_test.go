package encompass_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/lenderops/encompass-lifecycle/pkg/encompass"
	"github.com/lenderops/encompass-lifecycle/pkg/encompass/encompasstest"
)

// The client against a local simulator: find a user, resolve a persona,
// and classify an error the way the Lambda handlers do.
func Example() {
	sim := encompasstest.New()
	if err := sim.Start("127.0.0.1:0"); err != nil {
		panic(err)
	}
	defer sim.Close()

	c, err := encompass.New(encompass.Config{
		BaseURL:    sim.URL,
		InstanceID: sim.InstanceID,
		ClientID:   sim.ClientID, ClientSecret: sim.ClientSecret,
		Username: sim.Username, Password: sim.Password,
	})
	if err != nil {
		panic(err)
	}
	ctx := context.Background()

	u, err := c.Users.FindByLoginID(ctx, "mjohnson")
	if err != nil {
		panic(err)
	}
	fmt.Println(u.LoginID, u.IsEnabled(), u.PersonaIDs())

	ids, err := c.Personas.Resolve(ctx, []string{"Loan Officer"})
	if err != nil {
		panic(err)
	}
	fmt.Println(ids["Loan Officer"])

	_, err = c.Users.Get(ctx, "nobody")
	fmt.Println(errors.Is(err, encompass.ErrNotFound), encompass.IsRetryable(err))
	// Output:
	// mjohnson true [10]
	// 10
	// true false
}

// Verifying a webhook delivery: the raw body, the Elli-SubscriptionId and
// the Elli-Signature header.
func ExampleSigningKeys_Verify() {
	keys, err := encompass.ParseSigningKeys([]byte(`{"sub-1": ["Old-Key-0123456789abcdefghijklmn!", "New-Key-0123456789abcdefghijklmn!"]}`))
	if err != nil {
		panic(err)
	}
	body := []byte(`{"eventId":"e1","eventType":"update","meta":{"resourceType":"Loan"}}`)
	sig := encompass.Sign("New-Key-0123456789abcdefghijklmn!", body)
	fmt.Println(keys.Verify("sub-1", body, sig))
	fmt.Println(keys.Verify("sub-2", body, sig))
	fmt.Println(keys.Verify("sub-1", append(body, ' '), sig))
	// Output:
	// <nil>
	// encompass: unknown webhook subscription
	// encompass: bad webhook signature
}
