package reconcile

import (
	"bufio"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/lenderops/encompass-lifecycle/pkg/account"
)

// The report (CONTRACTS section 7) is written as the findings come, into
// temporary files, so that a roster of any length costs the same memory;
// the JSON report's counts come first, so it is assembled once the last
// finding is known, then both files are put in the bucket.

// reportFinding is a finding as the JSON report carries it.
type reportFinding struct {
	Class       string           `json:"class"`
	EmployeeID  *string          `json:"employeeId"`
	Login       *string          `json:"encompassLogin"`
	Reason      string           `json:"reason"`
	Differences []account.Change `json:"differences"`
	Row         int              `json:"row,omitempty"`
}

// reportHeader is the JSON report's members before its findings.
type reportHeader struct {
	RunID          string         `json:"runId"`
	RosterKey      string         `json:"rosterKey"`
	DryRun         bool           `json:"dryRun"`
	Counts         map[string]int `json:"counts"`
	Refused        string         `json:"refused,omitempty"`
	Message        string         `json:"message,omitempty"`
	UsersFrom      string         `json:"usersFrom,omitempty"`
	IgnoredColumns []string       `json:"ignoredColumns,omitempty"`
}

// csvHeader is the CSV report's header row.
var csvHeader = []string{"class", "employeeId", "encompassLogin", "reason", "differences", "row"}

type reportWriter struct {
	dir      string
	findings *os.File // the JSON findings, comma-separated
	csvFile  *os.File
	jw       *bufio.Writer
	cw       *csv.Writer
	n        int
}

func newReportWriter(tempDir string) (*reportWriter, error) {
	dir, err := os.MkdirTemp(tempDir, "reconcile-report-")
	if err != nil {
		return nil, fmt.Errorf("report: %w", err)
	}
	w := &reportWriter{dir: dir}
	if w.findings, err = os.Create(dir + "/findings.json"); err == nil {
		w.csvFile, err = os.Create(dir + "/report.csv")
	}
	if err != nil {
		w.close()
		return nil, fmt.Errorf("report: %w", err)
	}
	w.jw = bufio.NewWriterSize(w.findings, 64<<10)
	w.cw = csv.NewWriter(w.csvFile) // buffered by itself
	if err := w.cw.Write(csvHeader); err != nil {
		w.close()
		return nil, fmt.Errorf("report: %w", err)
	}
	return w, nil
}

// close removes the temporary files.
func (w *reportWriter) close() {
	for _, f := range []*os.File{w.findings, w.csvFile} {
		if f != nil {
			f.Close()
		}
	}
	os.RemoveAll(w.dir)
}

func nullable(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// add writes one finding to both reports.
func (w *reportWriter) add(f Finding) error {
	diffs := f.Differences
	if diffs == nil {
		diffs = []account.Change{}
	}
	b, err := json.Marshal(reportFinding{Class: f.Class, EmployeeID: nullable(f.EmployeeID), Login: nullable(f.Login), Reason: f.Reason, Differences: diffs, Row: f.Row})
	if err != nil {
		return fmt.Errorf("report: %w", err)
	}
	if w.n > 0 {
		w.jw.WriteByte(',')
	}
	w.jw.WriteString("\n  ")
	w.jw.Write(b)
	w.n++
	row := ""
	if f.Row > 0 {
		row = strconv.Itoa(f.Row)
	}
	return w.cw.Write([]string{f.Class, cell(f.EmployeeID), cell(f.Login), cell(f.Reason), cell(differencesText(diffs)), row})
}

// differencesText is the CSV form of differences: "field: from -> to; ...".
func differencesText(cs []account.Change) string {
	parts := make([]string, 0, len(cs))
	for _, c := range cs {
		parts = append(parts, fmt.Sprintf("%s: %q -> %q", c.Field, c.From, c.To))
	}
	return strings.Join(parts, "; ")
}

// cell keeps a value a spreadsheet would run as a formula from being one
// (roster values are reflected into the report): it is prefixed with a
// quote, as OWASP advises for CSV injection.
func cell(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}

// put assembles the JSON report and puts both reports in the bucket.
func (w *reportWriter) put(ctx context.Context, r *Reconciler, h reportHeader, jsonKey, csvKey string) error {
	if err := w.jw.Flush(); err != nil {
		return fmt.Errorf("report: %w", err)
	}
	w.cw.Flush()
	if err := w.cw.Error(); err != nil {
		return fmt.Errorf("report: %w", err)
	}
	head, err := json.MarshalIndent(h, "", "  ")
	if err != nil {
		return fmt.Errorf("report: %w", err)
	}
	// {"runId": ..., "counts": ..., "findings": [ <findings> \n]}
	full, err := os.Create(w.dir + "/report.json")
	if err != nil {
		return fmt.Errorf("report: %w", err)
	}
	defer full.Close()
	bw := bufio.NewWriterSize(full, 64<<10)
	bw.Write(head[:len(head)-2]) // without "\n}"
	bw.WriteString(",\n  \"findings\": [")
	if _, err := w.findings.Seek(0, io.SeekStart); err != nil {
		return fmt.Errorf("report: %w", err)
	}
	if _, err := io.Copy(bw, w.findings); err != nil {
		return fmt.Errorf("report: %w", err)
	}
	if w.n > 0 {
		bw.WriteString("\n  ")
	}
	bw.WriteString("]\n}\n")
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("report: %w", err)
	}
	if err := r.putFile(ctx, full, jsonKey, "application/json"); err != nil {
		return err
	}
	return r.putFile(ctx, w.csvFile, csvKey, "text/csv; charset=utf-8")
}

// putFile puts a file's whole content under key (a seekable body: the SDK
// signs and checksums it, then sends it).
func (r *Reconciler) putFile(ctx context.Context, f *os.File, key, contentType string) error {
	size, err := f.Seek(0, io.SeekEnd)
	if err == nil {
		_, err = f.Seek(0, io.SeekStart)
	}
	if err != nil {
		return fmt.Errorf("report %s: %w", key, err)
	}
	_, err = r.cfg.Objects.PutObject(ctx, &s3.PutObjectInput{
		Bucket: aws.String(r.cfg.Bucket), Key: aws.String(key), Body: f,
		ContentLength: aws.Int64(size), ContentType: aws.String(contentType),
	})
	if err != nil {
		return fmt.Errorf("put report %s: %w", key, err)
	}
	return nil
}
