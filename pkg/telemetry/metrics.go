package telemetry

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
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
	Bytes        Unit = "Bytes"
	None         Unit = "None"
)

// Metrics collects metric values during one invocation and writes them as
// one CloudWatch embedded-metric-format line on Flush. It is safe for
// concurrent use.
type Metrics struct {
	namespace string
	dims      map[string]string
	now       func() time.Time

	mu     sync.Mutex
	values map[string]float64
	units  map[string]Unit
}

// NewMetrics returns a collector for namespace with fixed dimensions, e.g.
// NewMetrics(Namespace, map[string]string{"Function": "provision"}).
func NewMetrics(namespace string, dims map[string]string) *Metrics {
	return &Metrics{
		namespace: namespace,
		dims:      maps.Clone(dims),
		now:       time.Now,
		values:    map[string]float64{},
		units:     map[string]Unit{},
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

// Value returns the current value of a metric (tests, benchmarks).
func (m *Metrics) Value(name string) float64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.values[name]
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

// Flush writes the collected values as one EMF JSON line and resets them.
// With nothing collected it writes nothing. A metric named like a dimension
// is an error (EMF reads both from the same top-level keys).
func (m *Metrics) Flush(w io.Writer) error {
	m.mu.Lock()
	values, units := m.values, m.units
	m.values, m.units = map[string]float64{}, map[string]Unit{}
	m.mu.Unlock()
	if len(values) == 0 {
		return nil
	}
	doc := make(map[string]any, len(values)+len(m.dims)+1)
	dimNames := slices.Sorted(maps.Keys(m.dims))
	for _, d := range dimNames {
		doc[d] = m.dims[d]
	}
	names := slices.Sorted(maps.Keys(values))
	metrics := make([]emfMetric, 0, len(names))
	for _, n := range names {
		if _, clash := m.dims[n]; clash || n == "_aws" {
			return fmt.Errorf("telemetry: metric %q has the name of a dimension", n)
		}
		doc[n] = values[n]
		metrics = append(metrics, emfMetric{Name: n, Unit: units[n]})
	}
	dims := [][]string{dimNames}
	if len(dimNames) == 0 {
		dims = [][]string{{}}
	}
	doc["_aws"] = emfMeta{
		Timestamp:         m.now().UnixMilli(),
		CloudWatchMetrics: []emfDirective{{Namespace: m.namespace, Dimensions: dims, Metrics: metrics}},
	}
	line, err := json.Marshal(doc)
	if err != nil {
		return fmt.Errorf("telemetry: encode metrics: %w", err)
	}
	_, err = w.Write(append(line, '\n'))
	return err
}
