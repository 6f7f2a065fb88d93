package encompasstest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// SCIM schema URNs used by Encompass.
const (
	SchemaCoreUser         = "urn:ietf:params:scim:schemas:core:2.0:User"
	SchemaEncompassUser    = "urn:ietf:params:scim:schemas:extension:ice:2.0:EncompassInternalUser"
	SchemaEncompassUserAlt = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:EncompassInternalUser"
	SchemaAIQUser          = "urn:ietf:params:scim:schemas:extension:ice:2.0:AIQUser"
	SchemaEncompassGroup   = "urn:ietf:params:scim:schemas:extension:ice:2.0:EncompassGroup"
	SchemaListResponse     = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
	SchemaPatchOp          = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
	SchemaError            = "urn:ietf:params:scim:api:messages:2.0:Error"
)

// maxPatchOps caps the operations of one PATCH body.
const maxPatchOps = 100

// patchOp is one parsed SCIM PATCH operation.
type patchOp struct {
	Op    string // "add", "replace" or "remove"
	Path  *scimPath
	Value json.RawMessage
}

// scimPath is a parsed PATCH path: [schema:]attr[filter][.sub].
type scimPath struct {
	Schema string // the schema URN the path was prefixed with, if any
	Attr   string // e.g. "name", "emails", "members"
	Filter []filterTerm
	Sub    string // e.g. "middleName", "value"
}

// filterTerm is one `name eq "value"` of a value filter joined by `and`.
type filterTerm struct {
	Name  string
	Value string
}

// String renders the path without its schema; parsing it again gives the
// same path (the fuzz test checks this).
func (p *scimPath) String() string {
	var b strings.Builder
	b.WriteString(p.Attr)
	if len(p.Filter) > 0 {
		b.WriteByte('[')
		for i, t := range p.Filter {
			if i > 0 {
				b.WriteString(" and ")
			}
			b.WriteString(t.Name)
			b.WriteString(" eq ")
			q, _ := json.Marshal(t.Value)
			b.Write(q)
		}
		b.WriteByte(']')
	}
	if p.Sub != "" {
		b.WriteByte('.')
		b.WriteString(p.Sub)
	}
	return b.String()
}

// parseSCIMPatch parses a SCIM PATCH body. Encompass documents the key as
// `operations` (lower case); the RFC's `Operations` is accepted too.
// schemas lists the schema URNs a path may be prefixed with.
func parseSCIMPatch(body []byte, schemas ...string) ([]patchOp, error) {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(body, &raw); err != nil || raw == nil {
		return nil, errors.New("the request body is not a JSON object")
	}
	var opsRaw json.RawMessage
	for k, v := range raw {
		if strings.EqualFold(k, "operations") {
			if opsRaw != nil {
				return nil, errors.New("operations is given twice")
			}
			opsRaw = v
		}
	}
	if opsRaw == nil {
		return nil, errors.New("operations is required")
	}
	var items []struct {
		Op    string          `json:"op"`
		Path  *string         `json:"path"`
		Value json.RawMessage `json:"value"`
	}
	if err := json.Unmarshal(opsRaw, &items); err != nil {
		return nil, errors.New("operations must be an array of {op, path, value}")
	}
	if len(items) == 0 {
		return nil, errors.New("operations is empty")
	}
	if len(items) > maxPatchOps {
		return nil, fmt.Errorf("at most %d operations are allowed", maxPatchOps)
	}
	ops := make([]patchOp, 0, len(items))
	for i, it := range items {
		op := patchOp{Op: strings.ToLower(it.Op), Value: it.Value}
		if string(op.Value) == "null" {
			op.Value = nil
		}
		switch op.Op {
		case "add", "replace", "remove":
		default:
			return nil, fmt.Errorf("operation %d: op must be add, replace or remove", i)
		}
		if it.Path != nil {
			p, err := parseSCIMPath(*it.Path, schemas...)
			if err != nil {
				return nil, fmt.Errorf("operation %d: %w", i, err)
			}
			op.Path = p
		}
		switch {
		case op.Op == "remove" && op.Path == nil:
			return nil, fmt.Errorf("operation %d: remove requires a path", i)
		case op.Op != "remove" && op.Value == nil:
			return nil, fmt.Errorf("operation %d: %s requires a value", i, op.Op)
		case op.Path == nil && !isJSONObject(op.Value):
			return nil, fmt.Errorf("operation %d: a value without a path must be an object", i)
		}
		ops = append(ops, op)
	}
	return ops, nil
}

func isJSONObject(raw json.RawMessage) bool {
	t := bytes.TrimSpace(raw)
	return len(t) > 0 && t[0] == '{'
}

