package reconcile_test

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lenderops/encompass-lifecycle/internal/testenv"
	"github.com/lenderops/encompass-lifecycle/pkg/catalog"
	"github.com/lenderops/encompass-lifecycle/pkg/reconcile"
	"github.com/lenderops/encompass-lifecycle/pkg/state"
)

// padding is n valid rows of a roster with the header's columns
// (terminated, no account: in_sync), so that a few bad rows stay under the
// 5% the guard allows.
func padding(header string, n int) []string {
	columns := strings.Split(header, ",")
	rows := make([]string, n)
	for i := range rows {
		cells := make([]string, len(columns))
		for j, c := range columns {
			switch c {
			case "employeeId":
				cells[j] = fmt.Sprintf("P%05d", i)
			case "givenName":
				cells[j] = "Pad"
			case "familyName":
				cells[j] = "Row"
			case "email":
				cells[j] = fmt.Sprintf("pad%05d@lender.example", i)
			case "status":
				cells[j] = "terminated"
			}
		}
		rows[i] = strings.Join(cells, ",")
	}
	return rows
}

func refusedReason(t *testing.T, e *env) string {
	t.Helper()
	evs := e.reconcileEvents()
	if len(evs) == 0 {
		t.Fatal("nothing published")
	}
	last := evs[len(evs)-1]
	if last.DetailType != catalog.ReconciliationRefused {
		return ""
	}
	r, _ := last.DetailMap()["reason"].(string)
	return r
}

// Rosters that hold no rows are refused: there is nothing to compare, and
// an empty export is a failed export.
func TestEmptyRosters(t *testing.T) {
	t.Parallel()
	e := dayOne(t)
	for i, body := range []string{"", "\xef\xbb\xbf", dayOneHeader + "\r\n", "\xef\xbb\xbf" + dayOneHeader + "\n\n", "\n\n  \n"} {
		for _, ext := range []string{".csv", ".jsonl"} {
			if ext == ".jsonl" && strings.Contains(body, "employeeId") {
				continue
			}
			res := e.run(fmt.Sprintf("rosters/apply/empty-%d%s", i, ext), body)
			if res.Refused != reconcile.RefusedEmpty || refusedReason(t, e) != reconcile.RefusedEmpty || res.Sent != 0 {
				t.Errorf("%q%s: %+v", body, ext, res)
			}
			if r := e.report(res); r.Refused != reconcile.RefusedEmpty || len(r.Findings) != 0 {
				t.Errorf("%q%s: report %+v", body, ext, r)
			}
		}
	}
	if len(e.sqs.Ops()) != 0 {
		t.Fatal("a refused roster sent events")
	}
}

// CSV as spreadsheets write it: a byte order mark, CRLF, quoted commas and
// newlines, header names in another case, surrounding spaces.
func TestCSVQuirks(t *testing.T) {
	t.Parallel()
	e := dayOne(t)
	body := "\xef\xbb\xbfEmployeeID, GivenName ,familyname,EMAIL,jobTitle,status\r\n" +
		`E20001,"Lee, Pat",Lee,pat.lee@lender.example,"Loan Officer, ""Senior""",active` + "\r\n" +
		// A quoted newline is one cell; section 1 refuses it in a name.
		`E20006,Multi,"Line` + "\r\n" + `Name",multi@lender.example,,active` + "\r\n" +
		"E20005,Gone,Before,gone.before@lender.example,, terminated \r\n" +
		"E10001,Maria,Johnson,maria.johnson@lender.example,,active\n" +
		strings.Join(padding("employeeId,givenName,familyName,email,jobTitle,status", 40), "\r\n") + "\r\n"
	res := e.run("rosters/dry-run/quirks.csv", body)
	r := e.report(res)
	if res.Refused != "" || len(r.Findings) < 2 {
		t.Fatalf("%+v\n%s", res, fmtFindings(r.Findings))
	}
	f := r.byEmployee(t, "E20001")
	if f.Class != reconcile.ClassMissing || f.Row != 2 {
		t.Errorf("quoted commas and quotes: %+v", f)
	}
	if f := r.byEmployee(t, "E20006"); f.Class != reconcile.ClassInvalid || f.Row != 3 || !strings.Contains(f.Reason, "familyName: contains U+000A") {
		t.Errorf("quoted newline: %+v", f)
	}
	if f := r.byEmployee(t, "E20005"); f.Class != reconcile.ClassInSync || f.Row != 5 {
		t.Errorf("row after a quoted newline: %+v", f)
	}
	if f := r.byEmployee(t, "E10001"); f.Class != reconcile.ClassInSync && f.Class != reconcile.ClassDrift {
		t.Errorf("row after a lone LF: %+v", f)
	}
}

