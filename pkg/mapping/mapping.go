// Package mapping holds the rules that decide an employee's Encompass access
// (CONTRACTS section 6): organization, personas, user groups, working folder
// and SSO. Rules are read from a YAML file (JSON is valid YAML) or taken from
// the built-in defaults, checked strictly, and resolved from names to ids once
// per container, so that a typo in the mapping stops the function at cold start
// instead of failing every event.
package mapping

import (
	"bytes"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"
)

// WhenKeys are the employee attributes a rule may match on.
var WhenKeys = []string{"jobCode", "jobTitle", "department", "location"}

// Rules is a parsed mapping file.
type Rules struct {
	Defaults Access `yaml:"defaults"`
	Rules    []Rule `yaml:"rules"`
}

// Access is what a rule (or the defaults) grants, by name. A nil field in a
// rule means "keep the default"; an empty list means "none".
type Access struct {
	Organization  *string  `yaml:"organization"`
	Personas      []string `yaml:"personas"`
	UserGroups    []string `yaml:"userGroups"`
	WorkingFolder *string  `yaml:"workingFolder"`
	SSOOnly       *bool    `yaml:"ssoOnly"`
	// DDA grants a DDA (AIQ) profile (CONTRACTS section 6). Left out of a
	// rule it keeps the default; `dda: null` in a rule grants none.
	DDA DDAKey `yaml:"dda"`
}

// DDA is the DDA (AIQ) profile a rule grants: the DDA role, and whether the
// profile signs in through SSO only (DDA's own default: true), which needs
// the employee's ddaAuthId.
type DDA struct {
	RoleName string `yaml:"roleName"`
	SSOOnly  *bool  `yaml:"ssoOnly"`
}

// DDAKey is the `dda` key of a rule: whether the key was given at all (a
// rule that leaves it out keeps the default; an explicit null grants no DDA
// profile), and its value.
type DDAKey struct {
	Set   bool
	Value *DDA
}

// UnmarshalYAML records that the key was given. The YAML decoder never
// calls it for null, so Parse marks an explicit `dda: null` itself
// (markNullDDA).
func (k *DDAKey) UnmarshalYAML(n *yaml.Node) error {
	k.Set = true
	var d DDA
	if err := decodeStrict(n, &d); err != nil {
		// The value is decoded on its own, so its own line numbers are
		// relative: name the key's line in the file instead.
		return fmt.Errorf("line %d: dda must be {roleName, ssoOnly} or null: %w", n.Line, err)
	}
	k.Value = &d
	return nil
}

// decodeStrict decodes a node refusing unknown keys, as the whole file is.
func decodeStrict(n *yaml.Node, v any) error {
	b, err := yaml.Marshal(n)
	if err != nil {
		return err
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	return dec.Decode(v)
}

// Rule grants Access to employees whose attributes match every pattern of
// When (glob patterns, case-insensitive).
type Rule struct {
	When   map[string]string `yaml:"when"`
	Access `yaml:",inline"`
}

//go:embed default.yaml
var defaultYAML []byte

// Default returns the built-in rules, used when MAPPING_FILE is unset.
func Default() *Rules {
	r, err := Parse(defaultYAML)
	if err != nil {
		panic("mapping: built-in rules are invalid: " + err.Error())
	}
	return r
}

// LoadFile reads and checks the rules in the file at name.
func LoadFile(name string) (*Rules, error) {
	b, err := os.ReadFile(name)
	if err != nil {
		return nil, fmt.Errorf("mapping: MAPPING_FILE: %w", err)
	}
	r, err := Parse(b)
	if err != nil {
		return nil, fmt.Errorf("mapping: MAPPING_FILE %s: %w", name, err)
	}
	return r, nil
}

// Parse decodes and checks rules. Unknown keys, unknown `when` attributes,
// bad glob patterns and defaults without an organization or personas are
// errors.
func Parse(b []byte) (*Rules, error) {
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	var r Rules
	if err := dec.Decode(&r); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, errors.New("the mapping is empty; it needs at least `defaults` with organization and personas")
		}
		return nil, fmt.Errorf("invalid mapping: %w", err)
	}
	var extra any
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return nil, errors.New("invalid mapping: more than one YAML document")
	}
	markNullDDA(b, &r)
	return &r, r.check()
}

// markNullDDA marks the rules whose `dda` key is an explicit null: such a
// rule grants no DDA profile, where one that leaves the key out keeps the
// default's.
func markNullDDA(b []byte, r *Rules) {
	var doc yaml.Node
	if yaml.Unmarshal(b, &doc) != nil || len(doc.Content) == 0 {
		return
	}
	rules := mapValue(doc.Content[0], "rules")
	if rules == nil || rules.Kind != yaml.SequenceNode {
		return
	}
	for i, rule := range rules.Content {
		if v := mapValue(rule, "dda"); v != nil && v.ShortTag() == "!!null" && i < len(r.Rules) {
			r.Rules[i].DDA = DDAKey{Set: true}
		}
	}
}

// mapValue returns the value of key in a YAML mapping node (nil if none).
func mapValue(n *yaml.Node, key string) *yaml.Node {
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1]
		}
	}
	return nil
}

