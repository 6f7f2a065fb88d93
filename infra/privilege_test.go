package main

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// statements returns the identity-policy statements attached to the role of
// a function.
func (s *synthesis) statements(t *testing.T, fn string) []map[string]any {
	t.Helper()
	roleID := dig(props(s.resource(t, fn)), "Role", "Fn::GetAtt").([]any)[0].(string)
	var out []map[string]any
	for _, pol := range s.resources("AWS::IAM::Policy") {
		for _, r := range list(dig(pol, "Properties", "Roles")) {
			if !refersTo(r, roleID) {
				continue
			}
			for _, st := range list(dig(pol, "Properties", "PolicyDocument", "Statement")) {
				out = append(out, st.(map[string]any))
			}
		}
	}
	if len(out) == 0 {
		t.Fatalf("%s: no policy statements on its role %s", fn, roleID)
	}
	return out
}

// actionsOf are a statement's actions, sorted.
func actionsOf(st map[string]any) []string { return stringsOf(st["Action"]) }

// stringsOf are the strings of a JSON string or list, sorted.
func stringsOf(v any) []string {
	var out []string
	for _, x := range list(v) {
		out = append(out, x.(string))
	}
	slices.Sort(out)
	return out
}

// TestStateTableGrantsAreScopedByLeadingKeys (issue 10, least privilege):
// every state-table statement of every role carries a
// ForAllValues:StringLike dynamodb:LeadingKeys condition naming exactly the
// key prefixes that function owns or reads, with exactly the actions its
// code calls on them.
func TestStateTableGrantsAreScopedByLeadingKeys(t *testing.T) {
	s := defaultStack(t)
	table := s.logicalID(t, "StateTable/Resource")
	type scoped struct{ actions, keys string }
	join := func(ss []string) string { ss = slices.Clone(ss); slices.Sort(ss); return strings.Join(ss, " ") }
	want := map[string][]scoped{
		"ProvisionFunction":   {{join(provisioningTableActions), join(provisioningKeys)}},
		"DeprovisionFunction": {{join(provisioningTableActions), join(provisioningKeys)}},
		"PollerFunction": {
			{join(pollerOwnTableActions), join(pollerOwnKeys)},
			{"dynamodb:Query", "TERMINATED USER#*"},
		},
		"WebhookFunction":   {{"dynamodb:GetItem dynamodb:PutItem dynamodb:UpdateItem", "WEBHOOK#*"}},
		"ReconcileFunction": {{"dynamodb:GetItem dynamodb:Query", "EMP#* LINK#* POLL#*"}},
	}
	// The lists themselves, spelt out, so that a change to them is a
	// deliberate change to this test too.
	if got := join(provisioningKeys); got != "EMP#* EVENT#* HELD#* LINK#* REJECTED#* TERMINATED USER#*" {
		t.Errorf("provisioning key prefixes = %s", got)
	}
	if got := join(pollerOwnKeys); got != "POLL#*" {
		t.Errorf("poller key prefixes = %s", got)
	}
	for fn, wantScopes := range want {
		var got []scoped
		for _, st := range s.statements(t, fn) {
			acts := actionsOf(st)
			if !slices.ContainsFunc(acts, func(a string) bool { return strings.HasPrefix(a, "dynamodb:") }) {
				continue
			}
			if res := list(st["Resource"]); len(res) != 1 || !refersTo(res[0], table) {
				t.Errorf("%s: DynamoDB statement %v on %v, want the state table only", fn, acts, st["Resource"])
			}
			cond, _ := st["Condition"].(map[string]any)
			if len(cond) != 1 || len(cond["ForAllValues:StringLike"].(map[string]any)) != 1 {
				t.Errorf("%s: DynamoDB statement %v has condition %v, want only ForAllValues:StringLike on dynamodb:LeadingKeys", fn, acts, cond)
				continue
			}
			keys := stringsOf(dig(cond, "ForAllValues:StringLike", "dynamodb:LeadingKeys"))
			if len(keys) == 0 {
				t.Errorf("%s: DynamoDB statement %v is not scoped by dynamodb:LeadingKeys: %v", fn, acts, cond)
			}
			for _, a := range acts {
				if a == "dynamodb:Scan" || strings.HasPrefix(a, "dynamodb:Transact") || strings.HasPrefix(a, "dynamodb:PartiQL") {
					t.Errorf("%s: %s names no partition key, LeadingKeys cannot scope it", fn, a)
				}
			}
			got = append(got, scoped{strings.Join(acts, " "), strings.Join(keys, " ")})
		}
		cmp := func(a, b scoped) int { return strings.Compare(a.actions+"|"+a.keys, b.actions+"|"+b.keys) }
		slices.SortFunc(got, cmp)
		slices.SortFunc(wantScopes, cmp)
		if !slices.Equal(got, wantScopes) {
			t.Errorf("%s state-table grants:\n got %v\nwant %v", fn, got, wantScopes)
		}
	}
}