// Row-level problems are invalid findings with a reason, never a stop: a
// missing or unknown status, a field section 1 refuses, a short row, a
// badly quoted row, hostile text, an employee listed twice (with
// different e-mails), an explicit link to a login that does not exist.
func TestInvalidRows(t *testing.T) {
	t.Parallel()
	e := dayOne(t)
	header := "employeeId,givenName,familyName,email,workPhone,encompassUserName,status"
	bad := []string{
		"B1,No,Status,no.status@lender.example,,,",
		"B2,Odd,Status,odd.status@lender.example,,,retired",
		"B3,Bad,Phone,bad.phone@lender.example,call me,,active",
		"B4,Short,Row",
		`B5,Bad "quote",Row,bad.quote@lender.example,,,active`,
		"B6,Right\u202eLeft,Override,rlo@lender.example,,,active",
		"B7,Twice,Listed,first@lender.example,,,active",
		"B7,Twice,Listed,second@lender.example,,,active",
		"B8,Named,Link,named.link@lender.example,,nobody.here,active",
		"B9,Taken,Link,taken.link@lender.example,,MJohnson,active",
		"E10001,Maria,Johnson,maria.johnson@lender.example,,,active",
	}
	res := e.run("rosters/apply/invalid.csv", csvRoster(header, append(padding(header, 200), bad...)...))
	// 10 invalid rows of 211: under 5%.
	if res.Refused != "" {
		t.Fatalf("refused: %+v", res)
	}
	r := e.report(res)
	want := map[string]string{
		"B1": "status is required", "B2": `status "retired" is not active or terminated`, "B3": "workPhone",
		"B4": "has 3 fields; the header has 7", "B6": "U+202E", "B8": "link_not_found", "B9": "link_conflict: encompassUserName \"MJohnson\" is linked to employee E10001",
	}
	for id, says := range want {
		f := r.byEmployee(t, id)
		if f.Class != reconcile.ClassInvalid || !strings.Contains(f.Reason, says) {
			t.Errorf("%s: %s %q, want invalid saying %q", id, f.Class, f.Reason, says)
		}
	}
	var b5, b7 []finding
	for _, f := range r.Findings {
		switch {
		case strings.Contains(f.Reason, "not a CSV record"):
			b5 = append(b5, f)
		case f.EmployeeID != nil && *f.EmployeeID == "B7":
			b7 = append(b7, f)
		}
	}
	if len(b5) != 1 || b5[0].Class != reconcile.ClassInvalid {
		t.Errorf("badly quoted row: %+v", b5)
	}
	if len(b7) != 2 || b7[0].Class != reconcile.ClassInvalid || b7[1].Class != reconcile.ClassInvalid || !strings.Contains(b7[1].Reason, "listed 2 times (first on line") {
		t.Errorf("an employee listed twice: %+v", b7)
	}
	if res.Counts[reconcile.ClassInvalid] != 10 {
		t.Errorf("%d invalid, want 10\n%s", res.Counts[reconcile.ClassInvalid], fmtFindings(r.Findings))
	}
	// Nothing invalid is sent.
	for _, m := range e.sqs.Sent() {
		if strings.HasPrefix(m.GroupID, "B") {
			t.Errorf("sent an invalid row's event: %s", m.GroupID)
		}
	}
}

