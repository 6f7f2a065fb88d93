package strictjson

import (
	"bytes"
	"encoding/json"
	"strconv"
	"sync"
	"unicode/utf8"
)

// smallObject is how many keys an object may have before they go into a map.
// Up to here a linear scan is cheaper than hashing and allocates nothing;
// beyond it a map keeps a hostile object of 10,000 keys linear.
const smallObject = 16

// span locates a key's canonical bytes: in the input when the key is written
// plainly, in the scanner's arena when it had to be decoded.
type span struct {
	start, end int
	arena      bool
}

// level is one open object or array.
type level struct {
	object bool
	// count is the number of elements started (arrays) or members started
	// (objects).
	count   int
	hasKey  bool
	current span // canonical key of the member being scanned
	// keyAt and keyEnd locate that key as written, quotes included, for
	// error paths.
	keyAt, keyEnd int
	keys          []span
	set           map[string]struct{}
	// arenaMark is the arena's length when the level opened; its keys are
	// dropped from the arena when it closes.
	arenaMark int
}

type scanner struct {
	data     []byte
	pos      int
	maxDepth int
	stack    []level
	arena    []byte
}

var scanners = sync.Pool{New: func() any { return &scanner{} }}

func getScanner() *scanner { return scanners.Get().(*scanner) }

// maxPooled keeps a scanner that a huge document made large out of the pool,
// so that one hostile body does not pin its memory for the container's life.
const maxPooled = 64 << 10

func putScanner(s *scanner) {
	if cap(s.arena) > maxPooled || cap(s.stack) > 4*DefaultMaxDepth {
		return
	}
	for i := range s.stack {
		s.stack[i].set = nil
	}
	s.data, s.pos, s.stack, s.arena = nil, 0, s.stack[:0], s.arena[:0]
	scanners.Put(s)
}

func (s *scanner) fail(kind error, msg string) error {
	return &Error{Kind: kind, Path: s.pathString(), Offset: s.pos, Msg: msg}
}

func (s *scanner) ws() {
	for s.pos < len(s.data) {
		switch s.data[s.pos] {
		case ' ', '\t', '\n', '\r':
			s.pos++
		default:
			return
		}
	}
}

// run checks the whole input: one JSON value between optional white space.
func (s *scanner) run() error {
	for {
		// A value is expected here.
		s.ws()
		if s.pos >= len(s.data) {
			return s.fail(ErrSyntax, "unexpected end of input, expected a value")
		}
		switch c := s.data[s.pos]; {
		case c == '{' || c == '[':
			if len(s.stack) >= s.maxDepth {
				return s.fail(ErrTooDeep, strconv.Itoa(s.maxDepth))
			}
			s.push(c == '{')
			s.pos++
			s.ws()
			closer := byte(']')
			if c == '{' {
				closer = '}'
			}
			if s.pos < len(s.data) && s.data[s.pos] == closer {
				s.pos++
				s.pop()
				break
			}
			if c == '{' {
				if err := s.member(); err != nil {
					return err
				}
			} else {
				s.top().count++
			}
			continue
		case c == '"':
			if _, _, err := s.str(); err != nil {
				return err
			}
		case c == 't':
			if err := s.literal("true"); err != nil {
				return err
			}
		case c == 'f':
			if err := s.literal("false"); err != nil {
				return err
			}
		case c == 'n':
			if err := s.literal("null"); err != nil {
				return err
			}
		case c == '-' || c >= '0' && c <= '9':
			if err := s.number(); err != nil {
				return err
			}
		default:
			return s.fail(ErrSyntax, "invalid character "+quoteByte(c)+" looking for a value")
		}
		// A value has ended: close containers, or move to the next one.
		next, err := s.afterValue()
		if err != nil || !next {
			return err
		}
	}
}

