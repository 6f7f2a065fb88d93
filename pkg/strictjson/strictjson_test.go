package strictjson

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
)

func TestCheckDuplicateKeys(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		in   string
		path string // "" when the document is fine
	}{
		{"flat, distinct", `{"type":"hire","eventId":"e1"}`, ""},
		{"top level", `{"type":"hire","type":"terminate"}`, "$.type"},
		{"employee object", `{"type":"hire","employee":{"email":"a@x.io","givenName":"A","email":"b@x.io"}}`, "$.employee.email"},
		{"license entry", `{"employee":{"stateLicenses":[{"state":"CA"},{"state":"NV","status":"x","state":"CA"}]}}`, "$.employee.stateLicenses[1].state"},
		{"same key in sibling objects is fine", `{"a":{"k":1},"b":{"k":2},"c":[{"k":1},{"k":1}]}`, ""},
		{"same key at two depths is fine", `{"k":{"k":{"k":1}}}`, ""},
		{"escaped spelling of the same key", `{"type":1,"\u0074ype":2}`, "$.type"},
		{"escaped slash", `{"a/b":1,"a\/b":2}`, `$["a/b"]`},
		{"keys differing in case are distinct", `{"eventId":1,"EventID":2}`, ""},
		{"empty key twice", `{"":1,"":2}`, `$[""]`},
		{"invisible character shown escaped", "{\"a\u200b\":1,\"a\\u200b\":2}", `$["a\u200b"]`},
		{"duplicate after a nested object closes", `{"a":{"x":1,"y":[1,2,{"z":3}]},"b":2,"a":3}`, "$.a"},
		{"duplicate in a large object", largeObject(100, "k50"), "$.k50"},
		{"large object, distinct", largeObject(100, ""), ""},
		{"array of scalars", `[1,"two",true,false,null,-0.5e+3,{}]`, ""},
		{"scalar document", `"just a string"`, ""},
		{"white space everywhere", " \t\n{ \"a\" : [ 1 , 2 ] , \"b\" : { } }\r\n", ""},
		{"invalid UTF-8 keys decode to the same U+FFFD", "{\"a\xff\":1,\"a\xfe\":2}", `$["a\ufffd"]`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err := CheckDuplicateKeys([]byte(tc.in))
			if tc.path == "" {
				if err != nil {
					t.Fatalf("rejected: %v", err)
				}
				return
			}
			var e *Error
			if !errors.As(err, &e) || !errors.Is(err, ErrDuplicateKey) {
				t.Fatalf("err = %v, want a duplicate key", err)
			}
			if e.Path != tc.path {
				t.Errorf("path = %s, want %s", e.Path, tc.path)
			}
			if !strings.Contains(err.Error(), tc.path) || !strings.Contains(err.Error(), "twice") {
				t.Errorf("message %q does not name the path", err)
			}
			// The reference checker built on encoding/json agrees.
			if ref := tokenCheck([]byte(tc.in)); ref.path != tc.path {
				t.Errorf("reference path %q, want %q", ref.path, tc.path)
			}
		})
	}
}

func largeObject(n int, dup string) string {
	var b strings.Builder
	b.WriteByte('{')
	for i := range n {
		fmt.Fprintf(&b, `"k%d":%d,`, i, i)
	}
	if dup != "" {
		fmt.Fprintf(&b, `%q:0,`, dup)
	}
	b.WriteString(`"last":true}`)
	return b.String()
}

func TestDepthBound(t *testing.T) {
	t.Parallel()
	nest := func(n int, open, close string) []byte {
		return []byte(strings.Repeat(open, n) + "1" + strings.Repeat(close, n))
	}
	if err := CheckDuplicateKeys(nest(DefaultMaxDepth, "[", "]")); err != nil {
		t.Errorf("depth %d rejected: %v", DefaultMaxDepth, err)
	}
	for _, doc := range [][]byte{
		nest(DefaultMaxDepth+1, "[", "]"),
		nest(DefaultMaxDepth+1, `{"a":`, "}"),
		nest(1_000_000, "[", "]"), // never read past the bound
	} {
		err := CheckDuplicateKeys(doc)
		var e *Error
		if !errors.As(err, &e) || !errors.Is(err, ErrTooDeep) {
			t.Fatalf("err = %v, want too deep", err)
		}
		if e.Offset != DefaultMaxDepth*(bytes.IndexByte(doc[1:], doc[0])+1) && doc[0] == '[' {
			t.Errorf("stopped at byte %d, want the first bracket past the bound", e.Offset)
		}
		if len(err.Error()) > 1000 {
			t.Errorf("error of %d bytes", len(err.Error()))
		}
	}
	if err := check([]byte(`{"a":{"b":{"c":{}}}}`), 3); !errors.Is(err, ErrTooDeep) {
		t.Errorf("a bound of 3: %v", err)
	} else if e := err.(*Error); e.Path != "$.a.b.c" {
		t.Errorf("path %s, want $.a.b.c", e.Path)
	}
}

