package provisioning

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/lenderops/encompass-lifecycle/pkg/account"
	"github.com/lenderops/encompass-lifecycle/pkg/encompass"
	"github.com/lenderops/encompass-lifecycle/pkg/mapping"
)

// newSecrets are random passwords meeting Encompass's policy for what the
// plan sets one for (a user, or a DDA profile, who is or becomes not
// SSO-only; DDA takes passwords under the same rules), else empty. They are
// never logged, stored or published.
func newSecrets(plan account.Plan) (account.Secrets, error) {
	var s account.Secrets
	for _, want := range []struct {
		set bool
		to  *string
	}{{plan.SetPassword, &s.Password}, {plan.DDA.SetPassword, &s.DDAPassword}} {
		if !want.set {
			continue
		}
		p, err := mapping.GeneratePassword()
		if err != nil {
			return account.Secrets{}, fmt.Errorf("generate password: %w", err)
		}
		*want.to = p
	}
	return s, nil
}

// scrubSecrets keeps every generated password out of an error
// (scrubSecret).
func scrubSecrets(err error, s account.Secrets) error {
	for _, secret := range s.All() {
		err = scrubSecret(err, secret)
	}
	return err
}

// scrubSecret keeps a generated password out of an error: Encompass may quote
// the request it refuses ("password ... does not meet the policy"), and the
// error becomes a log line and a rejection event. The classification is kept:
// an *encompass.APIError is copied with the password redacted.
func scrubSecret(err error, secret string) error {
	if err == nil || secret == "" || !strings.Contains(err.Error(), secret) {
		return err
	}
	redact := func(s string) string { return strings.ReplaceAll(s, secret, "[REDACTED]") }
	out := &scrubbedError{msg: redact(err.Error()), inner: err}
	var api *encompass.APIError
	if errors.As(err, &api) {
		c := *api
		c.Code, c.Summary, c.Details = redact(c.Code), redact(c.Summary), redact(c.Details)
		out.inner = &c
	} else {
		// Nothing below may print the secret, so nothing below is exposed;
		// sentinel errors stay visible to errors.Is through a copy of their
		// identity only.
		out.inner = sentinelOf(err)
	}
	return out
}

// scrubbedError is an error whose message had a secret removed.
type scrubbedError struct {
	msg   string
	inner error
}

func (e *scrubbedError) Error() string { return e.msg }
func (e *scrubbedError) Unwrap() error { return e.inner }

// sentinelOf returns the first of the sentinels failure.Classify looks at
// that err matches, so that a scrubbed error is classified as the original
// was.
func sentinelOf(err error) error {
	for _, s := range []error{context.DeadlineExceeded, context.Canceled, encompass.ErrUnknownOutcome, encompass.ErrUnauthorized, encompass.ErrConflict, encompass.ErrNotFound} {
		if errors.Is(err, s) {
			return s
		}
	}
	return nil
}
