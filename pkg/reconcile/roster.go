package reconcile

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"
	"unicode/utf8"

	"github.com/lenderops/encompass-lifecycle/pkg/hris"
	"github.com/lenderops/encompass-lifecycle/pkg/strictjson"
)

// A roster (CONTRACTS section 7) is read as a stream, one row at a time:
// nothing holds the whole file, and a row's cells are dropped once the row
// is classified.

// Format is a roster's file format, named by its key's extension.
type Format string

// The two roster formats.
const (
	FormatCSV   Format = "csv"
	FormatJSONL Format = "jsonl"
)

// formatOf reads the format from the key's extension (case-insensitive).
func formatOf(key string) (Format, bool) {
	switch strings.ToLower(path.Ext(key)) {
	case ".csv":
		return FormatCSV, true
	case ".jsonl":
		return FormatJSONL, true
	}
	return "", false
}

// Row statuses (CONTRACTS section 7).
const (
	StatusActive     = "active"
	StatusTerminated = "terminated"
)

// statusColumn is the roster's own column beside the employee fields.
const statusColumn = "status"

// maxRowBytes bounds one row: an HRIS event body is at most
// hris.MaxBodyBytes, and a row is that event's employee object.
const maxRowBytes = hris.MaxBodyBytes

// maxIgnoredColumns bounds the unknown column names a report lists.
const maxIgnoredColumns = 32

// Row is one roster row as read, not yet validated.
type Row struct {
	// Line is the line the row starts on (1 is the first line of the file).
	Line int
	// Status is the status cell, trimmed and lower-cased ("" when absent).
	Status string
	// Fields are the members of the row's employee object: JSON values by
	// contract field name; an empty CSV cell is absent.
	Fields map[string]json.RawMessage
	// EmployeeID is the row's employee id as written, read leniently, so
	// that even an invalid row can be reported by it and recognised.
	EmployeeID string
	// Problem, when set, is why the row cannot be read at all.
	Problem string
}

// errMalformed is a roster whose structure cannot be read on: the
// reconciliation is refused rather than guessed at.
var errMalformed = errors.New("malformed roster")

// rowReader yields the rows of a roster.
type rowReader interface {
	// next returns the next row, io.EOF after the last, or an error wrapping
	// errMalformed (or the read error of the object).
	next() (Row, error)
	// ignored lists the columns (or JSON keys) the contract does not know.
	ignored() []string
}

// newRowReader starts reading a roster of format f from r, which it reads
// through a bounded buffer.
func newRowReader(f Format, r io.Reader) (rowReader, error) {
	cr := &countingReader{r: r}
	br := bufio.NewReaderSize(cr, 64<<10)
	// A UTF-8 byte order mark is allowed and dropped (spreadsheet exports
	// write one).
	if b, err := br.Peek(3); err == nil && bytes.Equal(b, []byte("\xef\xbb\xbf")) {
		_, _ = br.Discard(3)
	}
	if f == FormatJSONL {
		return &jsonlReader{r: br, unknown: map[string]bool{}}, nil
	}
	return newCSVReader(br, cr)
}

// countingReader counts the bytes read, so that a CSV record spanning more
// than maxRowBytes can be refused while it is read.
type countingReader struct {
	r     io.Reader
	n     int64
	limit int64 // 0: none
}

var errRowTooLong = fmt.Errorf("%w: a row is longer than %d bytes", errMalformed, maxRowBytes)

