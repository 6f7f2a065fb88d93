package reconcile

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/lenderops/encompass-lifecycle/pkg/catalog"
	"github.com/lenderops/encompass-lifecycle/pkg/hris"
	"github.com/lenderops/encompass-lifecycle/pkg/publish"
	"github.com/lenderops/encompass-lifecycle/pkg/telemetry"
)

// run is the reconciliation of one roster object.
type run struct {
	r   *Reconciler
	obj Object
	res *Result

	format Format
	users  *userIndex
	links  *linkIndex
	// From pass 1: when the object was last modified (the events'
	// occurredAt), and how each employee id was listed.
	lastModified time.Time
	stats        passStats
	// counting: pass 1 classifies only to count, without differences.
	counting bool
	// ctx is the run's, for the look-ups classification makes.
	ctx context.Context
	// err is the first error of such a look-up; it ends the run.
	err error
}

// passStats is what pass 1 keeps between the passes: for each employee id
// the roster names, its first line and how often it is listed (one map,
// the only memory a roster's length costs), and the counts the guard
// decides on.
type passStats struct {
	rows, invalid int
	ids           map[string]idStats
	ignored       []string
}

// idStats is what pass 1 knows of one employee id.
type idStats struct {
	first int32 // the line of its first row
	times int32 // rows naming it
	valid int32 // rows naming it that section 1 accepts
	// classInvalid: classification refuses its (valid) row.
	classInvalid bool
}

func withRun(ctx context.Context, runID, key string) context.Context {
	return telemetry.With(ctx, "runId", runID, "rosterKey", hris.Truncate(key, 200))
}

func (run *run) do(ctx context.Context) error {
	r := run.r
	run.ctx = ctx
	format, ok := formatOf(run.obj.Key)
	if !ok {
		return run.refuse(ctx, nil, RefusedUnsupportedFormat, "a roster is a .csv or a .jsonl file (CONTRACTS section 7)")
	}
	run.format = format
	var err error
	if run.users, err = run.loadUsers(ctx); err != nil {
		return err
	}
	run.res.UsersFrom = run.users.from
	if run.links, err = run.loadLinks(ctx); err != nil {
		return err
	}
	if err := run.pass1(ctx); err != nil {
		var ref *refusal
		if errors.As(err, &ref) {
			return run.refuse(ctx, nil, ref.reason, ref.message)
		}
		return err
	}
	run.res.IgnoredColumns = run.stats.ignored
	reason, message := run.guard()
	if reason == RefusedEmpty {
		// Nothing to classify: every account would be an orphan.
		return run.refuse(ctx, nil, reason, message)
	}
	w, err := newReportWriter(r.cfg.TempDir)
	if err != nil {
		return err
	}
	defer w.close()
	apply := !run.res.DryRun && reason == ""
	sent, err := run.pass2(ctx, w, apply)
	if err != nil {
		return err
	}
	run.res.Sent = sent
	if reason != "" {
		return run.refuse(ctx, w, reason, message)
	}
	if err := w.put(ctx, r, run.header(), run.res.ReportKey, run.res.CSVReportKey); err != nil {
		return err
	}
	return run.completed(ctx)
}

// open streams the roster object: the version pass 1 read, in pass 2.
func (run *run) open(ctx context.Context) (io.ReadCloser, error) {
	in := &s3.GetObjectInput{Bucket: aws.String(run.r.cfg.Bucket), Key: aws.String(run.obj.Key)}
	switch {
	case run.obj.VersionID != "":
		in.VersionId = aws.String(run.obj.VersionID)
	case run.obj.ETag != "":
		in.IfMatch = aws.String(`"` + run.obj.ETag + `"`)
	}
	out, err := run.r.cfg.Objects.GetObject(ctx, in)
	if err != nil {
		return nil, fmt.Errorf("read roster: %w", err)
	}
	if run.lastModified.IsZero() {
		if out.ContentLength != nil && *out.ContentLength > MaxRosterBytes {
			out.Body.Close()
			return nil, &refusal{RefusedTooLarge, fmt.Sprintf("the roster is %d bytes; at most %d are read", *out.ContentLength, MaxRosterBytes)}
		}
		run.lastModified = aws.ToTime(out.LastModified)
		if run.lastModified.IsZero() {
			run.lastModified = run.r.cfg.Now()
		}
		// Run named the object by version or ETag (pinning it when the
		// notification did neither). One named by its ETag alone in a
		// versioned bucket (a hand-made notification) is read in pass 2
		// by the version pass 1 read.
		if v := aws.ToString(out.VersionId); run.obj.VersionID == "" && v != "" && v != "null" {
			run.obj.VersionID = v
		}
	}
	return out.Body, nil
}

