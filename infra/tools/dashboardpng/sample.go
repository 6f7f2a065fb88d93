package main

import (
	"hash/fnv"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"github.com/lenderops/encompass-lifecycle/infra/internal/cwdashboard"
)

// Sample data: plausible, deterministic values for each metric, so that the
// picture shows what each widget looks like on a working day. Nothing here
// is measured; the page says so.

// rng is seeded from the series' identity, so the same template always
// draws the same picture.
func rng(parts ...string) *rand.Rand {
	h := fnv.New64a()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	s := h.Sum64()
	return rand.New(rand.NewPCG(s, s>>1|1))
}

// busy is 0 at night and peaks mid-day: HR changes follow office hours.
func busy(t time.Time) float64 {
	h := float64(t.UTC().Hour()) + float64(t.UTC().Minute())/60
	if h < 8 || h > 18 {
		return 0.05
	}
	return 0.1 + 0.9*math.Sin(math.Pi*(h-8)/10)
}

// sample returns n points, one per period seconds, ending at end.
func sample(m cwdashboard.Metric, n, period int, end time.Time) []float64 {
	r := rng(m.Namespace, m.Name, m.Stat, m.Label, strings.Join(sortedDims(m.Dimensions), ","))
	fn := m.Dimensions["Function"]
	queue := strings.ToLower(m.Dimensions["QueueName"])
	out := make([]float64, n)
	start := end.Add(-span)
	for i := range out {
		t := start.Add(time.Duration((i+1)*period) * time.Second)
		b := busy(t)
		jitter := 0.6 + 0.8*r.Float64()
		var v float64
		switch name := m.Name; {
		case name == "Outcome.UserProvisioned":
			v = math.Round(9 * b * jitter)
		case name == "Outcome.UserUpdated":
			v = math.Round(14 * b * jitter)
		case name == "Outcome.UserReactivated":
			v = boolf(r.Float64() < 0.15*b)
		case name == "Outcome.UserDeprovisioned":
			v = math.Round(6 * b * jitter)
		case name == "ExposureSeconds":
			if b < 0.2 { // no leavers at night: no data points
				v = math.NaN()
				break
			}
			p50 := 25 + 20*r.Float64()
			switch m.Stat {
			case "p50":
				v = p50
			case "p99":
				v = p50 + 60 + 90*r.Float64()
			default:
				v = p50 + 120 + 150*r.Float64()
			}
		case name == "EncompassCalls":
			switch fn {
			case "poller": // 20,000 users: 100 list pages every 15 minutes
				v = boolf(i%3 == 2) * (100 + 3*r.Float64())
			case "deprovision":
				v = math.Round(35 * b * jitter)
			default:
				v = math.Round(140 * b * jitter)
			}
		case name == "EncompassThrottles":
			if fn == "provision" && t.UTC().Hour() == 10 && t.UTC().Minute() < 20 {
				v = math.Round(1 + 5*r.Float64())
			}
		case name == "ApproximateAgeOfOldestMessage":
			v = queueAge(queue, t, b, r)
		case name == "ApproximateNumberOfMessagesVisible":
			v = boolf(strings.Contains(queue, "provisionqueuedlq") && !strings.Contains(queue, "deprovision") && inDLQWindow(t))
		case name == "PollDuration":
			v = 700 + 250*r.Float64()
		case name == "UserChanges":
			v = math.Round(5 * b * r.Float64())
		case name == "WebhookAccepted":
			v = math.Round(45 * b * jitter)
		case name == "WebhookDuplicate":
			v = boolf(r.Float64() < 0.25) * math.Round(1+r.Float64())
		case name == "WebhookBadSignature", name == "4xx":
			v = boolf(r.Float64() < 0.03)
		case strings.HasPrefix(name, "Webhook"), name == "5xx":
			v = 0
		default:
			v = math.Round(10 * b * jitter)
		}
		out[i] = v
	}
	return out
}

// inDLQWindow is when the sample's one failed joiner sat in the provision
// DLQ (redriven two hours later): the picture shows what that looks like.
func inDLQWindow(t time.Time) bool { h := t.UTC().Hour(); return h >= 4 && h < 6 }

func queueAge(queue string, t time.Time, b float64, r *rand.Rand) float64 {
	switch {
	case strings.Contains(queue, "dlq"):
		if strings.HasPrefix(strings.TrimPrefix(queue, "<"), "provisionqueuedlq") && inDLQWindow(t) {
			return t.UTC().Sub(t.UTC().Truncate(24*time.Hour).Add(4*time.Hour)).Seconds() + 60
		}
		return 0
	default:
		return math.Round(25 * b * r.Float64())
	}
}

// searchSamples are the dimension values a SEARCH expression's sample
// draws: the rejection reasons of CONTRACTS section 3 most often seen.
func searchSamples(expr string) []map[string]string {
	if !strings.Contains(expr, "Reason") {
		return []map[string]string{{}}
	}
	return []map[string]string{
		{"Function": "provision", "Reason": "invalid_field"},
		{"Function": "provision", "Reason": "userName_conflict"},
		{"Function": "provision", "Reason": "invalid_json"},
		{"Function": "deprovision", "Reason": "wrong_queue"},
	}
}

func sampleSearch(dims map[string]string, n int) []float64 {
	r := rng(dims["Function"], dims["Reason"])
	weight := map[string]float64{"invalid_field": 0.25, "userName_conflict": 0.1, "invalid_json": 0.05, "wrong_queue": 0.05}[dims["Reason"]]
	out := make([]float64, n)
	for i := range out {
		if r.Float64() < weight {
			out[i] = math.Round(1 + 2*r.Float64())
		}
	}
	return out
}

func boolf(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

func sortedDims(d map[string]string) []string {
	out := make([]string, 0, len(d))
	for k, v := range d {
		out = append(out, k+"="+v)
	}
	slices.Sort(out)
	return out
}