// More than 5% invalid rows is the wrong file: refused, nothing applied,
// but the report says which rows.
func TestTooManyInvalidRowsAreRefused(t *testing.T) {
	t.Parallel()
	e := dayOne(t)
	rows := append(padding(dayOneHeader, 18), dayOneRows...)
	rows = append(rows, "X1,,,,,,active,", "X2,,,,,,active,")
	res := e.run("rosters/apply/bad-export.csv", csvRoster(dayOneHeader, rows...))
	if res.Refused != reconcile.RefusedTooManyInvalid || refusedReason(t, e) != reconcile.RefusedTooManyInvalid || res.Sent != 0 || len(e.sqs.Ops()) != 0 {
		t.Fatalf("%+v, SQS %v", res, e.sqs.Ops())
	}
	r := e.report(res)
	if r.Refused != reconcile.RefusedTooManyInvalid || r.Counts[reconcile.ClassInvalid] != 2 || r.byEmployee(t, "E10003").Class != reconcile.ClassLeaverEnabled {
		t.Fatalf("the refused run's report: %+v", r.Counts)
	}
}

// A roster that names too few of the linked employees looks truncated: it
// is refused and nothing is applied, not even its leavers.
func TestTruncatedRosterIsRefused(t *testing.T) {
	t.Parallel()
	e := dayOne(t)
	for i := range 9 {
		login := fmt.Sprintf("staff%02d", i)
		if err := e.sim.UpsertUser(simUser(login)); err != nil {
			t.Fatal(err)
		}
		e.link(fmt.Sprintf("L%02d", i), login)
	}
	// Ten linked employees with enabled accounts (Maria and nine); the cut
	// export names seven of them and a leaver.
	var rows []string
	for i := range 6 {
		rows = append(rows, fmt.Sprintf("L%02d,Staff,%02d,staff%02d@lender.example,,,active,", i, i, i))
	}
	rows = append(rows, dayOneRows[0], dayOneRows[3])
	res := e.run("rosters/apply/cut.csv", csvRoster(dayOneHeader, rows...))
	if res.Refused != reconcile.RefusedTooFewLinked || !strings.Contains(res.Message, "names 7 of the 10") || len(e.sqs.Ops()) != 0 {
		t.Fatalf("%+v, SQS %v", res, e.sqs.Ops())
	}
	// RECONCILE_MIN_ROSTER_RATIO=0 requires no share: the cut export passes.
	cfg := e.cfg
	cfg.MinRosterRatio = 0
	anyShare, err := reconcile.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := anyShare.HandleS3(context.Background(), e.put("rosters/dry-run/cut.csv", csvRoster(dayOneHeader, rows...)))
	if err != nil || len(resp.Results) != 1 || resp.Results[0].Refused != "" {
		t.Fatalf("a ratio of 0: %+v %v", resp, err)
	}
	for _, bad := range []float64{-0.1, 1.5, math.NaN()} {
		cfg.MinRosterRatio = bad
		if _, err := reconcile.New(cfg); err == nil || !strings.Contains(err.Error(), "MinRosterRatio") {
			t.Errorf("a ratio of %v: %v", bad, err)
		}
	}
	// Naming eight of ten (80%) passes.
	rows = append(rows, "L06,Staff,06,staff06@lender.example,,,active,")
	if res := e.run("rosters/apply/whole.csv", csvRoster(dayOneHeader, rows...)); res.Refused != "" {
		t.Fatalf("80%%: %+v", res)
	}
}