func (r *Rules) check() error {
	var errs []error
	if r.Defaults.Organization == nil || strings.TrimSpace(*r.Defaults.Organization) == "" {
		errs = append(errs, errors.New("defaults.organization is required"))
	}
	if len(r.Defaults.Personas) == 0 {
		errs = append(errs, errors.New("defaults.personas needs at least one persona: Encompass users must have one"))
	}
	errs = append(errs, checkNames("defaults", r.Defaults)...)
	for i, rule := range r.Rules {
		where := fmt.Sprintf("rules[%d]", i)
		if len(rule.When) == 0 {
			errs = append(errs, fmt.Errorf("%s.when is empty; give at least one of %s (a catch-all belongs in defaults)", where, strings.Join(WhenKeys, ", ")))
		}
		for k, pattern := range rule.When {
			if !slices.Contains(WhenKeys, k) {
				errs = append(errs, fmt.Errorf("%s.when.%s is not a matchable attribute; use %s", where, k, strings.Join(WhenKeys, ", ")))
				continue
			}
			if _, err := path.Match(strings.ToLower(pattern), ""); err != nil {
				errs = append(errs, fmt.Errorf("%s.when.%s: %q is not a valid glob pattern", where, k, pattern))
			}
		}
		if rule.Personas != nil && len(rule.Personas) == 0 {
			errs = append(errs, fmt.Errorf("%s.personas is empty: Encompass users must have a persona; leave the key out to keep the default", where))
		}
		errs = append(errs, checkNames(where, rule.Access)...)
	}
	return errors.Join(errs...)
}

// DDAKeys names every place the rules grant a DDA profile ("defaults.dda",
// "rules[2].dda"): in v3 mode each is a start-up error, since only SCIM
// can give a DDA profile the employee's global user id.
func (r *Rules) DDAKeys() []string {
	var keys []string
	if r.Defaults.DDA.Value != nil {
		keys = append(keys, "defaults.dda")
	}
	for i, rule := range r.Rules {
		if rule.DDA.Value != nil {
			keys = append(keys, fmt.Sprintf("rules[%d].dda", i))
		}
	}
	return keys
}

func checkNames(where string, a Access) []error {
	var errs []error
	if a.Organization != nil && strings.TrimSpace(*a.Organization) == "" {
		errs = append(errs, fmt.Errorf("%s.organization is empty", where))
	}
	if a.DDA.Value != nil && strings.TrimSpace(a.DDA.Value.RoleName) == "" {
		errs = append(errs, fmt.Errorf("%s.dda.roleName is required: a DDA profile needs its role (use `dda: null` for none)", where))
	}
	for field, names := range map[string][]string{"personas": a.Personas, "userGroups": a.UserGroups} {
		for _, n := range names {
			if strings.TrimSpace(n) == "" {
				errs = append(errs, fmt.Errorf("%s.%s contains an empty name", where, field))
			}
		}
	}
	return errs
}

// Attributes are the employee attributes rules match on. Empty means the
// employee has no value.
type Attributes struct {
	JobCode, JobTitle, Department, Location string
}

func (a Attributes) get(key string) string {
	switch key {
	case "jobCode":
		return a.JobCode
	case "jobTitle":
		return a.JobTitle
	case "department":
		return a.Department
	case "location":
		return a.Location
	}
	return ""
}

// Match returns the index of the first rule whose every `when` pattern
// matches, or -1 when only the defaults apply.
func (r *Rules) Match(a Attributes) int {
	for i, rule := range r.Rules {
		if rule.matches(a) {
			return i
		}
	}
	return -1
}

func (rule Rule) matches(a Attributes) bool {
	for k, pattern := range rule.When {
		ok, err := path.Match(strings.ToLower(pattern), strings.ToLower(a.get(k)))
		if err != nil || !ok {
			return false
		}
	}
	return true
}

// effective merges rule i (or none, for -1) over the defaults.
func (r *Rules) effective(i int) Access {
	eff := r.Defaults
	if i < 0 {
		return eff
	}
	rule := r.Rules[i].Access
	if rule.Organization != nil {
		eff.Organization = rule.Organization
	}
	if rule.Personas != nil {
		eff.Personas = rule.Personas
	}
	if rule.UserGroups != nil {
		eff.UserGroups = rule.UserGroups
	}
	if rule.WorkingFolder != nil {
		eff.WorkingFolder = rule.WorkingFolder
	}
	if rule.SSOOnly != nil {
		eff.SSOOnly = rule.SSOOnly
	}
	if rule.DDA.Set {
		eff.DDA = rule.DDA
	}
	return eff
}

// names lists every persona, organization and group name the rules use.
func (r *Rules) names() (personas, orgs, groups []string) {
	add := func(a Access) {
		personas = append(personas, a.Personas...)
		groups = append(groups, a.UserGroups...)
		if a.Organization != nil {
			orgs = append(orgs, *a.Organization)
		}
	}
	add(r.Defaults)
	for _, rule := range r.Rules {
		add(rule.Access)
	}
	return uniqueFold(personas), uniqueFold(orgs), uniqueFold(groups)
}

// uniqueFold sorts names and drops case-insensitive duplicates.
func uniqueFold(names []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, n := range names {
		k := strings.ToLower(n)
		if !seen[k] {
			seen[k] = true
			out = append(out, n)
		}
	}
	slices.Sort(out)
	return out
}
