// Package events holds the sample events of every function, for
// `sam local invoke -e events/<file>` and `make invoke EVENT=events/<file>`,
// and the documented test key the webhook samples are signed with.
//
// The files are generated: `go test ./events -update` rewrites them from
// events_test.go, which also checks that each one decodes into the event
// type its function takes.
package events

// The webhook samples are signed for this subscription with this key. It is
// a published test key, not a secret: a function accepts it only when
// WEBHOOK_SIGNING_KEYS (env.json, local runs) says so, never in AWS, where
// the keys come from the webhook secret.
const (
	WebhookTestSubscriptionID = "sample-subscription"
	WebhookTestSigningKey     = "SampleWebhookKey#ForLocalTestsOnly2026"
)
