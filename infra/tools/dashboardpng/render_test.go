package main

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/lenderops/encompass-lifecycle/infra/internal/cwdashboard"
)

// TestRenderDrawsEveryWidgetAndSeries renders a small dashboard (no
// Chromium: only the HTML) and checks the page carries each widget's title
// at its grid position, a legend entry per series (a SEARCH over Reason
// expanding to one per sample reason), and escapes what it prints.
func TestRenderDrawsEveryWidgetAndSeries(t *testing.T) {
	d, err := cwdashboard.Decode([]byte(`{"start":"-P1D","widgets":[
	  {"type":"metric","x":0,"y":0,"width":12,"height":6,"properties":{"title":"Joiners <per hour>","view":"bar","stacked":true,
	   "metrics":[["EncompassLifecycle","Outcome.UserProvisioned","Function","provision",{"stat":"Sum","period":3600,"label":"joiners"}],
	              ["EncompassLifecycle","EncompassThrottles","Function","provision",{"stat":"Sum","yAxis":"right","label":"429s"}]]}},
	  {"type":"metric","x":12,"y":0,"width":12,"height":6,"properties":{"title":"Rejections",
	   "metrics":[[{"expression":"SEARCH('{EncompassLifecycle,Function,Reason} MetricName=\"Rejected\"', 'Sum', 3600)","label":"${PROP('Dim.Function')} ${PROP('Dim.Reason')}","period":3600}]],
	   "annotations":{"horizontal":[{"value":5,"label":"limit"}]}}},
	  {"type":"alarm","x":0,"y":6,"width":8,"height":6,"properties":{"title":"Alarms","alarms":["<ProvisionErrorsAB12CD34.Arn>"]}}]}`))
	if err != nil {
		t.Fatal(err)
	}
	d.Name = "EncompassLifecycle-<AWS::Region>"
	end := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	page, w, h := Render(d, Options{End: end, Source: "t.json", Construct: "OperationsDashboard"})
	if w != 1440 || h != headerH+12*unitH+gutter {
		t.Errorf("page %dx%d", w, h)
	}
	for _, want := range []string{
		"EncompassLifecycle-us-east-1", "sample data",
		"Joiners &lt;per hour&gt;", "left:3px;top:67px;width:714px;height:294px",
		"joiners", "429s (right)",
		"provision invalid_field", "deprovision wrong_queue", ">limit<",
		"ProvisionErrors<", // the CDK hash is dropped
		"12:00", "21:00",
	} {
		if !bytes.Contains(page, []byte(want)) {
			t.Errorf("page lacks %q", want)
		}
	}
	if bytes.Contains(page, []byte("<per hour>")) {
		t.Error("a title is printed unescaped")
	}
	// Reproducible: the same input draws the same page.
	again, _, _ := Render(d, Options{End: end, Source: "t.json", Construct: "OperationsDashboard"})
	if !bytes.Equal(page, again) {
		t.Error("two renders of the same dashboard differ")
	}
	if n := strings.Count(string(page), "<polyline"); n == 0 {
		t.Error("the time series widget drew no line")
	}
}

func TestNiceScale(t *testing.T) {
	for _, c := range []struct {
		in, want float64
		steps    int
	}{{0, 1, 5}, {0.7, 1, 5}, {3, 5, 5}, {12, 20, 4}, {23, 25, 5}, {501, 1000, 5}, {7000, 10000, 5}} {
		if got := niceCeil(c.in); got != c.want || tickSteps(got) != c.steps {
			t.Errorf("niceCeil(%v) = %v (%d steps), want %v (%d)", c.in, got, tickSteps(got), c.want, c.steps)
		}
	}
}
