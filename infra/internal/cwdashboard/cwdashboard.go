// Package cwdashboard reads a CloudWatch dashboard out of a synthesized
// CloudFormation template: it resolves the DashboardBody's Fn::Join (with
// readable placeholders for Ref and Fn::GetAtt) and decodes the widgets and
// the metrics each one plots. The infra tests assert on it, and the
// dashboard renderer (infra/tools/dashboardpng) draws it.
package cwdashboard

import (
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
)

// Dashboard is a decoded dashboard body.
type Dashboard struct {
	LogicalID string
	// Name is the DashboardName property, resolved like the body (empty
	// when CloudFormation names it).
	Name    string
	Start   string
	Widgets []Widget
}

// Widget is one widget: its place on the 24-column grid, and what it shows.
type Widget struct {
	Type                string // metric, alarm, text
	X, Y, Width, Height int
	Title               string
	View                string // timeSeries (default), bar, singleValue, ...
	Stacked             bool
	Metrics             []Metric
	// Annotations are the horizontal lines of a graph (value and label).
	Annotations []Annotation
	// Alarms are the alarm ARNs (as placeholders) of an alarm status widget.
	Alarms   []string
	Markdown string
	// YAxisLabels are the left and right axis labels, when set.
	LeftLabel, RightLabel string
}

// Metric is one line of a metric widget: a metric with its dimensions, or
// a metric math / SEARCH expression.
type Metric struct {
	Namespace  string
	Name       string
	Dimensions map[string]string
	Stat       string
	Period     int // seconds; 0 = the widget's default (300)
	Label      string
	Expression string
	ID         string
	Right      bool // plotted on the right Y axis
}

// Annotation is a horizontal line on a graph.
type Annotation struct {
	Value float64
	Label string
}

// Placeholder is how a token of the template appears in the resolved body:
// {Ref: X} is "<X>", {Fn::GetAtt: [X, A]} is "<X.A>", so that a widget's
// dimension value names the resource it refers to.
func Placeholder(v any) (string, error) {
	m, ok := v.(map[string]any)
	if !ok || len(m) != 1 {
		return "", fmt.Errorf("cwdashboard: unsupported token %v", v)
	}
	if ref, ok := m["Ref"].(string); ok {
		return "<" + ref + ">", nil
	}
	if ga, ok := m["Fn::GetAtt"].([]any); ok && len(ga) == 2 {
		return fmt.Sprintf("<%v.%v>", ga[0], ga[1]), nil
	}
	return "", fmt.Errorf("cwdashboard: unsupported token %v", v)
}

// Resolve turns a DashboardBody value (a string, or an Fn::Join of strings
// and tokens) into the JSON text, tokens replaced by placeholders.
func Resolve(body any) (string, error) {
	switch b := body.(type) {
	case string:
		return b, nil
	case map[string]any:
		join, ok := b["Fn::Join"].([]any)
		if !ok || len(join) != 2 {
			return "", fmt.Errorf("cwdashboard: DashboardBody is %v, want a string or Fn::Join", b)
		}
		sep, _ := join[0].(string)
		parts, _ := join[1].([]any)
		out := make([]string, 0, len(parts))
		for _, p := range parts {
			if s, ok := p.(string); ok {
				out = append(out, s)
				continue
			}
			ph, err := Placeholder(p)
			if err != nil {
				return "", err
			}
			out = append(out, ph)
		}
		return strings.Join(out, sep), nil
	}
	return "", fmt.Errorf("cwdashboard: DashboardBody is %T", body)
}