// TestPutEventsIsLimitedToEachFunctionsSource (issue 10): each role may
// publish only under its own source, so no function can forge another's
// events on the bus.
func TestPutEventsIsLimitedToEachFunctionsSource(t *testing.T) {
	s := defaultStack(t)
	bus := s.logicalID(t, "EventBus/Resource")
	want := map[string]string{
		"ProvisionFunction":   "encompass.provisioning",
		"DeprovisionFunction": "encompass.provisioning",
		"PollerFunction":      "encompass.poller",
		"WebhookFunction":     "encompass.webhook",
		"ReconcileFunction":   "encompass.reconcile",
	}
	for fn, source := range want {
		n := 0
		for _, st := range s.statements(t, fn) {
			if !slices.Contains(actionsOf(st), "events:PutEvents") {
				continue
			}
			n++
			if !refersTo(list(st["Resource"])[0], bus) || len(list(st["Resource"])) != 1 {
				t.Errorf("%s: PutEvents on %v, want the bus only", fn, st["Resource"])
			}
			cond, _ := st["Condition"].(map[string]any)
			got := stringsOf(dig(cond, "StringEquals", "events:source"))
			if len(cond) != 1 || !slices.Equal(got, []string{source}) {
				t.Errorf("%s: PutEvents condition %v, want StringEquals events:source %s", fn, cond, source)
			}
		}
		if n != 1 {
			t.Errorf("%s: %d PutEvents statements, want 1", fn, n)
		}
	}
	// No other principal in the template may put events on the bus.
	for id, pol := range s.resources("AWS::IAM::Policy") {
		for _, st := range list(dig(pol, "Properties", "PolicyDocument", "Statement")) {
			st := st.(map[string]any)
			if slices.Contains(actionsOf(st), "events:PutEvents") && dig(st, "Condition", "StringEquals", "events:source") == nil {
				t.Errorf("%s: PutEvents without an events:source condition", id)
			}
		}
	}
}

// TestWebhookHasReservedConcurrency (issue 10): the webhook's concurrency is
// capped, from the stage's rate limit, and it takes no Encompass budget.
func TestWebhookHasReservedConcurrency(t *testing.T) {
	s := defaultStack(t)
	got := dig(props(s.resource(t, "WebhookFunction")), "ReservedConcurrentExecutions")
	if got == nil {
		t.Fatal("WebhookFunction has no reserved concurrency")
	}
	if n := number(t, got); n != 10 {
		t.Errorf("WebhookFunction reserved concurrency = %v, want 10 (50 requests/s x 0.2 s)", n)
	}
	for _, c := range []struct{ rate, want int }{{1, 2}, {5, 2}, {50, 10}, {51, 11}, {100, 20}, {10000, 2000}} {
		if got := webhookReservedConcurrency(c.rate); got != c.want {
			t.Errorf("webhookReservedConcurrency(%d) = %d, want %d", c.rate, got, c.want)
		}
	}
}

// codeFacts is what the functions' Go code does with the state table, read
// from the source of pkg/state: which DynamoDB operations it
// builds inputs for and which partition-key prefixes it writes.
type codeFacts struct {
	operations []string // "dynamodb:GetItem", ...
	keys       []string // "EVENT#", "TERMINATED", "POLL#META", ...
}

// pkPattern matches a key value: upper-case letters, then '#' and more, or
// nothing (TERMINATED); the attribute name "pk" does not match.
var pkPattern = regexp.MustCompile(`^[A-Z][A-Z_]*(#.*)?$`)

// readCodeFacts parses the non-test Go files of a package of the root
// module: every dynamodb.<Op>Input composite literal is an operation, and
// every string constant whose name contains "PK", or string literal that
// starts a function whose name ends in "PK", is a partition-key value or
// prefix.
func readCodeFacts(t *testing.T, pkg string, include func(file string) bool) codeFacts {
	t.Helper()
	root, _ := repoRoot()
	dir := filepath.Join(root, pkg)
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var f codeFacts
	fset := token.NewFileSet()
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".go") || strings.HasSuffix(e.Name(), "_test.go") || !include(e.Name()) {
			continue
		}
		file, err := parser.ParseFile(fset, filepath.Join(dir, e.Name()), nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(file, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.CompositeLit:
				if sel, ok := n.Type.(*ast.SelectorExpr); ok {
					if x, ok := sel.X.(*ast.Ident); ok && x.Name == "dynamodb" && strings.HasSuffix(sel.Sel.Name, "Input") {
						f.operations = append(f.operations, "dynamodb:"+strings.TrimSuffix(sel.Sel.Name, "Input"))
					}
				}
			case *ast.ValueSpec:
				// The claim kinds (state.ClaimKind "EVENT", "WEBHOOK") key
				// their items <kind>#<id>.
				if typ, ok := n.Type.(*ast.Ident); ok && typ.Name == "ClaimKind" {
					for _, v := range n.Values {
						if k, ok := stringLit(v); ok {
							f.keys = append(f.keys, k+"#")
						}
					}
				}
				for i, name := range n.Names {
					if strings.Contains(name.Name, "PK") && i < len(n.Values) {
						if v, ok := stringLit(n.Values[i]); ok && pkPattern.MatchString(v) {
							f.keys = append(f.keys, v)
						}
					}
				}
			case *ast.FuncDecl:
				if strings.HasSuffix(n.Name.Name, "PK") && n.Body != nil {
					ast.Inspect(n.Body, func(m ast.Node) bool {
						if ret, ok := m.(*ast.ReturnStmt); ok && len(ret.Results) == 1 {
							e := ret.Results[0]
							for {
								b, ok := e.(*ast.BinaryExpr)
								if !ok {
									break
								}
								e = b.X
							}
							if v, ok := stringLit(e); ok && pkPattern.MatchString(v) {
								f.keys = append(f.keys, v)
							}
						}
						return true
					})
				}
			}
			return true
		})
	}
	slices.Sort(f.operations)
	f.operations = slices.Compact(f.operations)
	slices.Sort(f.keys)
	f.keys = slices.Compact(f.keys)
	return f
}

