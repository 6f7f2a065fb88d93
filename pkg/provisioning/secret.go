package provisioning

import (
	"errors"
	"fmt"
	"strings"

	"github.com/lenderops/encompass-lifecycle/pkg/account"
	"github.com/lenderops/encompass-lifecycle/pkg/encompass"
	"github.com/lenderops/encompass-lifecycle/pkg/failure"
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
// error becomes a log line and a rejection event. What decides the error's
// fate is kept: errors.Is still finds every sentinel and marker the
// original wraps (the directory's conflicts, failure.Classify's sentinels);
// a rejection and an *encompass.APIError are copied with the password
// redacted; and an error failure.Classify finds retryable by its type
// (failure.Transient, network errors) stays retryable.
func scrubSecret(err error, secret string) error {
	if err == nil || secret == "" || !strings.Contains(err.Error(), secret) {
		return err
	}
	redact := func(s string) string { return strings.ReplaceAll(s, secret, "[REDACTED]") }
	out := &scrubbedError{msg: redact(err.Error()), orig: err}
	var rj failure.Rejection
	if errors.As(err, &rj) {
		reason, field, msg := rj.Rejection()
		out.inner = append(out.inner, &rejection{Reason: reason, Field: field, Message: redact(msg)})
	}
	var api *encompass.APIError
	if errors.As(err, &api) {
		c := *api
		c.Code, c.Summary, c.Details = redact(c.Code), redact(c.Summary), redact(c.Details)
		out.inner = append(out.inner, &c)
	}
	if failure.Classify(err).Kind == failure.Retryable {
		out.inner = append(out.inner, failure.Transient(out.msg))
	}
	return out
}

// scrubbedError is an error whose message had a secret removed. Nothing it
// unwraps to may print the secret, so the original is not among them: it
// only answers errors.Is (a yes or no, which prints nothing).
type scrubbedError struct {
	msg   string
	inner []error
	orig  error
}

func (e *scrubbedError) Error() string        { return e.msg }
func (e *scrubbedError) Unwrap() []error      { return e.inner }
func (e *scrubbedError) Is(target error) bool { return errors.Is(e.orig, target) }
