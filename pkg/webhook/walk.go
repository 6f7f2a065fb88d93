package webhook

import (
	"bytes"
	"encoding/json"
	"errors"
	"unicode/utf8"
)

// The functions of this file walk a JSON document that strictjson has
// already checked (valid, no duplicated key), reading only the members the
// receiver acts on and skipping everything else, meta.payload included, in
// one pass without copying it. encoding/json would scan the payload four
// times to do the same with maps (FuzzVerifyAndDecode compares the two).

// objectMembers sets found[n] to the raw value of the member of the object
// doc whose key is exactly names[n] (keys compared after their escapes are
// resolved, as encoding/json decodes them into a map), nil when there is
// none. It returns false when doc is not an object.
func objectMembers(doc []byte, names []string, found [][]byte) bool {
	i := skipSpace(doc, 0)
	if i >= len(doc) || doc[i] != '{' {
		return false
	}
	for i = skipSpace(doc, i+1); i < len(doc) && doc[i] != '}'; {
		keyEnd := stringEnd(doc, i)
		key := doc[i:keyEnd]
		start := skipSpace(doc, skipSpace(doc, keyEnd)+1) // after ':'
		end := valueEnd(doc, start)
		for n, name := range names {
			if keyIs(key, name) {
				found[n] = doc[start:end]
			}
		}
		i = skipSpace(doc, end)
		if i < len(doc) && doc[i] == ',' {
			i = skipSpace(doc, i+1)
		}
	}
	return true
}

// keyIs reports whether the quoted key decodes to name.
func keyIs(quoted []byte, name string) bool {
	raw := quoted[1 : len(quoted)-1]
	if bytes.IndexByte(raw, '\\') < 0 {
		return string(raw) == name
	}
	var k string
	return json.Unmarshal(quoted, &k) == nil && k == name
}

var errNotString = errors.New("not a JSON string")

// decodeString sets *dst to the string value v; an absent value or null
// leaves it empty.
func decodeString(v []byte, dst *string) error {
	switch {
	case v == nil || string(v) == "null":
		return nil
	case v[0] != '"':
		return errNotString
	case bytes.IndexByte(v, '\\') < 0 && utf8.Valid(v):
		*dst = string(v[1 : len(v)-1])
		return nil
	}
	// Escapes or invalid UTF-8: as encoding/json resolves them.
	return json.Unmarshal(v, dst)
}

func skipSpace(doc []byte, i int) int {
	for i < len(doc) && (doc[i] == ' ' || doc[i] == '\t' || doc[i] == '\n' || doc[i] == '\r') {
		i++
	}
	return i
}

// stringEnd returns the index after the string that starts at doc[i] ('"').
func stringEnd(doc []byte, i int) int {
	for i++; i < len(doc); i++ {
		switch doc[i] {
		case '\\':
			i++
		case '"':
			return i + 1
		}
	}
	return len(doc)
}

// valueEnd returns the index after the value that starts at doc[i].
func valueEnd(doc []byte, i int) int {
	if i >= len(doc) {
		return i
	}
	switch doc[i] {
	case '"':
		return stringEnd(doc, i)
	case '{', '[':
		depth := 0
		for ; i < len(doc); i++ {
			switch doc[i] {
			case '"':
				i = stringEnd(doc, i) - 1
			case '{', '[':
				depth++
			case '}', ']':
				if depth--; depth == 0 {
					return i + 1
				}
			}
		}
		return i
	}
	// A number or a literal: up to the next delimiter.
	for i < len(doc) && !bytes.ContainsRune([]byte(",}] \t\r\n"), rune(doc[i])) {
		i++
	}
	return i
}
