package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/jsii-runtime-go"
)

// synthesis is one synthesized app. Synthesis through jsii takes seconds,
// so each configuration is synthesized once per test binary and shared.
type synthesis struct {
	stack    *LifecycleStack
	template assertions.Template
	doc      map[string]any // the template as JSON
	outdir   string
}

var (
	synthMu sync.Mutex
	synths  = map[string]*synthesis{}
)

// synthesize builds the stack with the defaults plus overrides,
// once per distinct override set. A missing dist/ fails the test with the
// fix: the stack cannot be synthesized without the real bootstraps.
func synthesize(t *testing.T, overrides map[string]any) *synthesis {
	t.Helper()
	key, _ := json.Marshal(overrides) // map keys marshal sorted
	synthMu.Lock()
	defer synthMu.Unlock()
	if s, ok := synths[string(key)]; ok {
		return s
	}
	root, err := repoRoot()
	if err != nil {
		t.Fatal(err)
	}
	dist := DistDir(root)
	for _, dir := range functionDirs {
		if _, err := os.Stat(filepath.Join(dist, dir, "bootstrap")); err != nil {
			t.Fatalf("%s/%s/bootstrap is missing: run make build first (make test does)", dist, dir)
		}
	}
	// The tests pin their own settings rather than read cdk.json, so that a
	// deployer's edits there do not change what the tests expect; CDK's
	// feature flags (keys with a ":") do come from cdk.json, so that the
	// tests synthesize the stack a deploy would.
	ctx := map[string]any{ctxInstanceID: simulatorInstanceID}
	committed, err := readContext(filepath.Join(root, "infra", "cdk.json"))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range committed {
		if strings.Contains(k, ":") {
			ctx[k] = v
		}
	}
	for k, v := range overrides {
		ctx[k] = v
	}
	outdir, err := os.MkdirTemp("", "infra-test-cdk.out-")
	if err != nil {
		t.Fatal(err)
	}
	tempDirs = append(tempDirs, outdir)
	app := NewApp(outdir, ctx)
	stack, err := Build(app, root, dist)
	if err != nil {
		t.Fatalf("build stack: %v", err)
	}
	tmpl := assertions.Template_FromStack(stack.Stack, nil)
	stack.Cleanup()
	raw, err := json.Marshal(tmpl.ToJSON())
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	s := &synthesis{stack: stack, template: tmpl, doc: doc, outdir: outdir}
	synths[string(key)] = s
	return s
}

var tempDirs []string

func TestMain(m *testing.M) {
	code := m.Run()
	for _, d := range tempDirs {
		os.RemoveAll(d)
	}
	jsii.Close()
	os.Exit(code)
}

// defaultStack is the stack of the default configuration.
func defaultStack(t *testing.T) *synthesis { return synthesize(t, nil) }

// resources returns the template's resources of one type, by logical id.
func (s *synthesis) resources(typ string) map[string]map[string]any {
	out := map[string]map[string]any{}
	for id, r := range s.doc["Resources"].(map[string]any) {
		res := r.(map[string]any)
		if res["Type"] == typ {
			out[id] = res
		}
	}
	return out
}

// resource returns one resource by logical id, failing when absent.
func (s *synthesis) resource(t *testing.T, id string) map[string]any {
	t.Helper()
	r, ok := s.doc["Resources"].(map[string]any)[id].(map[string]any)
	if !ok {
		t.Fatalf("template has no resource %q", id)
	}
	return r
}

// logicalID returns the logical id of the construct's default resource.
func (s *synthesis) logicalID(t *testing.T, path string) string {
	t.Helper()
	for id, r := range s.doc["Resources"].(map[string]any) {
		md, _ := r.(map[string]any)["Metadata"].(map[string]any)
		if md["aws:cdk:path"] == StackName+"/"+path {
			return id
		}
	}
	t.Fatalf("no resource at construct path %s", path)
	return ""
}

// props returns a resource's Properties.
func props(r map[string]any) map[string]any {
	p, _ := r["Properties"].(map[string]any)
	return p
}

// dig walks nested maps by key.
func dig(v any, keys ...string) any {
	for _, k := range keys {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[k]
	}
	return v
}

// list returns v as a list, wrapping a single value (IAM allows both).
func list(v any) []any {
	switch x := v.(type) {
	case nil:
		return nil
	case []any:
		return x
	default:
		return []any{x}
	}
}

// refersTo reports whether v is {"Ref": id} or {"Fn::GetAtt": [id, ...]}.
func refersTo(v any, id string) bool {
	if dig(v, "Ref") == id {
		return true
	}
	ga, ok := dig(v, "Fn::GetAtt").([]any)
	return ok && len(ga) > 0 && ga[0] == id
}

// number converts a template number (JSON float or string) to float64.
func number(t *testing.T, v any) float64 {
	t.Helper()
	switch n := v.(type) {
	case float64:
		return n
	case string:
		var f float64
		if _, err := fmt.Sscan(n, &f); err == nil {
			return f
		}
	}
	t.Fatalf("%v (%T) is not a number", v, v)
	return 0
}

// assertMatches runs an assertions.Template check, turning its panic into
// a test failure with the library's explanation.
func assertMatches(t *testing.T, what string, check func()) {
	t.Helper()
	defer func() {
		if r := recover(); r != nil {
			t.Errorf("%s: %v", what, r)
		}
	}()
	check()
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// message renders a synthesis message (construct path and text) as JSON,
// without the JavaScript stack trace.
func message(m any) string {
	b, err := json.Marshal(m)
	if err != nil {
		return fmt.Sprint(m)
	}
	var doc map[string]any
	if json.Unmarshal(b, &doc) == nil {
		if entry, ok := doc["entry"].(map[string]any); ok {
			delete(entry, "trace")
		}
		b, _ = json.Marshal(doc)
	}
	return string(b)
}