// afterValue consumes separators and closing brackets after a value. It
// reports next=true when another value is expected, false at the end of the
// input.
func (s *scanner) afterValue() (next bool, err error) {
	for {
		s.ws()
		if len(s.stack) == 0 {
			if s.pos < len(s.data) {
				return false, s.fail(ErrSyntax, "invalid character "+quoteByte(s.data[s.pos])+" after the top-level value")
			}
			return false, nil
		}
		if s.pos >= len(s.data) {
			return false, s.fail(ErrSyntax, "unexpected end of input")
		}
		l, c := s.top(), s.data[s.pos]
		switch {
		case c == ',':
			s.pos++
			if l.object {
				s.ws()
				return true, s.member()
			}
			l.count++
			return true, nil
		case l.object && c == '}', !l.object && c == ']':
			s.pos++
			s.pop()
		default:
			return false, s.fail(ErrSyntax, "invalid character "+quoteByte(c)+" after a value")
		}
	}
}

// member reads `"key" :` and checks the key against the object's others.
func (s *scanner) member() error {
	if s.pos >= len(s.data) || s.data[s.pos] != '"' {
		if s.pos >= len(s.data) {
			return s.fail(ErrSyntax, "unexpected end of input, expected an object key")
		}
		return s.fail(ErrSyntax, "invalid character "+quoteByte(s.data[s.pos])+" looking for an object key")
	}
	start := s.pos
	plain, end, err := s.str()
	if err != nil {
		return err
	}
	k := s.canonicalKey(start, end, plain)
	l := s.top()
	l.count++
	l.current, l.hasKey, l.keyAt, l.keyEnd = k, true, start, end
	if s.seen(l, k) {
		s.pos = start
		return s.fail(ErrDuplicateKey, "")
	}
	s.ws()
	if s.pos >= len(s.data) || s.data[s.pos] != ':' {
		return s.fail(ErrSyntax, "expected ':' after an object key")
	}
	s.pos++
	return nil
}

// canonicalKey returns the key at data[start:end] (quotes included) as
// encoding/json would decode it.
func (s *scanner) canonicalKey(start, end int, plain bool) span {
	if plain {
		return span{start: start + 1, end: end - 1}
	}
	// Escapes and invalid UTF-8 are rare in keys; encoding/json itself
	// decodes them, so the two can never disagree on what a key is.
	a := len(s.arena)
	var k string
	_ = json.Unmarshal(s.data[start:end], &k) // str has validated it
	s.arena = append(s.arena, k...)
	return span{start: a, end: len(s.arena), arena: true}
}

func (s *scanner) keyBytes(k span) []byte {
	if k.arena {
		return s.arena[k.start:k.end]
	}
	return s.data[k.start:k.end]
}

// seen records k in l and reports whether l already had it.
func (s *scanner) seen(l *level, k span) bool {
	kb := s.keyBytes(k)
	if l.set != nil {
		if _, dup := l.set[string(kb)]; dup {
			return true
		}
		l.set[string(kb)] = struct{}{}
		return false
	}
	for _, o := range l.keys {
		if bytes.Equal(s.keyBytes(o), kb) {
			return true
		}
	}
	if len(l.keys) < smallObject {
		l.keys = append(l.keys, k)
		return false
	}
	// A fresh map, never a cleared one: clearing costs its capacity, and a
	// reused map grown by one huge object would make every later object pay.
	l.set = make(map[string]struct{}, 2*smallObject)
	for _, o := range l.keys {
		l.set[string(s.keyBytes(o))] = struct{}{}
	}
	l.set[string(kb)] = struct{}{}
	l.keys = l.keys[:0]
	return false
}

func (s *scanner) push(object bool) {
	n := len(s.stack)
	if n < cap(s.stack) {
		s.stack = s.stack[:n+1]
	} else {
		s.stack = append(s.stack, level{})
	}
	l := &s.stack[n]
	l.object, l.count, l.hasKey, l.keys, l.set, l.arenaMark = object, 0, false, l.keys[:0], nil, len(s.arena)
}

