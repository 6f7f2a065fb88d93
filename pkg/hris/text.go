package hris

import (
	"fmt"
	"strings"
	"unicode"

	"golang.org/x/text/unicode/runenames"

	"github.com/lenderops/encompass-lifecycle/pkg/encompass"
)

// The character rules of CONTRACTS section 1. A profile field may hold any
// printable text, combining marks included (names are written in NFC or NFD
// and both are kept as sent), but nothing a person cannot see: an invisible
// or direction-changing character makes two different values look the same
// ("h048" and "h048\u200b"), or one value look like another ("gro.evil" shown
// as "live.org"). Login ids and SSO subjects are stricter still: printable
// ASCII, so that "аdmin" with a Cyrillic а can never pass for "admin".

// checkText refuses, in free text, the characters that have no place in a
// profile field: controls, format characters (zero-width spaces and joiners,
// the byte order mark, soft hyphens, bidirectional controls), line and
// paragraph separators, the invisible fillers Unicode marks as default
// ignorable, and U+FFFD, which stands for text damaged before it reached
// us (encoding/json turns a lone surrogate escape into it).
func checkText(s string) error {
	pos := 0
	for _, r := range s {
		pos++
		if why := forbiddenInText(r); why != "" {
			return fmt.Errorf("contains %s at position %d, %s; remove it", describeRune(r), pos, why)
		}
	}
	return nil
}

// forbiddenInText says why r cannot appear in a profile field, or "" when it
// can.
func forbiddenInText(r rune) string {
	switch {
	case unicode.IsControl(r):
		return "a control character"
	case isBidiControl(r):
		return "a bidirectional control character, which can make text display in another order than it is stored"
	case unicode.Is(unicode.Cf, r):
		return "an invisible format character"
	case unicode.In(r, unicode.Zl, unicode.Zp):
		return "a line or paragraph separator"
	case unicode.Is(unicode.Other_Default_Ignorable_Code_Point, r):
		return "an invisible character"
	case r == unicode.ReplacementChar:
		return "the replacement character, a sign that the text was damaged before it was sent"
	}
	return ""
}

// isBidiControl reports the explicit directional formatting characters of
// Unicode's bidirectional algorithm (UAX #9): embeddings and overrides,
// isolates, and the implicit marks.
func isBidiControl(r rune) bool {
	return r >= 0x202A && r <= 0x202E || r >= 0x2066 && r <= 0x2069 || r == 0x200E || r == 0x200F || r == 0x061C
}

// checkPrintableASCII allows only the printable ASCII characters 0x21-0x7E
// (no spaces), naming the first other one and its position.
func checkPrintableASCII(s string) error {
	pos := 0
	for _, r := range s {
		pos++
		if r < 0x21 || r > 0x7E {
			return fmt.Errorf("must be printable ASCII; found %s at position %d", describeRune(r), pos)
		}
	}
	return nil
}

// checkLogin applies the rules of a login id: printable ASCII, then
// Encompass's own (no leading period, none of \ / : * ? " < >, length).
func checkLogin(s string) error {
	if err := checkPrintableASCII(s); err != nil {
		return err
	}
	return encompass.CheckUserName(s)
}

// describeRune names a character without writing it: "U+200B ZERO WIDTH
// SPACE", "U+4E00 (CJK Ideograph)". Error messages show invisible characters
// this way, never raw.
func describeRune(r rune) string {
	name := runenames.Name(r)
	switch {
	case name == "": // unassigned
		return fmt.Sprintf("%U", r)
	case name[0] == '<': // a class of characters without names of their own: <control>, <CJK Ideograph>
		return fmt.Sprintf("%U (%s)", r, strings.Trim(name, "<>"))
	}
	return fmt.Sprintf("%U %s", r, name)
}