// The guard counts every linked employee, whatever their status or their
// account's state (CONTRACTS section 7): a leaver whose account is disabled,
// and one whose account was deleted in Encompass, are linked; a tombstone,
// which names no account, is not.
func TestGuardCountsEveryLinkedEmployee(t *testing.T) {
	t.Parallel()
	e := dayOne(t)
	ctx := context.Background()
	for i := range 4 {
		login := fmt.Sprintf("leaver%02d", i)
		u := simUser(login)
		u.Enabled = false
		if err := e.sim.UpsertUser(u); err != nil {
			t.Fatal(err)
		}
		if err := e.store.PutEmployee(ctx, state.Employee{EmployeeID: fmt.Sprintf("T%02d", i), UserID: login, UserName: login,
			Status: state.StatusTerminated, LastOccurredAt: e.now.Add(-48 * time.Hour), LastEventID: "hris-leaver"}, 0); err != nil {
			t.Fatal(err)
		}
	}
	e.link("D01", "deleted.in.encompass")
	if err := e.store.PutEmployee(ctx, state.Employee{EmployeeID: "Z01", Status: state.StatusTombstone,
		LastOccurredAt: e.now.Add(-48 * time.Hour), LastEventID: "hris-tombstone"}, 0); err != nil {
		t.Fatal(err)
	}
	// Six linked employees (Maria, four leavers, the deleted account's);
	// an export without its leavers names one of them.
	rows := []string{dayOneRows[0], dayOneRows[1]}
	res := e.run("rosters/apply/no-leavers.csv", csvRoster(dayOneHeader, rows...))
	if res.Refused != reconcile.RefusedTooFewLinked || !strings.Contains(res.Message, "names 1 of the 6 linked employees") || len(e.sqs.Ops()) != 0 {
		t.Fatalf("%+v, SQS %v", res, e.sqs.Ops())
	}
	// Five of six passes: the tombstone is not a seventh.
	rows = append(rows, "D01,Dee,Leted,deleted.in.encompass@lender.example,LO1,Retail Lending,active,")
	for i := range 3 {
		rows = append(rows, fmt.Sprintf("T%02d,Staff,%02d,leaver%02d@lender.example,,,terminated,", i, i, i))
	}
	if res := e.run("rosters/apply/with-leavers.csv", csvRoster(dayOneHeader, rows...)); res.Refused != "" {
		t.Fatalf("five of the six linked employees: %+v", res)
	}
}

// A roster the reader cannot go on with is refused as malformed (or as a
// format it does not read), with the reason in the event and the report.
func TestMalformedRosters(t *testing.T) {
	t.Parallel()
	e := dayOne(t)
	long := "E1,x,y,z@lender.example,," + strings.Repeat("a", 300<<10) + ",active,"
	for _, tc := range []struct {
		name, key, body, reason, says string
	}{
		{"no employeeId column", "rosters/apply/a.csv", "givenName,status\r\nJane,active\r\n", reconcile.RefusedMalformed, "no employeeId column"},
		{"a column twice", "rosters/apply/b.csv", "employeeId,email,EMAIL,status\r\nE1,a@x.example,b@x.example,active\r\n", reconcile.RefusedMalformed, "names email twice"},
		{"a bad header", "rosters/apply/c.csv", "employeeId,\"status\r\n", reconcile.RefusedMalformed, "header row cannot be read"},
		{"a row of 300 KiB", "rosters/apply/d.csv", dayOneHeader + "\r\n" + long + "\r\n", reconcile.RefusedMalformed, "longer than"},
		{"an Excel file", "rosters/apply/e.xlsx", "PK\x03\x04", reconcile.RefusedUnsupportedFormat, ".csv or a .jsonl"},
		{"no extension", "rosters/apply/f", "employeeId,status\r\n", reconcile.RefusedUnsupportedFormat, ".csv or a .jsonl"},
	} {
		res := e.run(tc.key, tc.body)
		if res.Refused != tc.reason || !strings.Contains(res.Message, tc.says) || refusedReason(t, e) != tc.reason {
			t.Errorf("%s: %+v, want %s saying %q", tc.name, res, tc.reason, tc.says)
		}
		if r := e.report(res); r.Refused != tc.reason {
			t.Errorf("%s: report %+v", tc.name, r)
		}
	}
	if len(e.sqs.Ops()) != 0 {
		t.Fatal("a malformed roster sent events")
	}
}

