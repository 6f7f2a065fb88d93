package telemetry

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"
)

// Namespace is the CloudWatch namespace of the product's metrics.
const Namespace = "EncompassLifecycle"

// Unit is a CloudWatch metric unit.
type Unit string

// Units the product uses.
const (
	Count        Unit = "Count"
	Milliseconds Unit = "Milliseconds"
	Seconds      Unit = "Seconds"
	Bytes        Unit = "Bytes"
	None         Unit = "None"
)

// Metrics collects metric values during one invocation and writes them as
// CloudWatch embedded-metric-format lines on Flush: one line for the fixed
// dimensions, and one per extra dimension value counted with AddBy. It is
// safe for concurrent use.
type Metrics struct {
	namespace string
	dims      map[string]string
	now       func() time.Time

	mu       sync.Mutex
	values   map[string]float64
	units    map[string]Unit
	observed map[string][]float64
	by       map[extraDim]map[string]float64
}

// extraDim is one value of a dimension beyond the fixed ones (Reason:
// invalid_field).
type extraDim struct{ name, value string }

// NewMetrics returns a collector for namespace with fixed dimensions, e.g.
// NewMetrics(Namespace, map[string]string{"Function": "provision"}).
func NewMetrics(namespace string, dims map[string]string) *Metrics {
	return &Metrics{
		namespace: namespace,
		dims:      maps.Clone(dims),
		now:       time.Now,
		values:    map[string]float64{},
		units:     map[string]Unit{},
		observed:  map[string][]float64{},
		by:        map[extraDim]map[string]float64{},
	}
}

// Add adds n to the Count metric name.
func (m *Metrics) Add(name string, n float64) { m.add(name, n, Count) }

// AddUnit adds n to the metric name with the given unit (e.g. summed
// Milliseconds).
func (m *Metrics) AddUnit(name string, n float64, unit Unit) { m.add(name, n, unit) }

func (m *Metrics) add(name string, n float64, unit Unit) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.values[name] += n
	m.units[name] = unit
}

// AddBy adds n to the Count metric name under one more dimension (e.g.
// "Rejected" by "Reason"), written on a line of its own.
func (m *Metrics) AddBy(name, dimension, value string, n float64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	k := extraDim{dimension, value}
	if m.by[k] == nil {
		m.by[k] = map[string]float64{}
	}
	m.by[k][name] += n
}

// Observe records one value of the metric name (not summed): CloudWatch
// keeps every value, so that percentiles (p99 of a leaver's exposure) can
// be read and alarmed on.
func (m *Metrics) Observe(name string, v float64, unit Unit) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.observed[name] = append(m.observed[name], v)
	m.units[name] = unit
}

// Value returns the current value of a metric (tests, benchmarks): the sum
// of what was added, or of what was observed.
func (m *Metrics) Value(name string) float64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	v := m.values[name]
	for _, o := range m.observed[name] {
		v += o
	}
	return v
}

type emfMetric struct {
	Name string
	Unit Unit
}

type emfDirective struct {
	Namespace  string
	Dimensions [][]string
	Metrics    []emfMetric
}

type emfMeta struct {
	Timestamp         int64
	CloudWatchMetrics []emfDirective
}

// maxObserved is EMF's limit of values per metric on one line.
const maxObserved = 100

// Flush writes the collected values as EMF JSON lines and resets them. With
// nothing collected it writes nothing. A metric named like a dimension is an
// error (EMF reads both from the same top-level keys).
func (m *Metrics) Flush(w io.Writer) error {
	m.mu.Lock()
	values, units, observed, by := m.values, m.units, m.observed, m.by
	m.values, m.units, m.observed, m.by = map[string]float64{}, map[string]Unit{}, map[string][]float64{}, map[extraDim]map[string]float64{}
	m.mu.Unlock()

	lines := [][]byte{}
	doc := map[string]any{}
	for n, v := range values {
		doc[n] = v
	}
	// EMF takes at most 100 values of a metric a line: more go on further
	// lines of the same dimensions.
	for first := true; first || len(observed) > 0; first = false {
		for n, vs := range observed {
			k := min(len(vs), maxObserved)
			doc[n] = vs[:k]
			if k == len(vs) {
				delete(observed, n)
			} else {
				observed[n] = vs[k:]
			}
		}
		line, err := m.line(m.dims, doc, units)
		if err != nil {
			return err
		}
		if line != nil {
			lines = append(lines, line)
		}
		doc = map[string]any{}
	}
	extras := slices.SortedFunc(maps.Keys(by), func(a, b extraDim) int {
		if a.name != b.name {
			return strings.Compare(a.name, b.name)
		}
		return strings.Compare(a.value, b.value)
	})
	for _, k := range extras {
		dims := maps.Clone(m.dims)
		dims[k.name] = k.value
		doc := map[string]any{}
		for n, v := range by[k] {
			doc[n] = v
		}
		line, err := m.line(dims, doc, units)
		if err != nil {
			return err
		}
		lines = append(lines, line)
	}
	for _, l := range lines {
		if _, err := w.Write(l); err != nil {
			return err
		}
	}
	return nil
}

// line encodes one EMF document of the metrics in doc under dims; nil when
// doc is empty.
func (m *Metrics) line(dims map[string]string, doc map[string]any, units map[string]Unit) ([]byte, error) {
	if len(doc) == 0 {
		return nil, nil
	}
	names := slices.Sorted(maps.Keys(doc))
	metrics := make([]emfMetric, 0, len(names))
	for _, n := range names {
		if _, clash := dims[n]; clash || n == "_aws" {
			return nil, fmt.Errorf("telemetry: metric %q has the name of a dimension", n)
		}
		unit := units[n]
		if unit == "" {
			unit = Count
		}
		metrics = append(metrics, emfMetric{Name: n, Unit: unit})
	}
	dimNames := slices.Sorted(maps.Keys(dims))
	for _, d := range dimNames {
		doc[d] = dims[d]
	}
	dimSets := [][]string{dimNames}
	if len(dimNames) == 0 {
		dimSets = [][]string{{}}
	}
	doc["_aws"] = emfMeta{
		Timestamp:         m.now().UnixMilli(),
		CloudWatchMetrics: []emfDirective{{Namespace: m.namespace, Dimensions: dimSets, Metrics: metrics}},
	}
	line, err := json.Marshal(doc)
	if err != nil {
		return nil, fmt.Errorf("telemetry: encode metrics: %w", err)
	}
	return append(line, '\n'), nil
}