// FromTemplate finds the AWS::CloudWatch::Dashboard resource whose
// aws:cdk:path ends in "/<constructID>/Resource" (or the only dashboard,
// when constructID is empty) and decodes it.
func FromTemplate(template map[string]any, constructID string) (*Dashboard, error) {
	resources, _ := template["Resources"].(map[string]any)
	var ids []string
	for id, r := range resources {
		res, _ := r.(map[string]any)
		if res["Type"] != "AWS::CloudWatch::Dashboard" {
			continue
		}
		md, _ := res["Metadata"].(map[string]any)
		path, _ := md["aws:cdk:path"].(string)
		if constructID == "" || strings.HasSuffix(path, "/"+constructID+"/Resource") {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	if len(ids) != 1 {
		return nil, fmt.Errorf("cwdashboard: %d dashboards match %q (%v), want 1", len(ids), constructID, ids)
	}
	props, _ := resources[ids[0]].(map[string]any)["Properties"].(map[string]any)
	text, err := Resolve(props["DashboardBody"])
	if err != nil {
		return nil, err
	}
	d, err := Decode([]byte(text))
	if err != nil {
		return nil, err
	}
	d.LogicalID = ids[0]
	if n, ok := props["DashboardName"]; ok {
		if d.Name, err = Resolve(n); err != nil {
			return nil, err
		}
	}
	return d, nil
}

// body is the dashboard body's JSON (CloudWatch's dashboard body structure).
type body struct {
	Start   string `json:"start"`
	Widgets []struct {
		Type       string `json:"type"`
		X          int    `json:"x"`
		Y          int    `json:"y"`
		Width      int    `json:"width"`
		Height     int    `json:"height"`
		Properties struct {
			Title    string            `json:"title"`
			View     string            `json:"view"`
			Stacked  bool              `json:"stacked"`
			Metrics  []json.RawMessage `json:"metrics"`
			Alarms   []string          `json:"alarms"`
			Markdown string            `json:"markdown"`
			YAxis    struct {
				Left  struct{ Label string } `json:"left"`
				Right struct{ Label string } `json:"right"`
			} `json:"yAxis"`
			Annotations struct {
				Horizontal []struct {
					Value float64 `json:"value"`
					Label string  `json:"label"`
				} `json:"horizontal"`
			} `json:"annotations"`
		} `json:"properties"`
	} `json:"widgets"`
}

// Decode parses a dashboard body.
func Decode(text []byte) (*Dashboard, error) {
	var b body
	if err := json.Unmarshal(text, &b); err != nil {
		return nil, fmt.Errorf("cwdashboard: dashboard body: %w", err)
	}
	d := &Dashboard{Start: b.Start}
	for i, w := range b.Widgets {
		out := Widget{
			Type: w.Type, X: w.X, Y: w.Y, Width: w.Width, Height: w.Height,
			Title: w.Properties.Title, View: w.Properties.View, Stacked: w.Properties.Stacked,
			Alarms: w.Properties.Alarms, Markdown: w.Properties.Markdown,
			LeftLabel: w.Properties.YAxis.Left.Label, RightLabel: w.Properties.YAxis.Right.Label,
		}
		if out.View == "" && out.Type == "metric" {
			out.View = "timeSeries"
		}
		for _, a := range w.Properties.Annotations.Horizontal {
			out.Annotations = append(out.Annotations, Annotation{Value: a.Value, Label: a.Label})
		}
		var prev []any
		for j, raw := range w.Properties.Metrics {
			m, row, err := decodeMetric(raw, prev)
			if err != nil {
				return nil, fmt.Errorf("cwdashboard: widget %d (%q) metric %d: %w", i, out.Title, j, err)
			}
			prev = row
			out.Metrics = append(out.Metrics, m)
		}
		d.Widgets = append(d.Widgets, out)
	}
	return d, nil
}

// decodeMetric reads one metrics row: [namespace, name, dim, value, ...,
// {options}] or [{expression, ...}]. "." repeats the value at the same
// position of the previous row (CloudWatch's shorthand).
func decodeMetric(raw json.RawMessage, prev []any) (Metric, []any, error) {
	var row []any
	if err := json.Unmarshal(raw, &row); err != nil {
		return Metric{}, nil, err
	}
	var opts map[string]any
	if n := len(row); n > 0 {
		if o, ok := row[n-1].(map[string]any); ok {
			opts, row = o, row[:n-1]
		}
	}
	for i, v := range row {
		if v == "." && i < len(prev) {
			row[i] = prev[i]
		}
	}
	m := Metric{Dimensions: map[string]string{}}
	str := func(k string) string { s, _ := opts[k].(string); return s }
	m.Stat, m.Label, m.Expression, m.ID = str("stat"), str("label"), str("expression"), str("id")
	m.Right = str("yAxis") == "right"
	if p, ok := opts["period"].(float64); ok {
		m.Period = int(p)
	}
	if m.Expression != "" {
		return m, row, nil
	}
	if len(row) < 2 || len(row)%2 != 0 {
		return Metric{}, nil, errors.New("want namespace, metric name and dimension pairs")
	}
	for i, v := range row {
		if _, ok := v.(string); !ok {
			return Metric{}, nil, fmt.Errorf("element %d is %T, want a string", i, v)
		}
	}
	m.Namespace, m.Name = row[0].(string), row[1].(string)
	for i := 2; i < len(row); i += 2 {
		m.Dimensions[row[i].(string)] = row[i+1].(string)
	}
	return m, row, nil
}