func (s *scanner) pop() {
	l := s.top()
	s.arena = s.arena[:l.arenaMark]
	l.set = nil
	s.stack = s.stack[:len(s.stack)-1]
}

func (s *scanner) top() *level { return &s.stack[len(s.stack)-1] }

// str skips the string starting at s.pos and returns the offset just past
// its closing quote. plain is true when the string has no escapes and only
// valid UTF-8, so that its bytes are its value.
func (s *scanner) str() (plain bool, end int, err error) {
	s.pos++ // opening quote
	plain = true
	for s.pos < len(s.data) {
		c := s.data[s.pos]
		switch {
		case c == '"':
			s.pos++
			return plain, s.pos, nil
		case c == '\\':
			plain = false
			if err := s.escape(); err != nil {
				return false, 0, err
			}
			continue
		case c < 0x20:
			return false, 0, s.fail(ErrSyntax, "invalid character "+quoteByte(c)+" in a string")
		case c >= utf8.RuneSelf:
			r, n := utf8.DecodeRune(s.data[s.pos:])
			if r == utf8.RuneError && n == 1 {
				plain = false // encoding/json turns it into U+FFFD
			}
			s.pos += n
			continue
		}
		s.pos++
	}
	return false, 0, s.fail(ErrSyntax, "unexpected end of input in a string")
}

func (s *scanner) escape() error {
	if s.pos+1 >= len(s.data) {
		s.pos = len(s.data)
		return s.fail(ErrSyntax, "unexpected end of input in a string escape")
	}
	switch s.data[s.pos+1] {
	case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
		s.pos += 2
		return nil
	case 'u':
		if s.pos+6 > len(s.data) {
			s.pos = len(s.data)
			return s.fail(ErrSyntax, "unexpected end of input in a \\u escape")
		}
		for _, h := range s.data[s.pos+2 : s.pos+6] {
			if !(h >= '0' && h <= '9' || h >= 'a' && h <= 'f' || h >= 'A' && h <= 'F') {
				return s.fail(ErrSyntax, "invalid character "+quoteByte(h)+" in a \\u escape")
			}
		}
		s.pos += 6
		return nil
	}
	return s.fail(ErrSyntax, "invalid escape character "+quoteByte(s.data[s.pos+1]))
}

func (s *scanner) literal(want string) error {
	if !bytes.HasPrefix(s.data[s.pos:], []byte(want)) {
		return s.fail(ErrSyntax, "invalid literal, expected "+want)
	}
	s.pos += len(want)
	return nil
}

// number skips a JSON number: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func (s *scanner) number() error {
	d := s.data
	if d[s.pos] == '-' {
		s.pos++
	}
	switch {
	case s.pos < len(d) && d[s.pos] == '0':
		s.pos++
	case s.pos < len(d) && d[s.pos] >= '1' && d[s.pos] <= '9':
		s.digits()
	default:
		return s.fail(ErrSyntax, "invalid number: expected a digit")
	}
	if s.pos < len(d) && d[s.pos] == '.' {
		s.pos++
		if s.digits() == 0 {
			return s.fail(ErrSyntax, "invalid number: expected a digit after the decimal point")
		}
	}
	if s.pos < len(d) && (d[s.pos] == 'e' || d[s.pos] == 'E') {
		s.pos++
		if s.pos < len(d) && (d[s.pos] == '+' || d[s.pos] == '-') {
			s.pos++
		}
		if s.digits() == 0 {
			return s.fail(ErrSyntax, "invalid number: expected a digit in the exponent")
		}
	}
	return nil
}

func (s *scanner) digits() int {
	n := 0
	for s.pos < len(s.data) && s.data[s.pos] >= '0' && s.data[s.pos] <= '9' {
		s.pos++
		n++
	}
	return n
}

func quoteByte(c byte) string {
	return strconv.QuoteRuneToASCII(rune(c))
}

func quoteASCII(s string) string { return strconv.QuoteToASCII(s) }
