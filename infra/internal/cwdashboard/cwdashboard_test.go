package cwdashboard

import (
	"strings"
	"testing"
)

func TestResolveReplacesTokensWithPlaceholders(t *testing.T) {
	got, err := Resolve(map[string]any{"Fn::Join": []any{"", []any{
		`{"region":"`, map[string]any{"Ref": "AWS::Region"}, `","q":"`,
		map[string]any{"Fn::GetAtt": []any{"Queue1", "QueueName"}}, `"}`,
	}}})
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"region":"<AWS::Region>","q":"<Queue1.QueueName>"}`; got != want {
		t.Errorf("Resolve = %s, want %s", got, want)
	}
	if s, err := Resolve(`{"widgets":[]}`); err != nil || s != `{"widgets":[]}` {
		t.Errorf("a plain string body = %q, %v", s, err)
	}
}

func TestResolveRefusesWhatItCannotRead(t *testing.T) {
	for name, body := range map[string]any{
		"number":          42,
		"nil":             nil,
		"not a join":      map[string]any{"Fn::Sub": "x"},
		"short join":      map[string]any{"Fn::Join": []any{""}},
		"unknown token":   map[string]any{"Fn::Join": []any{"", []any{map[string]any{"Fn::ImportValue": "x"}}}},
		"two-key token":   map[string]any{"Fn::Join": []any{"", []any{map[string]any{"Ref": "a", "Fn::GetAtt": []any{"b", "c"}}}}},
		"GetAtt too long": map[string]any{"Fn::Join": []any{"", []any{map[string]any{"Fn::GetAtt": []any{"a", "b", "c"}}}}},
	} {
		if _, err := Resolve(body); err == nil {
			t.Errorf("%s: Resolve(%v) succeeded", name, body)
		}
	}
}

func TestDecodeMetricsExpressionsAndShorthand(t *testing.T) {
	d, err := Decode([]byte(`{"start":"-P1D","widgets":[
	  {"type":"metric","x":0,"y":0,"width":12,"height":6,"properties":{"title":"T","stacked":true,
	   "metrics":[["NS","A","Function","provision",{"stat":"Sum","period":3600,"label":"a"}],
	              [".","B",".",".",{"yAxis":"right"}],
	              [{"expression":"SEARCH('{NS,Reason}', 'Sum', 60)","label":"r"}]],
	   "annotations":{"horizontal":[{"value":900,"label":"alarm"}]},
	   "yAxis":{"left":{"label":"events"}}}},
	  {"type":"alarm","x":12,"y":0,"width":12,"height":6,"properties":{"title":"Alarms","alarms":["<A1.Arn>"]}}]}`))
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Widgets) != 2 || d.Start != "-P1D" {
		t.Fatalf("decoded %+v", d)
	}
	w := d.Widgets[0]
	if w.View != "timeSeries" || !w.Stacked || w.LeftLabel != "events" || len(w.Annotations) != 1 || w.Annotations[0].Value != 900 {
		t.Errorf("widget = %+v", w)
	}
	a, b, e := w.Metrics[0], w.Metrics[1], w.Metrics[2]
	if a.Namespace != "NS" || a.Name != "A" || a.Dimensions["Function"] != "provision" || a.Stat != "Sum" || a.Period != 3600 || a.Label != "a" {
		t.Errorf("first metric = %+v", a)
	}
	if b.Namespace != "NS" || b.Name != "B" || b.Dimensions["Function"] != "provision" || !b.Right {
		t.Errorf("shorthand metric = %+v", b)
	}
	if !strings.HasPrefix(e.Expression, "SEARCH(") || e.Label != "r" {
		t.Errorf("expression = %+v", e)
	}
	if d.Widgets[1].Type != "alarm" || d.Widgets[1].Alarms[0] != "<A1.Arn>" {
		t.Errorf("alarm widget = %+v", d.Widgets[1])
	}
}

func TestDecodeRefusesMalformedBodies(t *testing.T) {
	for name, body := range map[string]string{
		"not JSON":            `{"widgets":`,
		"metrics not a list":  `{"widgets":[{"type":"metric","properties":{"metrics":[42]}}]}`,
		"odd dimension pairs": `{"widgets":[{"type":"metric","properties":{"metrics":[["NS","A","Function"]]}}]}`,
		"only a namespace":    `{"widgets":[{"type":"metric","properties":{"metrics":[["NS"]]}}]}`,
		"number as a name":    `{"widgets":[{"type":"metric","properties":{"metrics":[["NS",7]]}}]}`,
		"widgets not a list":  `{"widgets":{}}`,
	} {
		if _, err := Decode([]byte(body)); err == nil {
			t.Errorf("%s: Decode(%s) succeeded", name, body)
		}
	}
}

func TestFromTemplateNeedsExactlyOneMatchingDashboard(t *testing.T) {
	dash := func(path string) map[string]any {
		return map[string]any{
			"Type":       "AWS::CloudWatch::Dashboard",
			"Metadata":   map[string]any{"aws:cdk:path": path},
			"Properties": map[string]any{"DashboardBody": `{"widgets":[]}`},
		}
	}
	tmpl := map[string]any{"Resources": map[string]any{
		"A": dash("Stack/OperationsDashboard/Resource"),
		"B": dash("Stack/Other/Resource"),
	}}
	d, err := FromTemplate(tmpl, "OperationsDashboard")
	if err != nil || d.LogicalID != "A" {
		t.Errorf("FromTemplate = %+v, %v", d, err)
	}
	if _, err := FromTemplate(tmpl, ""); err == nil {
		t.Error("two dashboards and no construct id: no error")
	}
	if _, err := FromTemplate(tmpl, "Missing"); err == nil {
		t.Error("no matching dashboard: no error")
	}
	if _, err := FromTemplate(map[string]any{}, ""); err == nil {
		t.Error("a template without resources: no error")
	}
}