// JSON Lines: one employee object a line; a line that is not one is an
// invalid row, a key outside the contract is ignored and reported.
func TestJSONLRoster(t *testing.T) {
	t.Parallel()
	e := dayOne(t)
	lines := []string{
		`{"employeeId":"E10003","email":"bea.williams@lender.example","status":"terminated"}`,
		`{"employeeId":"E10001","email":"maria.johnson@lender.example","status":"active"}`,
		`{"employeeId":"E20001","givenName":"Pat","familyName":"Lee","email":"pat.lee@lender.example","status":"active","stateLicenses":[{"state":"CA","licenseNumber":"CA-1"}],"shoeSize":44}`,
		`{"employeeId":"J1","status":"active","email":"a@lender.example","email":"b@lender.example"}`,
		`["not","an","object"]`,
		`{"employeeId":"J3","status":7}`,
		"{\"employeeId\":\"J4\",\"givenName\":\"\xff\",\"status\":\"active\"}",
		`{"employeeId":"J5","status":"active"`,
		"",
	}
	lines = append(lines, jsonlPadding(200)...)
	res := e.run("rosters/dry-run/feed.jsonl", "\xef\xbb\xbf"+strings.Join(lines, "\r\n")+"\n")
	r := e.report(res)
	if res.Refused != "" || !slices.Equal(r.IgnoredColumns, []string{"shoeSize"}) {
		t.Fatalf("%+v %v", res, r.IgnoredColumns)
	}
	if f := r.byEmployee(t, "E10003"); f.Class != reconcile.ClassLeaverEnabled || f.Row != 1 {
		t.Errorf("E10003: %+v", f)
	}
	if f := r.byEmployee(t, "E20001"); f.Class != reconcile.ClassMissing {
		t.Errorf("E20001: %+v", f)
	}
	if f := r.byEmployee(t, "J1"); f.Class != reconcile.ClassInvalid || !strings.Contains(f.Reason, "names email twice") {
		t.Errorf("duplicate key: %+v", f)
	}
	if f := r.byEmployee(t, "J3"); !strings.Contains(f.Reason, "status must be a string") {
		t.Errorf("J3: %+v", f)
	}
	if f := r.byEmployee(t, "J4"); !strings.Contains(f.Reason, "not UTF-8") {
		t.Errorf("J4: %+v", f)
	}
	if res.Counts[reconcile.ClassInvalid] != 5 {
		t.Errorf("%d invalid\n%s", res.Counts[reconcile.ClassInvalid], fmtFindings(r.Findings))
	}
}

func jsonlPadding(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf(`{"employeeId":"P%05d","status":"terminated"}`, i)
	}
	return out
}

// A key with spaces and Unicode arrives URL-encoded (a space as "+"): it is
// decoded, and the report is named after it.
func TestKeyWithSpacesAndUnicode(t *testing.T) {
	t.Parallel()
	e := dayOne(t)
	key := "rosters/apply/HR export – 20 Nov 2026 (Zürich) +1.csv"
	ev := e.put(key, csvRoster(dayOneHeader, dayOneRows...))
	if !strings.Contains(ev.Records[0].S3.Object.Key, "+") || strings.Contains(ev.Records[0].S3.Object.Key, " ") {
		t.Fatalf("the notification's key is not encoded as S3 encodes it: %q", ev.Records[0].S3.Object.Key)
	}
	resp, err := e.rec.HandleS3(context.Background(), ev)
	if err != nil || len(resp.Results) != 1 {
		t.Fatalf("%+v %v", resp, err)
	}
	res := resp.Results[0]
	if res.RosterKey != key || res.Sent != 4 || !strings.HasPrefix(res.ReportKey, "reports/HR export – 20 Nov 2026 (Zürich) +1-") {
		t.Fatalf("%+v", res)
	}
	if r := e.report(res); r.RosterKey != key {
		t.Fatalf("report rosterKey %q", r.RosterKey)
	}
	// Keys outside rosters/, folders, other buckets and bad encodings are
	// not rosters: ignored without a run.
	ev = s3Event("reports/x.csv", "1", "e")
	ev.Records = append(ev.Records, s3Event("rosters/apply/", "1", "e").Records...)
	ev.Records = append(ev.Records, s3Event("rosters/apply/x.csv", "1", "e").Records...)
	ev.Records[2].S3.Bucket.Name = "someone-else"
	ev.Records = append(ev.Records, s3Event("rosters/x.csv", "1", "e").Records...)
	ev.Records[3].S3.Object.Key = "rosters/%zz.csv"
	if resp, err := e.rec.HandleS3(context.Background(), ev); err != nil || len(resp.Results) != 0 {
		t.Fatalf("not rosters: %+v %v", resp, err)
	}
}

// Values a spreadsheet would run as formulas are defused in the CSV report.
func TestCSVReportDefusesFormulas(t *testing.T) {
	t.Parallel()
	e := dayOne(t)
	rows := append(padding(dayOneHeader, 40), `"=HYPERLINK(""http://evil.example"")",,,,,,active,`, dayOneRows[0])
	res := e.run("rosters/dry-run/formula.csv", csvRoster(dayOneHeader, rows...))
	csv, err := e.s3.Get(context.Background(), bucket, res.CSVReportKey)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(csv), "\ninvalid,\"'=HYPERLINK(") || strings.Contains(string(csv), ",=HYPERLINK") || strings.Contains(string(csv), ",\"=HYPERLINK") {
		t.Fatalf("CSV report:\n%s", testenv.LastLines(string(csv), 12))
	}
}