func (c *countingReader) Read(p []byte) (int, error) {
	if c.limit > 0 && c.n > c.limit {
		return 0, errRowTooLong
	}
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// ---- CSV ----

type csvReader struct {
	r       *csv.Reader
	count   *countingReader
	columns []string // contract name per column; "" for an ignored column
	unknown []string
	// employeeID is the index of the employeeId column (the header has one).
	employeeID int
}

// newCSVReader reads the header: employee field names (matched without
// regard to case, so that "EmployeeID" is employeeId) and status.
func newCSVReader(br *bufio.Reader, count *countingReader) (*csvReader, error) {
	cr := &csvReader{r: csv.NewReader(br), count: count}
	cr.r.FieldsPerRecord = -1 // checked per row, so that one short row is one invalid row
	cr.r.ReuseRecord = true
	count.limit = count.n + maxRowBytes
	var header []string
	for {
		rec, err := cr.r.Read()
		switch {
		case errors.Is(err, io.EOF):
			return cr, nil // empty: no rows
		case err != nil:
			return nil, fmt.Errorf("%w: the header row cannot be read: %v", errMalformed, csvProblem(err))
		}
		if !blank(rec) {
			header = rec
			break
		}
	}
	seen := map[string]bool{}
	for i, h := range header {
		name := strings.TrimSpace(h)
		canon := canonicalColumn(name)
		if canon != "" && seen[canon] {
			return nil, fmt.Errorf("%w: the header names %s twice (column %d)", errMalformed, canon, i+1)
		}
		switch canon {
		case "employeeId":
			cr.employeeID = i
		case "":
			if len(cr.unknown) < maxIgnoredColumns {
				cr.unknown = append(cr.unknown, hris.Truncate(name, 64))
			}
		}
		if canon != "" {
			seen[canon] = true
		}
		cr.columns = append(cr.columns, canon)
	}
	if !seen["employeeId"] {
		return nil, fmt.Errorf("%w: the header has no employeeId column (columns are the employee field names of CONTRACTS section 1 and status)", errMalformed)
	}
	return cr, nil
}

// blank reports whether a record holds only spaces (a line csv does not
// skip by itself).
func blank(rec []string) bool {
	for _, c := range rec {
		if strings.TrimSpace(c) != "" {
			return false
		}
	}
	return true
}

// canonicalColumn is the contract name of a CSV column, "" when the
// contract does not know it. stateLicenses is not a CSV column (section 7).
func canonicalColumn(name string) string {
	if strings.EqualFold(name, statusColumn) {
		return statusColumn
	}
	for _, f := range hris.EmployeeFields {
		if f != "stateLicenses" && strings.EqualFold(f, name) {
			return f
		}
	}
	return ""
}

func (c *csvReader) ignored() []string { return c.unknown }

func (c *csvReader) next() (Row, error) {
	if c.columns == nil {
		return Row{}, io.EOF
	}
	c.count.limit = c.count.n + maxRowBytes
	rec, err := c.r.Read()
	if errors.Is(err, io.EOF) {
		return Row{}, io.EOF
	}
	if errors.Is(err, errMalformed) {
		return Row{}, err
	}
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		// One badly quoted record is one invalid row; the reader goes on
		// at the next record.
		return Row{Line: pe.StartLine, Problem: "not a CSV record (RFC 4180): " + csvProblem(err)}, nil
	}
	if err != nil {
		return Row{}, err
	}
	line, _ := c.r.FieldPos(0)
	row := Row{Line: line, Fields: make(map[string]json.RawMessage, len(rec))}
	if c.employeeID < len(rec) {
		// Read before the row is checked, so that even a short row is
		// reported by its id.
		row.EmployeeID = strings.TrimSpace(rec[c.employeeID])
	}
	if len(rec) != len(c.columns) {
		row.Problem = fmt.Sprintf("has %d fields; the header has %d (a cut or misquoted line?)", len(rec), len(c.columns))
		return row, nil
	}
	for i, cell := range rec {
		if !utf8.ValidString(cell) {
			row.Problem = fmt.Sprintf("column %d is not UTF-8 text", i+1)
			return row, nil
		}
		cell = strings.TrimSpace(cell)
		name := c.columns[i]
		switch {
		case name == "" || cell == "":
			// Ignored column, or an empty cell: absent.
		case name == statusColumn:
			row.Status = strings.ToLower(cell)
		case name == "ssoOnly" && (strings.EqualFold(cell, "true") || strings.EqualFold(cell, "false")):
			row.Fields[name] = json.RawMessage(strings.ToLower(cell))
		default:
			b, _ := json.Marshal(cell) // a valid UTF-8 string always marshals
			row.Fields[name] = b
		}
	}
	return row, nil
}