func TestSyntaxErrors(t *testing.T) {
	t.Parallel()
	for _, in := range []string{
		``, ` `, `{`, `}`, `{"a"}`, `{"a":}`, `{"a":1,}`, `{,}`, `[1,]`, `[,1]`, `{"a":1 "b":2}`, `{a:1}`,
		`"unterminated`, `"bad \x escape"`, `"\u12g4"`, "\"tab\tinside\"", `01`, `-`, `1.`, `1e`, `.5`, `+1`,
		`tru`, `nul`, `falsey`, `{} {}`, `[] x`, `{"a":1}}`, `[1]]`, `{"a":[1}`, `[{"a":1]`, "\"\\u12",
	} {
		err := CheckDuplicateKeys([]byte(in))
		if !errors.Is(err, ErrSyntax) {
			t.Errorf("%q: %v, want a syntax error", in, err)
		}
		if json.Valid([]byte(in)) {
			t.Errorf("%q is valid JSON; the case is wrong", in)
		}
	}
}

// Long keys are cut in the path, and no key is echoed with raw invisible or
// control characters.
func TestPathIsBoundedAndEscaped(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("k", 60<<10)
	err := CheckDuplicateKeys([]byte(`{"` + long + `":1,"` + long + `":2}`))
	if !errors.Is(err, ErrDuplicateKey) || len(err.Error()) > 300 {
		t.Fatalf("%d-byte error: %.200v", len(err.Error()), err)
	}
	err = CheckDuplicateKeys([]byte("{\"x\u202e\\n\":1,\"x\u202e\\n\":2}"))
	if !errors.Is(err, ErrDuplicateKey) || strings.ContainsAny(err.Error(), "\u202e\n") {
		t.Fatalf("error echoes raw characters: %q", err)
	}
}

// An ordinary body costs no allocation once the pool is warm; a hostile
// object of many keys costs a map, not one allocation per comparison.
func TestAllocations(t *testing.T) {
	body := hrisBody(4 << 10)
	if err := CheckDuplicateKeys(body); err != nil {
		t.Fatal(err)
	}
	want := 0.0
	if raceEnabled {
		want = 8 // a fresh scanner when the pool dropped the last one
	}
	if n := testing.AllocsPerRun(100, func() { _ = CheckDuplicateKeys(body) }); n > want {
		t.Errorf("%v allocations per 4 KiB body, want at most %v", n, want)
	}
	wide := []byte(largeObject(10000, ""))
	n := testing.AllocsPerRun(10, func() { _ = CheckDuplicateKeys(wide) })
	// One string per key inserted in the map, plus the map's growth.
	if n > 10000+200 {
		t.Errorf("%v allocations for 10,000 keys", n)
	}
}