// readRows streams the roster and hands each row to fn.
func (run *run) readRows(ctx context.Context, fn func(Row) error) ([]string, error) {
	body, err := run.open(ctx)
	if err != nil {
		return nil, err
	}
	defer body.Close()
	rows, err := newRowReader(run.format, body)
	if err != nil {
		return nil, run.structural(err)
	}
	for {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		row, err := rows.next()
		if errors.Is(err, io.EOF) {
			return rows.ignored(), nil
		}
		if err != nil {
			return nil, run.structural(err)
		}
		if err := fn(row); err != nil {
			return nil, err
		}
		if run.err != nil {
			return nil, run.err
		}
	}
}

// structural turns a roster that cannot be read on into a refusal; a read
// error of the object is returned (retried) as it is.
func (run *run) structural(err error) error {
	if errors.Is(err, errMalformed) {
		return &refusal{RefusedMalformed, err.Error()}
	}
	return fmt.Errorf("read roster: %w", err)
}

// validate reads a row as section 1 does; problem is why it is invalid.
func validate(row Row) (emp hris.Employee, terminated bool, problem string) {
	if row.Problem != "" {
		return emp, false, "invalid_row: the row " + row.Problem
	}
	typ, why := checkStatus(row.Status)
	if why != "" {
		return emp, false, "invalid_field: " + why
	}
	emp, err := hris.DecodeEmployee(row.Fields, typ)
	if err != nil {
		if he, ok := hris.AsError(err); ok {
			return emp, false, fmt.Sprintf("%s: %s: %s", he.Reason, strings.TrimPrefix(he.Field, "employee."), he.Message)
		}
		return emp, false, err.Error()
	}
	if !groupable(emp.EmployeeID) {
		return emp, false, "invalid_field: employeeId: must be ASCII letters, digits or punctuation, which is what an SQS FIFO message group id can carry"
	}
	return emp, typ == hris.TypeTerminate, ""
}

// pass1 counts the rows, the employee ids (for duplicates), and the rows
// pass 2 will find invalid, for the guard: those section 1 refuses, those
// whose employee is listed more than once, and those classification
// refuses (an explicit link to no account or to another employee's, a
// missing employee without names). Differences are not computed here.
func (run *run) pass1(ctx context.Context) error {
	st := &run.stats
	st.ids = map[string]idStats{}
	run.counting = true
	ignored, err := run.readRows(ctx, func(row Row) error {
		st.rows++
		emp, terminated, problem := validate(row)
		id := row.EmployeeID
		if problem == "" {
			id = emp.EmployeeID
		}
		var is idStats
		if id != "" {
			var seen bool
			if is, seen = st.ids[id]; !seen {
				is.first = int32(row.Line)
			}
			is.times++
		}
		if problem != "" {
			st.invalid++
		} else {
			is.valid++
			if run.classify(row.Line, terminated, emp).Class == ClassInvalid {
				is.classInvalid = true
			}
		}
		if id != "" {
			st.ids[id] = is
		}
		return nil
	})
	run.counting = false
	for _, u := range run.users.all {
		u.matched = false // pass 2 decides the orphans
	}
	for _, is := range st.ids {
		switch {
		case is.times > 1:
			st.invalid += int(is.valid)
		case is.classInvalid:
			st.invalid++
		}
	}
	st.ignored = ignored
	return err
}

// pass2 classifies every row and then the orphans, writes the report, and
// sends the events when apply.
func (run *run) pass2(ctx context.Context, w *reportWriter, apply bool) (int, error) {
	r := run.r
	var snd *sender
	if apply {
		snd = newSender(ctx, r)
	}
	_, err := run.readRows(ctx, func(row Row) error {
		f, fields := run.row(row)
		run.count(f)
		if err := w.add(f); err != nil {
			return err
		}
		if snd != nil && f.send != "" {
			return run.send(snd, f, fields)
		}
		return nil
	})
	if err == nil {
		err = run.orphans(ctx, w)
	}
	if snd == nil {
		return 0, err
	}
	if cerr := snd.close(); err == nil {
		err = cerr
	}
	r.cfg.Metrics.Add("SendMessageBatchCalls", float64(snd.calls))
	if snd.failed > 0 {
		r.log.ErrorContext(ctx, "SQS refused HRIS events of this run for good; they were not sent", "failed", snd.failed, "examples", snd.failedExamples)
		r.cfg.Metrics.Add("EventsNotSent", float64(snd.failed))
	}
	if err != nil {
		return snd.sent, err
	}
	r.log.InfoContext(ctx, "HRIS events sent", "sent", snd.sent, "sendMessageBatchCalls", snd.calls)
	return snd.sent, nil
}