// The queue failing mid-apply fails the run (Lambda retries it); the retry
// sends the same event ids with the same bodies, so nothing is sent twice
// with different ids, and the queue's deduplication and the event claims
// drop what was already sent.
func TestQueueFailingMidApply(t *testing.T) {
	t.Parallel()
	e := dayOne(t)
	rows := []string{dayOneRows[0]}
	for i := range 30 {
		rows = append(rows, fmt.Sprintf("M%03d,New,Hire%03d,new.hire%03d@lender.example,LO1,Retail Lending,active,", i, i, i))
	}
	ev := e.put("rosters/apply/big.csv", csvRoster(dayOneHeader, rows...))
	// The batch holding M020-M029 keeps failing on SQS's side.
	e.sqs.FailEntries(func(m testenv.SQSMessage) string {
		if strings.HasPrefix(m.GroupID, "M02") {
			return "InternalError"
		}
		return ""
	})
	if _, err := e.rec.HandleS3(context.Background(), ev); err == nil {
		t.Fatal("the run succeeded although SQS kept refusing entries")
	}
	if evs := e.reconcileEvents(); len(evs) != 0 {
		t.Fatalf("published before the events were sent: %+v", evs)
	}
	firstRun := len(e.sqs.Sent())
	e.sqs.FailEntries(nil)
	resp, err := e.rec.HandleS3(context.Background(), ev)
	if err != nil || len(resp.Results) != 1 {
		t.Fatalf("retry: %+v %v", resp, err)
	}
	runID := resp.Results[0].RunID
	bodies := map[string]string{}
	for _, m := range e.sqs.Sent() {
		if m.DedupID != reconcile.EventID(runID, m.GroupID) {
			t.Fatalf("%s sent as %s", m.GroupID, m.DedupID)
		}
		if b, ok := bodies[m.DedupID]; ok && b != m.Body {
			t.Fatalf("%s sent twice with different bodies", m.DedupID)
		}
		bodies[m.DedupID] = m.Body
	}
	if len(bodies) != 31 || firstRun == 0 {
		t.Fatalf("%d distinct events (first run %d)", len(bodies), firstRun)
	}
	accepted := 0
	for _, m := range e.sqs.Sent() {
		if !m.Duplicate {
			accepted++
		}
	}
	if accepted != 31 {
		t.Fatalf("the queue accepted %d messages, want each of the 31 once", accepted)
	}
	if evs := e.reconcileEvents(); len(evs) != 1 || evs[0].DetailType != catalog.ReconciliationCompleted {
		t.Fatalf("published %+v", evs)
	}

	// A whole request failing (after the SDK's own retries) fails the run too.
	e2 := dayOne(t)
	e2.sqs.FailRequests("SendMessageBatch", 100)
	if _, err := e2.rec.HandleS3(context.Background(), e2.put("rosters/apply/big.csv", csvRoster(dayOneHeader, rows...))); err == nil || !strings.Contains(err.Error(), "send HRIS events") {
		t.Fatalf("err = %v", err)
	}
}

// An entry SQS refuses because of itself is counted and logged, not
// retried for ever; the run completes with the others sent.
func TestQueueRefusesOneEntryForGood(t *testing.T) {
	t.Parallel()
	e := dayOne(t)
	e.sqs.FailEntries(func(m testenv.SQSMessage) string {
		if m.GroupID == "E20001" {
			return "InvalidParameterValue"
		}
		return ""
	})
	res := e.run("rosters/apply/one-refused.csv", csvRoster(dayOneHeader, dayOneRows...))
	if res.Sent != 3 || e.metrics.Value("EventsNotSent") != 1 || !strings.Contains(e.logs.String(), "SQS refused HRIS events") {
		t.Fatalf("%+v, not sent %v", res, e.metrics.Value("EventsNotSent"))
	}
}