func stringLit(e ast.Expr) (string, bool) {
	lit, ok := e.(*ast.BasicLit)
	if !ok || lit.Kind != token.STRING {
		return "", false
	}
	v, err := strconv.Unquote(lit.Value)
	return v, err == nil
}

// covered reports whether an IAM StringLike pattern list ('*' any run of
// characters, '?' one) admits every partition key with this prefix (or
// this exact key, for one without '#').
func covered(patterns []string, key string) bool {
	probe := key
	if strings.HasSuffix(key, "#") {
		probe += "x" // a prefix: some key under it
	}
	for _, p := range patterns {
		re := "^" + strings.NewReplacer(`\*`, ".*", `\?`, ".").Replace(regexp.QuoteMeta(p)) + "$"
		if regexp.MustCompile(re).MatchString(probe) {
			return true
		}
	}
	return false
}

// TestGrantsCoverWhatTheCodeDoes reads pkg/state (the only package that
// talks to DynamoDB) and checks
// that every DynamoDB operation they build and every partition key they
// write is granted to the functions that use them. dynalite ignores IAM, so
// no local test would notice a new key prefix or a new operation (say a
// TransactWriteItems) that the deployed role refuses; this test does.
func TestGrantsCoverWhatTheCodeDoes(t *testing.T) {
	// pkg/state is the only package that talks to DynamoDB; its snapshot
	// and stage files are the poller's items (state.Snapshot).
	pollerFile := func(f string) bool { return strings.HasPrefix(f, "snapshot") || f == "stage.go" }
	state := readCodeFacts(t, filepath.Join("pkg", "state"), func(f string) bool { return !pollerFile(f) })
	poll := readCodeFacts(t, filepath.Join("pkg", "state"), pollerFile)
	t.Logf("pkg/state: operations %v, keys %v", state.operations, state.keys)
	t.Logf("pkg/state (the poller's snapshot): operations %v, keys %v", poll.operations, poll.keys)
	// Enough found that the reading itself works.
	for _, k := range []string{"EVENT#", "EMP#", "USER#", "TERMINATED", "WEBHOOK#"} {
		if !slices.Contains(state.keys, k) {
			t.Errorf("found no %q key in pkg/state (found %v): has the key code moved? update readCodeFacts", k, state.keys)
		}
	}
	if len(poll.keys) == 0 || len(state.operations) == 0 || len(poll.operations) == 0 {
		t.Fatalf("found too little in the code (state %+v, poll %+v): update readCodeFacts", state, poll)
	}

	stateActions := slices.Concat(provisioningTableActions, webhookTableActions, pollerReadTableActions)
	// state.CreateTable is for local runs and tests; in AWS the stack owns
	// the table and no function administers it.
	localOnly := []string{"dynamodb:CreateTable", "dynamodb:DescribeTable", "dynamodb:UpdateTimeToLive"}
	for _, op := range state.operations {
		if !slices.Contains(stateActions, op) && !slices.Contains(localOnly, op) {
			t.Errorf("pkg/state builds a %s, which no function's role grants", op)
		}
	}
	for _, op := range poll.operations {
		if !slices.Contains(pollerOwnTableActions, op) {
			t.Errorf("the poller's snapshot builds a %s, which the poller's role does not grant", op)
		}
	}
	for _, k := range state.keys {
		if !covered(provisioningKeys, k) && !covered(webhookKeys, k) {
			t.Errorf("pkg/state writes partition key %q, which no role's dynamodb:LeadingKeys admits: add it to permissions.go", k)
		}
	}
	for _, k := range poll.keys {
		if !covered(pollerOwnKeys, k) {
			t.Errorf("the poller's snapshot writes partition key %q, outside the poller's %v", k, pollerOwnKeys)
		}
	}
	// And the checker itself tells a covered key from one that is not.
	if covered(webhookKeys, "EVENT#") || !covered(provisioningKeys, "TERMINATED") || covered(provisioningKeys, "TERMINATEDX") || !covered(pollerOwnKeys, "POLL#META") {
		t.Error("covered() is wrong")
	}
}
