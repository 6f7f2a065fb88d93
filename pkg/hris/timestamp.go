package hris

import (
	"errors"
	"time"
)

// errNotRFC3339 is parseTimestamp's error for text that is not a date-time
// at all; its other errors say what is wrong with one that is.
var errNotRFC3339 = errors.New("not an RFC 3339 date-time")

// parseTimestamp reads an RFC 3339 date-time, more strictly than
// time.Parse: the zone is required ("Z" or ±hh:mm with hh at most 23 and mm at
// most 59; "-00:00" is UTC), fractional seconds follow a period, and the
// instant, in UTC, lies in the years 0001 to 9999 and is not 0001-01-01T00:00:00Z.
// The last rule is about what happens to the time later: it is stored as the
// employee's last applied time, in RFC 3339 and in UTC, and read back for
// every later event. "0000-01-01T00:00:00+01:00" is year -1 in UTC and
// "9999-12-31T23:59:59-01:00" is year 10000: neither can be written back in
// RFC 3339, so one such event would make every later event of its employee
// fail to read the state table. The zero time is what Go uses for "no time",
// so it cannot stand for a real one either.
func parseTimestamp(s string) (time.Time, error) {
	if err := checkRFC3339Shape(s); err != nil {
		return time.Time{}, err
	}
	t, err := time.Parse(time.RFC3339, s) // ranges: month 1-12, day of month, hour 0-23 ...
	if err != nil {
		return time.Time{}, errNotRFC3339
	}
	if y := t.UTC().Year(); y < 1 || y > 9999 || t.IsZero() {
		return time.Time{}, errors.New("it lies outside the years 0001 to 9999 in UTC")
	}
	return t, nil
}

// checkRFC3339Shape checks the grammar of RFC 3339's date-time,
// yyyy-mm-ddThh:mm:ss[.fraction](Z|±hh:mm), digit by digit. time.Parse is
// laxer: it takes a one-digit hour, a comma before the fraction, and zone
// offsets of +24:00 or +05:60.
func checkRFC3339Shape(s string) error {
	const head = "dddd-dd-ddTdd:dd:dd"
	if len(s) < len(head)+1 {
		return errNotRFC3339
	}
	for i := range len(head) {
		if head[i] == 'd' && !isDigit(s[i]) || head[i] != 'd' && s[i] != head[i] {
			return errNotRFC3339
		}
	}
	rest := s[len(head):]
	switch rest[0] {
	case ',':
		return errors.New("fractional seconds follow a period in RFC 3339, not a comma")
	case '.':
		n := 1
		for n < len(rest) && isDigit(rest[n]) {
			n++
		}
		if n == 1 {
			return errNotRFC3339
		}
		rest = rest[n:]
	}
	if rest == "Z" {
		return nil
	}
	if len(rest) != len("+hh:mm") || rest[0] != '+' && rest[0] != '-' || rest[3] != ':' ||
		!isDigit(rest[1]) || !isDigit(rest[2]) || !isDigit(rest[4]) || !isDigit(rest[5]) {
		return errNotRFC3339
	}
	if hh, mm := (rest[1]-'0')*10+rest[2]-'0', (rest[4]-'0')*10+rest[5]-'0'; hh > 23 || mm > 59 {
		return errors.New("the zone offset is out of range")
	}
	return nil
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }
