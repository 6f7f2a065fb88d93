package encompasstest

import (
	"errors"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Field limits from the SCIM schema document (002); v3 applies the same
// limits because both write the same user record.
const (
	maxNameLen       = 64
	maxTitleLen      = 64
	maxEmployeeIDLen = 10
	maxChumIDLen     = 10
	maxPasswordLen   = 50
	minPasswordLen   = 8
	maxUserNameLen   = 64 // not documented; a generous cap against hostile input
	maxEmailLen      = 254
	maxFreeTextLen   = 256
)

// checkUserName applies Encompass's login id rules: no leading period and
// none of \ / : * ? " < >.
func checkUserName(name string) error {
	switch {
	case name == "":
		return errors.New("userName is required")
	case strings.HasPrefix(name, "."):
		return errors.New("userName cannot start with a period")
	case strings.ContainsAny(name, `\/:*?"<>`):
		return errors.New(`userName cannot contain \ / : * ? " < >`)
	case utf8.RuneCountInString(name) > maxUserNameLen:
		return fmt.Errorf("userName cannot be longer than %d characters", maxUserNameLen)
	case strings.ContainsFunc(name, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }):
		return errors.New("userName cannot contain spaces or control characters")
	}
	return nil
}

// checkLen reports a field longer than max characters.
func checkLen(field, v string, max int) error {
	if utf8.RuneCountInString(v) > max {
		return fmt.Errorf("%s cannot be longer than %d characters", field, max)
	}
	if strings.ContainsFunc(v, unicode.IsControl) {
		return fmt.Errorf("%s cannot contain control characters", field)
	}
	return nil
}

// checkPhone accepts the stored Encompass form only: ###-###-#### with an
// optional space and 1-4 digit extension. This is what v3 expects.
func checkPhone(field, v string) error {
	if v == "" || isEncompassPhone(v) {
		return nil
	}
	return fmt.Errorf("%s must be a 10 digit phone number in the format ###-###-#### with an optional 1-4 digit extension", field)
}

func isEncompassPhone(v string) bool {
	main, ext, hasExt := strings.Cut(v, " ")
	if len(main) != 12 || main[3] != '-' || main[7] != '-' {
		return false
	}
	if !allDigits(main[0:3]) || !allDigits(main[4:7]) || !allDigits(main[8:12]) {
		return false
	}
	if hasExt && (len(ext) < 1 || len(ext) > 4 || !allDigits(ext)) {
		return false
	}
	return true
}

// normalizePhone turns what SCIM accepts ("1234562904 2345",
// "(123) 456-2904 12", "123.456.2904", "+1 123 456 2904") into
// ###-###-#### [####], as the SCIM service does before storing. The
// extension is a last space-separated group of 1-4 digits.
func normalizePhone(field, v string) (string, error) {
	v = strings.TrimSpace(v)
	if v == "" {
		return "", nil
	}
	bad := checkPhone(field, "x")
	if len(v) > 64 {
		return "", bad
	}
	main, ext := v, ""
	if i := strings.LastIndexByte(v, ' '); i > 0 {
		if tail := v[i+1:]; len(tail) <= 4 && allDigits(tail) {
			if d, ok := phoneDigits(v[:i]); ok && len(d) == 10 {
				main, ext = v[:i], tail
			}
		}
	}
	digits, ok := phoneDigits(main)
	if !ok || len(digits) != 10 {
		return "", bad
	}
	out := digits[0:3] + "-" + digits[3:6] + "-" + digits[6:10]
	if ext != "" {
		out += " " + ext
	}
	return out, nil
}

// phoneDigits keeps the digits of a number written with spaces, dashes,
// dots, parentheses and an optional leading +1 or 1 country code.
func phoneDigits(s string) (string, bool) {
	d := make([]byte, 0, 11)
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c >= '0' && c <= '9':
			d = append(d, c)
		case c == '-' || c == '.' || c == '(' || c == ')' || c == ' ' || (c == '+' && i == 0):
		default:
			return "", false
		}
	}
	if len(d) == 11 && d[0] == '1' {
		d = d[1:]
	}
	return string(d), true
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// checkPassword applies the simulator's password policy: 8 to 50
// characters with an upper-case letter, a lower-case letter and a digit.
// (Each tenant configures its own policy; this is a common default.)
func checkPasswordPolicy(p string) error {
	n := utf8.RuneCountInString(p)
	if n < minPasswordLen || n > maxPasswordLen {
		return fmt.Errorf("password must be %d to %d characters long", minPasswordLen, maxPasswordLen)
	}
	var upper, lower, digit bool
	for _, r := range p {
		switch {
		case unicode.IsUpper(r):
			upper = true
		case unicode.IsLower(r):
			lower = true
		case unicode.IsDigit(r):
			digit = true
		case unicode.IsControl(r):
			return errors.New("password cannot contain control characters")
		}
	}
	if !upper || !lower || !digit {
		return errors.New("password must contain an upper-case letter, a lower-case letter and a digit")
	}
	return nil
}

func checkEmail(v string) error {
	if v == "" {
		return errors.New("email is required")
	}
	at := strings.LastIndexByte(v, '@')
	if at < 1 || at == len(v)-1 || strings.ContainsAny(v, " \t\r\n<>\"") || len(v) > maxEmailLen {
		return errors.New("email is not a valid e-mail address")
	}
	return nil
}

// checkUser validates a complete user record before it is stored.
func (st *store) checkUser(u *SimUser) error {
	if err := checkUserName(u.LoginID); err != nil {
		return err
	}
	for _, f := range []struct {
		name, v string
		max     int
	}{
		{"firstName", u.FirstName, maxNameLen},
		{"middleName", u.MiddleName, maxNameLen},
		{"lastName", u.LastName, maxNameLen},
		{"suffix", u.Suffix, maxNameLen},
		{"title", u.Title, maxTitleLen},
		{"employeeId", u.EmployeeID, maxEmployeeIDLen},
		{"chumId", u.ChumID, maxChumIDLen},
		{"nmlsOriginatorId", u.NMLSOriginatorID, maxFreeTextLen},
		{"nmlsExpirationDate", u.NMLSExpirationDate, maxFreeTextLen},
		{"workingFolder", u.WorkingFolder, maxFreeTextLen},
		{"comments", u.Comments, maxFreeTextLen},
	} {
		if err := checkLen(f.name, f.v, f.max); err != nil {
			return err
		}
	}
	if u.FirstName == "" {
		return errors.New("firstName is required")
	}
	if u.LastName == "" {
		return errors.New("lastName is required")
	}
	if err := checkEmail(u.Email); err != nil {
		return err
	}
	for _, p := range []struct{ name, v string }{{"phone", u.Phone}, {"cellPhone", u.CellPhone}, {"fax", u.Fax}} {
		if err := checkPhone(p.name, p.v); err != nil {
			return err
		}
	}
	if _, ok := st.org(u.OrganizationID); !ok {
		return fmt.Errorf("organization %q does not exist", u.OrganizationID)
	}
	for _, p := range u.Personas {
		if _, ok := st.persona(p); !ok {
			return fmt.Errorf("persona %q does not exist", p)
		}
	}
	return nil
}

// checkNewPassword validates a password being set on a user.
func checkNewPassword(p string, ssoOnly bool) error {
	if ssoOnly {
		return errors.New("password cannot be set for an SSO-only user")
	}
	return checkPasswordPolicy(p)
}
