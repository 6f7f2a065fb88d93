package encompass

import (
	"errors"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Encompass's rules for the values of a user record, from the SCIM schema
// reference (shared/reference 002). Callers validate input against them
// before a write, so that a value Encompass would refuse is reported with
// its field instead of as a 400 from the API.

// Field limits of a user record.
const (
	// MaxNameLength bounds first, middle and last names, suffix and job
	// title, in characters.
	MaxNameLength = 64
	// MaxEmployeeIDLength bounds Encompass's own employeeId field.
	MaxEmployeeIDLength = 10
	// MaxUserNameLength bounds a login id. The reference gives no limit; this
	// is a generous cap against hostile input, the same as the names'.
	MaxUserNameLength = 64
)

// ForbiddenUserNameChars are the characters Encompass refuses in a login id.
const ForbiddenUserNameChars = `\/:*?"<>`

// CheckUserName reports whether s is a login id Encompass accepts: not
// empty, no leading period, none of \ / : * ? " < >, no white space or control
// characters, at most MaxUserNameLength characters. The value is quoted in
// ASCII in the error, so an invisible character shows as an escape.
func CheckUserName(s string) error {
	if s == "" {
		return errors.New("must not be empty")
	}
	if strings.HasPrefix(s, ".") {
		return fmt.Errorf("%+q starts with a period, which Encompass does not allow in a login id", truncate(s, 80))
	}
	for _, r := range s {
		if strings.ContainsRune(ForbiddenUserNameChars, r) {
			return fmt.Errorf("%+q contains %q; Encompass login ids cannot contain any of \\ / : * ? \" < >", truncate(s, 80), r)
		}
		if unicode.IsSpace(r) || unicode.IsControl(r) {
			return fmt.Errorf("%+q contains a space or control character, which a login id cannot", truncate(s, 80))
		}
	}
	if n := utf8.RuneCountInString(s); n > MaxUserNameLength {
		return fmt.Errorf("is %d characters; at most %d are allowed", n, MaxUserNameLength)
	}
	return nil
}

// DeriveUserName builds a login id from an e-mail address: its local part,
// lower-cased, with the characters Encompass forbids, white space, control
// characters and leading periods removed. It fails when nothing valid is
// left.
func DeriveUserName(email string) (string, error) {
	at := strings.LastIndexByte(email, '@')
	if at < 0 {
		return "", fmt.Errorf("%+q has no @, so no login id can be derived from it", truncate(email, 80))
	}
	local := strings.ToLower(email[:at])
	local = strings.Trim(local, `"`) // a quoted local part
	u := strings.Map(func(r rune) rune {
		if strings.ContainsRune(ForbiddenUserNameChars, r) || unicode.IsSpace(r) || unicode.IsControl(r) {
			return -1
		}
		return r
	}, local)
	u = strings.TrimLeft(u, ".")
	if err := CheckUserName(u); err != nil {
		return "", fmt.Errorf("no valid login id can be derived from %+q (%w)", truncate(email, 80), err)
	}
	return u, nil
}

// licenseStatusTypes are the values of Encompass's licenseStatusType, keyed
// by their letters in lower case, so that "Approved Conditional" and
// "approved-conditional" both name ApprovedConditional.
var licenseStatusTypes = func() map[string]string {
	m := map[string]string{}
	for _, s := range strings.Fields(`TransitionRequested TransitionCancelled TransitionRejected
		PendingIncomplete PendingReview PendingDeficient PendingWithdrawRequested
		WithdrawnApplicationAbandoned WithdrawnVoluntaryWithoutLicensure Denied DeniedOnAppeal
		Approved ApprovedConditional ApprovedDeficient ApprovedFailedToRenew ApprovedInactive
		ApprovedOnAppeal ApprovedSurrenderOrCancellationRequested Revoked RevokedOnAppeal
		Suspended SuspendedOnAppeal TemporaryCeaseAndDesist TemporaryExpired TemporaryFailedtoRenew
		TerminatedOrderedToSurrender TerminatedSurrenderedOrCancelled`) {
		m[letters(s)] = s
	}
	return m
}()

// LicenseStatusType returns the Encompass licenseStatusType a status names,
// ignoring case, spaces and punctuation.
func LicenseStatusType(status string) (string, bool) {
	st, ok := licenseStatusTypes[letters(status)]
	return st, ok
}

// letters keeps the ASCII letters of s, lower-cased.
func letters(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z':
			return r
		case r >= 'A' && r <= 'Z':
			return r + 'a' - 'A'
		}
		return -1
	}, s)
}