// csvProblem describes a CSV error without the reader's package prefix.
func csvProblem(err error) string {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		return fmt.Sprintf("line %d, column %d: %v", pe.Line, pe.Column, pe.Err)
	}
	return err.Error()
}

// ---- JSON Lines ----

type jsonlReader struct {
	r       *bufio.Reader
	line    int
	unknown map[string]bool
	order   []string
}

func (j *jsonlReader) ignored() []string { return j.order }

func (j *jsonlReader) next() (Row, error) {
	for {
		raw, tooLong, err := j.readLine()
		if err != nil {
			return Row{}, err
		}
		j.line++
		row := Row{Line: j.line}
		if tooLong {
			row.Problem = fmt.Sprintf("is longer than %d bytes", maxRowBytes)
			return row, nil
		}
		raw = bytes.TrimSpace(raw)
		if len(raw) == 0 {
			continue // blank lines, and the end of a file that ends with a newline
		}
		j.parse(raw, &row)
		return row, nil
	}
}

// readLine returns the next line without its end; a line longer than
// maxRowBytes is skipped to its end and reported as tooLong. err is io.EOF
// only when there is nothing left at all.
func (j *jsonlReader) readLine() (line []byte, tooLong bool, err error) {
	var buf []byte
	for {
		chunk, err := j.r.ReadSlice('\n')
		if len(buf)+len(chunk) > maxRowBytes+2 {
			tooLong, buf = true, nil
		} else if !tooLong {
			buf = append(buf, chunk...)
		}
		switch {
		case err == nil:
			return buf, tooLong, nil
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		case errors.Is(err, io.EOF):
			if len(buf) == 0 && !tooLong && len(chunk) == 0 {
				return nil, false, io.EOF
			}
			return buf, tooLong, nil
		default:
			return nil, false, err
		}
	}
}

// parse reads one line's object: the employee's members and status.
func (j *jsonlReader) parse(raw []byte, row *Row) {
	// The line is decoded once, first, and its id read leniently, so that
	// even a row refused below is reported by it.
	var obj map[string]json.RawMessage
	decodeErr := json.Unmarshal(raw, &obj)
	if decodeErr == nil {
		var id string
		if json.Unmarshal(obj["employeeId"], &id) == nil && utf8.ValidString(id) {
			row.EmployeeID = strings.TrimSpace(id)
		}
	}
	if !utf8.Valid(raw) {
		row.Problem = "is not UTF-8 text"
		return
	}
	if err := strictjson.CheckDuplicateKeys(raw); err != nil {
		var se *strictjson.Error
		if errors.As(err, &se) && errors.Is(err, strictjson.ErrDuplicateKey) {
			row.Problem = fmt.Sprintf("names %s twice: a row with a duplicated key is ambiguous", strings.TrimPrefix(se.Path, "$."))
		} else {
			row.Problem = "is not a JSON object: " + err.Error()
		}
		return
	}
	if decodeErr != nil || obj == nil {
		row.Problem = "is not a JSON object (one employee object a line)"
		return
	}
	if st, ok := obj[statusColumn]; ok {
		var s string
		if json.Unmarshal(st, &s) != nil {
			row.Problem = "status must be a string: active or terminated"
			return
		}
		row.Status = strings.ToLower(strings.TrimSpace(s))
		delete(obj, statusColumn)
	}
	for k := range obj {
		if !hris.IsEmployeeField(k) {
			if !j.unknown[k] && len(j.order) < maxIgnoredColumns {
				j.unknown[k] = true
				j.order = append(j.order, hris.Truncate(k, 64))
			}
			delete(obj, k)
		}
	}
	row.Fields = obj
}

// checkStatus returns the event type a row's status is validated as, or why
// the status is not one of the two.
func checkStatus(status string) (hris.Type, string) {
	switch status {
	case StatusActive:
		return hris.TypeUpdate, ""
	case StatusTerminated:
		return hris.TypeTerminate, ""
	case "":
		return "", "status is required: active or terminated"
	}
	return "", fmt.Sprintf("status %q is not active or terminated", hris.Truncate(status, 40))
}
