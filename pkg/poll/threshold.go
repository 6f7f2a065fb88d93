package poll

import (
	"context"
	"fmt"
	"slices"
)

// anomalySample is how many user ids a Poll Anomaly names.
const anomalySample = 20

// overThreshold counts the new disables among diffs and reports whether
// they and the removals together exceed MaxRemovalRatio of the known users.
func (p *Poller) overThreshold(knownUsers int, removed []string, diffs []*diffEntry) (disabled int, over bool) {
	for _, d := range diffs {
		if slices.Contains(d.kinds, TypeUserDisabled) {
			disabled++
		}
	}
	return disabled, float64(len(removed)+disabled) > p.cfg.MaxRemovalRatio*float64(knownUsers)
}

// anomaly publishes Poll Anomaly and nothing else, and keeps the snapshot.
func (p *Poller) anomaly(ctx context.Context, sum Summary, next int64, listed int, removed []string, diffs []*diffEntry, disabled int) (Summary, error) {
	var sample []string
	sample = append(sample, removed[:min(len(removed), anomalySample)]...)
	for _, d := range diffs {
		if len(sample) == anomalySample {
			break
		}
		if slices.Contains(d.kinds, TypeUserDisabled) {
			sample = append(sample, d.key)
		}
	}
	detail := AnomalyDetail{
		EventID:    eventID(next, "anomaly", fmt.Sprint(listed, len(removed), disabled)),
		KnownUsers: sum.Known, ListedUsers: listed, Removed: len(removed), Disabled: disabled,
		MaxRemovalRatio: p.cfg.MaxRemovalRatio, Sample: sample, Generation: next,
	}
	p.log.WarnContext(ctx, "poll: anomaly: too many users removed or disabled; nothing published per user, snapshot kept",
		"known", sum.Known, "listed", listed, "removed", len(removed), "disabled", disabled, "maxRatio", p.cfg.MaxRemovalRatio)
	if err := p.cfg.Publisher.Publish(ctx, event(TypeAnomaly, detail)); err != nil {
		return sum, fmt.Errorf("poll: publish anomaly: %w", err)
	}
	sum.Outcome = OutcomeAnomaly
	sum.Events = 1
	return sum, nil
}