// row classifies one row (its fields are returned for the event to send).
func (run *run) row(row Row) (Finding, map[string]json.RawMessage) {
	emp, terminated, problem := validate(row)
	if problem != "" {
		return Finding{Class: ClassInvalid, EmployeeID: row.EmployeeID, Reason: problem, Row: row.Line}, nil
	}
	if is := run.stats.ids[emp.EmployeeID]; is.times > 1 {
		return Finding{Class: ClassInvalid, EmployeeID: emp.EmployeeID, Row: row.Line, Reason: fmt.Sprintf(
			"duplicate: employeeId %s is listed %d times (first on line %d); none of its rows is applied", emp.EmployeeID, is.times, is.first)}, nil
	}
	return run.classify(row.Line, terminated, emp), row.Fields
}

// send queues the finding's event.
func (run *run) send(snd *sender, f Finding, fields map[string]json.RawMessage) error {
	id := EventID(run.res.RunID, f.EmployeeID)
	body, err := eventBody(f.send, id, run.lastModified, fields, f.link)
	if err != nil {
		return fmt.Errorf("event for %s: %w", f.EmployeeID, err)
	}
	queue := run.r.cfg.ProvisionQueueURL
	if f.send == hris.TypeTerminate {
		queue = run.r.cfg.DeprovisionQueueURL
	}
	return snd.add(queue, f.EmployeeID, id, body)
}

// orphans reports the enabled accounts no row matched, but for the
// ignored logins and the API users.
func (run *run) orphans(ctx context.Context, w *reportWriter) error {
	var candidates []*user
	for _, u := range run.users.all {
		if !u.matched && u.enabled() && !run.r.ignored(u.login()) {
			candidates = append(candidates, u)
		}
	}
	logins := make([]string, len(candidates))
	for i, u := range candidates {
		logins[i] = u.login()
	}
	api, err := run.r.apiUsers(ctx, logins)
	if err != nil {
		return err
	}
	for _, u := range candidates {
		if api[u.login()] {
			continue
		}
		f := Finding{Class: ClassOrphan, Login: u.login(), Reason: "enabled; no roster row matches it, not even by e-mail"}
		if id, ok := run.links.owner[strings.ToLower(u.login())]; ok {
			f.EmployeeID = id
			f.Reason = fmt.Sprintf("enabled; linked to employee %s, whom the roster does not list", id)
		}
		run.count(f)
		if err := w.add(f); err != nil {
			return err
		}
	}
	return nil
}

func (run *run) count(f Finding) {
	run.res.Counts[f.Class]++
}

func (run *run) header() reportHeader {
	return reportHeader{
		RunID: run.res.RunID, RosterKey: run.res.RosterKey, DryRun: run.res.DryRun, Counts: run.res.Counts,
		Refused: run.res.Refused, Message: run.res.Message, UsersFrom: run.res.UsersFrom, IgnoredColumns: run.res.IgnoredColumns,
	}
}

// detail is what Reconciliation Completed and Refused both carry: the
// run's identifiers, counts, report and events sent.
func (run *run) detail() map[string]any {
	res := run.res
	return map[string]any{
		"eventId": "reconcile-" + res.RunID, "runId": res.RunID, "rosterKey": res.RosterKey, "dryRun": res.DryRun,
		"counts": res.Counts, "reportKey": res.ReportKey, "sent": res.Sent,
	}
}

// completed publishes Reconciliation Completed and counts the findings.
func (run *run) completed(ctx context.Context) error {
	r, res := run.r, run.res
	detail := run.detail()
	detail["csvReportKey"], detail["usersFrom"] = res.CSVReportKey, res.UsersFrom
	if len(res.IgnoredColumns) > 0 {
		detail["ignoredColumns"] = res.IgnoredColumns
	}
	if err := r.cfg.Publisher.Publish(ctx, publish.Event{Source: catalog.SourceReconcile, DetailType: catalog.ReconciliationCompleted, Detail: detail}); err != nil {
		return fmt.Errorf("publish %s: %w", catalog.ReconciliationCompleted, err)
	}
	for class, n := range res.Counts {
		r.cfg.Metrics.AddBy("Findings", "Class", class, float64(n))
	}
	r.cfg.Metrics.Add("EventsSent", float64(res.Sent))
	r.log.InfoContext(ctx, "reconciliation completed", "counts", res.Counts, "sent", res.Sent, "reportKey", res.ReportKey, "dryRun", res.DryRun, "usersFrom", res.UsersFrom)
	return nil
}