// hrisBody is an HRIS-like event padded with license entries to size bytes.
func hrisBody(size int) []byte {
	var b bytes.Buffer
	b.WriteString(`{"schemaVersion":"1","eventId":"hris-2026-000123","type":"hire","occurredAt":"2026-11-20T15:04:05Z",` +
		`"source":"workday","employee":{"employeeId":"E12345","userName":"jdoe","givenName":"Jane","familyName":"Doe",` +
		`"email":"jane.doe@example.com","workPhone":"555-555-1234 12","jobTitle":"Senior Loan Officer","ssoOnly":true,"stateLicenses":[`)
	for i := 0; b.Len() < size-64; i++ {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"state":"S%d","licenseNumber":"L-%d","expirationDate":"2027-01-01","status":"Approved \"x\""}`, i, i)
	}
	b.WriteString(`]}}`)
	return b.Bytes()
}

func BenchmarkCheckDuplicateKeys(b *testing.B) {
	for _, size := range []int{4 << 10, 64 << 10} {
		body := hrisBody(size)
		b.Run(fmt.Sprintf("scanner/%dKiB", size>>10), func(b *testing.B) {
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			for b.Loop() {
				if err := CheckDuplicateKeys(body); err != nil {
					b.Fatal(err)
				}
			}
		})
		// The same check written with encoding/json's Decoder.Token, kept as
		// the baseline that justifies the hand scanner.
		b.Run(fmt.Sprintf("token/%dKiB", size>>10), func(b *testing.B) {
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			for b.Loop() {
				if r := tokenCheck(body); r.err != nil || r.path != "" {
					b.Fatal(r)
				}
			}
		})
	}
	wide := []byte(largeObject(10000, ""))
	b.Run("scanner/10000-keys", func(b *testing.B) {
		b.SetBytes(int64(len(wide)))
		b.ReportAllocs()
		for b.Loop() {
			_ = CheckDuplicateKeys(wide)
		}
	})
}

// refResult is what the reference checker found.
type refResult struct {
	path string // path of the first duplicate, "" if none
	err  error  // syntax error (or depth beyond encoding/json's own limit)
}

// tokenCheck is an independent duplicate-key checker over encoding/json's
// Decoder.Token: the reference the scanner is fuzzed against, and the
// baseline of its benchmark.
func tokenCheck(b []byte) refResult {
	type frame struct {
		object  bool
		wantKey bool // in an object: the next string is a key
		index   int  // in an array: elements started
		key     string
		keys    map[string]bool
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber() // a number too large for a float64 is still valid JSON
	var stack []*frame
	path := func() string {
		var sb strings.Builder
		sb.WriteByte('$')
		for _, f := range stack {
			if f.object {
				writeKey(&sb, f.key)
			} else {
				fmt.Fprintf(&sb, "[%d]", f.index-1)
			}
		}
		return sb.String()
	}
	// valueStarts notes a value starting in the innermost container.
	valueStarts := func() {
		if len(stack) == 0 {
			return
		}
		if f := stack[len(stack)-1]; f.object {
			f.wantKey = true
		} else {
			f.index++
		}
	}
	for started := false; ; started = true {
		if started && len(stack) == 0 {
			if _, err := dec.Token(); err != io.EOF {
				if err == nil {
					err = errors.New("data after the top-level value")
				}
				return refResult{err: err}
			}
			return refResult{}
		}
		tok, err := dec.Token()
		if err != nil {
			return refResult{err: err}
		}
		switch v := tok.(type) {
		case json.Delim:
			if v == '{' || v == '[' {
				valueStarts()
				stack = append(stack, &frame{object: v == '{', wantKey: true, keys: map[string]bool{}})
			} else {
				stack = stack[:len(stack)-1]
			}
		case string:
			if n := len(stack); n > 0 && stack[n-1].object && stack[n-1].wantKey {
				f := stack[n-1]
				f.key, f.wantKey = v, false
				if f.keys[v] {
					return refResult{path: path()}
				}
				f.keys[v] = true
				continue
			}
			valueStarts()
		default:
			valueStarts()
		}
	}
}

// FuzzCheckDuplicateKeys checks the scanner against the reference built on
// encoding/json: the same verdict on validity, the same first duplicate.
func FuzzCheckDuplicateKeys(f *testing.F) {
	for _, s := range []string{
		`{"type":"hire","type":"terminate"}`,
		`{"employee":{"stateLicenses":[{"state":"CA"},{"state":"NV","state":"CA"}]}}`,
		`{"a":1,"\u0061":2}`, `{"eventId":1,"EventID":2}`, "{\"a\xff\":1,\"a\xfe\":2}",
		`[[[[{"a":[{"b":1,"b":2}]}]]]]`, `{"a":{"b":{}},"b":[],"a":null}`, `[1,2.5e-3,-0,true,false,null,"x"]`,
		`{"a" : 1 , "b" : [ ] }`, `{"a":1,}`, `{"a"`, `"\u12"`, `01`, ``, largeObject(20, "k3"),
	} {
		f.Add([]byte(s))
	}
	f.Add(hrisBody(1 << 10))
	f.Fuzz(func(t *testing.T, b []byte) {
		// A bound below encoding/json's own limit for fuzz-sized inputs.
		err := check(b, 1<<20)
		ref := tokenCheck(b)
		var e *Error
		if err != nil && !errors.As(err, &e) {
			t.Fatalf("untyped error %T %v", err, err)
		}
		switch {
		case err == nil:
			if !json.Valid(b) || ref.err != nil || ref.path != "" {
				t.Fatalf("accepted; json.Valid %v, reference %+v", json.Valid(b), ref)
			}
		case errors.Is(err, ErrDuplicateKey):
			if ref.path != e.Path {
				t.Fatalf("duplicate at %s, reference says %+v", e.Path, ref)
			}
		case errors.Is(err, ErrSyntax):
			if json.Valid(b) || ref.err == nil {
				t.Fatalf("syntax error %v on a document encoding/json accepts (reference %+v)", err, ref)
			}
		default:
			t.Fatalf("unexpected %v", err)
		}
	})
}
