package reconcile

import (
	"context"
	"fmt"

	"github.com/lenderops/encompass-lifecycle/pkg/catalog"
	"github.com/lenderops/encompass-lifecycle/pkg/publish"
)

// Reasons of Reconciliation Refused (detail.reason).
const (
	// RefusedEmpty: the roster has no rows (empty, header only).
	RefusedEmpty = "empty"
	// RefusedTooFewLinked: the roster names fewer than
	// RECONCILE_MIN_ROSTER_RATIO of the linked employees (a truncated
	// export).
	RefusedTooFewLinked = "too_few_linked"
	// RefusedTooManyInvalid: more than 5% of the rows are invalid.
	RefusedTooManyInvalid = "too_many_invalid"
	// RefusedMalformed: the file cannot be read as its format (no
	// employeeId column, a column named twice, a row beyond the size bound).
	RefusedMalformed = "malformed"
	// RefusedUnsupportedFormat: the key ends neither in .csv nor .jsonl.
	RefusedUnsupportedFormat = "unsupported_format"
	// RefusedTooLarge: the object is over MaxRosterBytes.
	RefusedTooLarge = "too_large"
)

// refusal is a roster refused before it could be classified.
type refusal struct {
	reason, message string
}

func (e *refusal) Error() string { return e.reason + ": " + e.message }

// guard decides, from pass 1, whether the roster may be applied: a roster
// that names too few of the linked employees looks truncated (employees
// missing from it would look like orphans), and one with many invalid rows
// looks like the wrong file. None linked yet (day one) always passes the
// first test.
//
// The linked employees are every link that names an Encompass account,
// whatever the employee's status or the account's state (CONTRACTS section
// 7): the login index holds exactly those (a tombstone, which names no
// account, has no entry). A lender whose HR export drops leavers lowers
// RECONCILE_MIN_ROSTER_RATIO.
func (run *run) guard() (reason, message string) {
	st := run.stats
	if st.rows == 0 {
		return RefusedEmpty, "the roster has no rows"
	}
	if float64(st.invalid) > MaxInvalidRatio*float64(st.rows) {
		return RefusedTooManyInvalid, fmt.Sprintf("%d of %d rows are invalid; at most %.0f%% may be", st.invalid, st.rows, MaxInvalidRatio*100)
	}
	linked, named := len(run.links.byEmployee), 0
	for id := range run.links.byEmployee {
		if _, ok := st.ids[id]; ok {
			named++
		}
	}
	if linked > 0 && float64(named) < run.r.cfg.MinRosterRatio*float64(linked) {
		return RefusedTooFewLinked, fmt.Sprintf("the roster names %d of the %d linked employees; at least %.0f%% must be named (RECONCILE_MIN_ROSTER_RATIO)",
			named, linked, run.r.cfg.MinRosterRatio*100)
	}
	return "", ""
}

// refuse records and publishes a refusal: the report (when the roster
// could be classified), then Reconciliation Refused. Nothing was sent.
func (run *run) refuse(ctx context.Context, w *reportWriter, reason, message string) error {
	r, res := run.r, run.res
	res.Refused, res.Message = reason, message
	if w == nil {
		var err error
		if w, err = newReportWriter(r.cfg.TempDir); err != nil {
			return err
		}
		defer w.close()
	}
	if err := w.put(ctx, r, run.header(), res.ReportKey, res.CSVReportKey); err != nil {
		return err
	}
	detail := run.detail()
	detail["reason"], detail["message"] = reason, message
	if err := r.cfg.Publisher.Publish(ctx, publish.Event{Source: catalog.SourceReconcile, DetailType: catalog.ReconciliationRefused, Detail: detail}); err != nil {
		return fmt.Errorf("publish %s: %w", catalog.ReconciliationRefused, err)
	}
	r.cfg.Metrics.Add("ReconciliationRefused", 1)
	r.cfg.Metrics.AddBy("Refused", "Reason", reason, 1)
	r.log.WarnContext(ctx, "reconciliation refused: nothing was applied", "reason", reason, "message", message, "reportKey", res.ReportKey)
	return nil
}