// parseSCIMPath parses `urn:...:EncompassInternalUser:name.middleName`,
// `emails`, `members[value eq "aa03" and type eq"User"]` and the like.
func parseSCIMPath(s string, schemas ...string) (*scimPath, error) {
	if len(s) > 512 {
		return nil, errors.New("path is too long")
	}
	p := &scimPath{}
	rest := strings.TrimSpace(s)
	if strings.HasPrefix(strings.ToLower(rest), "urn:") {
		matched := false
		for _, sc := range schemas {
			if len(rest) > len(sc) && strings.EqualFold(rest[:len(sc)], sc) && rest[len(sc)] == ':' {
				p.Schema = sc
				rest = rest[len(sc)+1:]
				matched = true
				break
			}
		}
		if !matched {
			return nil, fmt.Errorf("path %q names an unsupported schema", s)
		}
	}
	// attribute name
	i := 0
	for i < len(rest) && isAttrChar(rest[i]) {
		i++
	}
	if i == 0 {
		return nil, fmt.Errorf("path %q has no attribute name", s)
	}
	p.Attr = rest[:i]
	rest = rest[i:]
	if strings.HasPrefix(rest, "[") {
		end := closingBracket(rest)
		if end < 0 {
			return nil, fmt.Errorf("path %q has an unclosed filter", s)
		}
		terms, err := parseFilter(rest[1:end])
		if err != nil {
			return nil, fmt.Errorf("path %q: %w", s, err)
		}
		p.Filter = terms
		rest = rest[end+1:]
	}
	if strings.HasPrefix(rest, ".") {
		rest = rest[1:]
		j := 0
		for j < len(rest) && isAttrChar(rest[j]) {
			j++
		}
		if j == 0 {
			return nil, fmt.Errorf("path %q has an empty sub-attribute", s)
		}
		p.Sub = rest[:j]
		rest = rest[j:]
	}
	if rest != "" {
		return nil, fmt.Errorf("path %q has unexpected text %q", s, rest)
	}
	return p, nil
}

func isAttrChar(c byte) bool {
	return c == '_' || c == '$' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
}

// closingBracket finds the `]` that closes s[0] == '[', skipping quoted text.
func closingBracket(s string) int {
	inQuote := false
	for i := 1; i < len(s); i++ {
		switch {
		case inQuote && s[i] == '\\':
			i++
		case s[i] == '"':
			inQuote = !inQuote
		case !inQuote && s[i] == ']':
			return i
		}
	}
	return -1
}

// parseFilter parses `a eq "x" and b eq y` (only eq and and, as Encompass
// supports). Quoted values may follow eq without a space (`type eq"User"`,
// as in the reference sample).
func parseFilter(s string) ([]filterTerm, error) {
	var terms []filterTerm
	rest := strings.TrimSpace(s)
	for {
		i := 0
		for i < len(rest) && isAttrChar(rest[i]) || (i < len(rest) && rest[i] == '.') {
			i++
		}
		if i == 0 {
			return nil, errors.New("filter needs an attribute name")
		}
		name := rest[:i]
		rest = strings.TrimLeft(rest[i:], " ")
		if len(rest) < 2 || !strings.EqualFold(rest[:2], "eq") {
			return nil, errors.New(`filter supports only "eq"`)
		}
		rest = strings.TrimLeft(rest[2:], " ")
		var value string
		if strings.HasPrefix(rest, `"`) {
			end := 1
			for end < len(rest) && rest[end] != '"' {
				if rest[end] == '\\' {
					end++
				}
				end++
			}
			if end >= len(rest) {
				return nil, errors.New("filter has an unterminated string")
			}
			if err := json.Unmarshal([]byte(rest[:end+1]), &value); err != nil {
				return nil, errors.New("filter has a malformed string")
			}
			rest = rest[end+1:]
		} else {
			j := 0
			for j < len(rest) && rest[j] != ' ' {
				j++
			}
			value = rest[:j]
			rest = rest[j:]
			if value == "" {
				return nil, errors.New("filter needs a value")
			}
		}
		terms = append(terms, filterTerm{Name: name, Value: value})
		if len(terms) > 10 {
			return nil, errors.New("filter has too many terms")
		}
		rest = strings.TrimLeft(rest, " ")
		if rest == "" {
			return terms, nil
		}
		if len(rest) < 4 || !strings.EqualFold(rest[:4], "and ") {
			return nil, errors.New(`filter terms must be joined by "and"`)
		}
		rest = strings.TrimLeft(rest[4:], " ")
	}
}

// term returns the value of a filter term by name (case-insensitive).
func term(terms []filterTerm, name string) (string, bool) {
	for _, t := range terms {
		if strings.EqualFold(t.Name, name) {
			return t.Value, true
		}
	}
	return "", false
}
