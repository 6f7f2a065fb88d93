package hris

import (
	"fmt"
	"strings"
)

// NormalizePhone turns a phone number in any common North American format
// into Encompass's ###-###-#### with an optional " ####" extension. It accepts
// a leading +1 or 1, dots, dashes, spaces and parentheses between digits, and
// an extension written as "x123", "ext. 12", "ext 12", "extension 12", "#12" or
// as a trailing group of 1-4 digits after a space ("555-555-1234 12").
func NormalizePhone(s string) (string, error) {
	in := strings.TrimSpace(s)
	lower := strings.ToLower(in)
	main, ext := lower, ""
	for _, marker := range []string{"extension", "ext.", "ext", "x", "#"} {
		if i := strings.LastIndex(lower, marker); i > 0 {
			main, ext = lower[:i], strings.TrimSpace(lower[i+len(marker):])
			break
		}
	}
	if ext != "" || main != lower {
		if ext == "" || len(ext) > 4 || !allDigits(ext) {
			return "", phoneError(s, "the extension must be 1 to 4 digits")
		}
	}
	// Split the main part into digit groups; only separators may sit between.
	var groups []string
	cur := ""
	for i, r := range strings.TrimSpace(main) {
		switch {
		case r >= '0' && r <= '9':
			cur += string(r)
		case r == '+' && i == 0:
		case r == ' ' || r == '-' || r == '.' || r == '(' || r == ')':
			if cur != "" {
				groups = append(groups, cur)
				cur = ""
			}
			if r == ' ' {
				groups = append(groups, " ")
			}
		default:
			return "", phoneError(s, fmt.Sprintf("%q is not allowed in a phone number", r))
		}
	}
	if cur != "" {
		groups = append(groups, cur)
	}
	digits := func(gs []string) string {
		return strings.ReplaceAll(strings.Join(gs, ""), " ", "")
	}
	all := digits(groups)
	if ext == "" && main == lower && len(all) > 10 {
		// A trailing space-separated group of 1-4 digits is the extension,
		// as in the contract's own example "555-555-1234 12".
		last := len(groups) - 1
		if last >= 2 && groups[last-1] == " " && len(groups[last]) <= 4 {
			head := digits(groups[:last-1])
			if len(head) == 10 || len(head) == 11 && head[0] == '1' {
				all, ext = head, groups[last]
			}
		}
	}
	if len(all) == 11 && all[0] == '1' {
		all = all[1:]
	}
	if len(all) != 10 {
		return "", phoneError(s, fmt.Sprintf("it has %d digits; a US number has 10 (optionally after +1)", len(all)))
	}
	out := all[:3] + "-" + all[3:6] + "-" + all[6:]
	if ext != "" {
		out += " " + ext
	}
	return out, nil
}

func allDigits(s string) bool {
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return s != ""
}

func phoneError(s, why string) error {
	return fmt.Errorf("%q cannot be read as a phone number: %s; use a form such as 555-555-1234 or (555) 555-1234 x12", truncate(s), why)
}
