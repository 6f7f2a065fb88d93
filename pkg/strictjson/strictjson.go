// Package strictjson finds what encoding/json lets through silently: an object
// key given twice ({"type":"hire","type":"terminate"} decodes as a terminate,
// because the last key wins) and nesting deep enough to be an attack rather
// than data. HRIS bodies and webhook bodies are checked with it before they
// are decoded, so that what was validated is what is acted on.
//
// The checker is one pass of a small hand-written scanner over the bytes: it
// allocates nothing for an ordinary body, compares a small object's keys by a
// linear scan and a large object's through a map, so that no input costs more
// than linear time.
package strictjson

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// DefaultMaxDepth bounds the nesting of objects and arrays. An HRIS event is
// three levels deep and an Encompass webhook payload about five; 64 leaves
// room for any real document.
const DefaultMaxDepth = 64

// ErrDuplicateKey, ErrTooDeep and ErrSyntax classify the errors of Check;
// test them with errors.Is.
var (
	ErrDuplicateKey = errors.New("duplicate JSON object key")
	ErrTooDeep      = errors.New("JSON nested too deeply")
	ErrSyntax       = errors.New("not valid JSON")
)

// Error says what is wrong with a document and where.
type Error struct {
	// Kind is ErrDuplicateKey, ErrTooDeep or ErrSyntax.
	Kind error
	// Path is the JSON path of the offending member or value, e.g.
	// "$.employee.email" or "$.employee.stateLicenses[0].state". Keys that are
	// not plain names are written in brackets, quoted in ASCII, so that an
	// invisible character in a key is shown as an escape, never raw.
	Path string
	// Offset is the byte offset in the input where the problem was found.
	Offset int
	// Msg details a syntax error.
	Msg string
}

// Error implements error.
func (e *Error) Error() string {
	switch {
	case errors.Is(e.Kind, ErrDuplicateKey):
		return fmt.Sprintf("%s appears twice in the same object (byte %d)", e.Path, e.Offset)
	case errors.Is(e.Kind, ErrTooDeep):
		return fmt.Sprintf("%s is nested more than %s deep (byte %d)", e.Path, e.Msg, e.Offset)
	}
	return fmt.Sprintf("not valid JSON at byte %d (%s): %s", e.Offset, e.Path, e.Msg)
}

// Unwrap lets errors.Is match Kind.
func (e *Error) Unwrap() error { return e.Kind }

// CheckDuplicateKeys reports the first key that appears twice in one object
// of b, at any depth, as an *Error naming its JSON path. It also reports
// nesting deeper than DefaultMaxDepth and malformed JSON. Keys are compared
// as encoding/json decodes them: "a" and "\u0061" are the same key, "a" and
// "A" are not (the documents checked are decoded into maps, where they are
// distinct).
func CheckDuplicateKeys(b []byte) error {
	return check(b, DefaultMaxDepth)
}

// check is CheckDuplicateKeys with another depth bound (tests).
func check(b []byte, maxDepth int) error {
	s := getScanner()
	defer putScanner(s)
	s.data, s.maxDepth = b, maxDepth
	return s.run()
}

// pathString renders the path of the value at the top of the stack. It runs
// only when an error is reported.
func (s *scanner) pathString() string {
	var sb strings.Builder
	sb.WriteByte('$')
	for i := range s.stack {
		l := &s.stack[i]
		if !l.object {
			fmt.Fprintf(&sb, "[%d]", l.count-1)
			continue
		}
		if !l.hasKey {
			continue
		}
		writeKey(&sb, s.writtenKey(l))
	}
	return sb.String()
}

// writtenKey is l's current key as the document spells it (escapes decoded,
// case kept).
func (s *scanner) writtenKey(l *level) string {
	var k string
	_ = json.Unmarshal(s.data[l.keyAt:l.keyEnd], &k) // validated by str
	return k
}

// maxPathKey bounds each key in an error's path, so that a hostile 60 KiB
// key does not become a 60 KiB error message.
const maxPathKey = 64

func writeKey(sb *strings.Builder, k string) {
	cut := k
	if len(cut) > maxPathKey {
		cut = cut[:maxPathKey]
	}
	if plainName(cut) && cut == k {
		sb.WriteByte('.')
		sb.WriteString(k)
		return
	}
	sb.WriteByte('[')
	sb.WriteString(quoteASCII(cut))
	if cut != k {
		sb.WriteString("…")
	}
	sb.WriteByte(']')
}

// plainName reports whether k can be written as .k in a path.
func plainName(k string) bool {
	if k == "" {
		return false
	}
	for i := 0; i < len(k); i++ {
		c := k[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c == '_', c == '$':
		case c >= '0' && c <= '9' && i > 0:
		default:
			return false
		}
	}
	return true
}
