package hris

import (
	"strings"
	"testing"
	"time"
)

// decodeWith decodes the sample hire (or, on the deprovision queue, a
// terminate) with its top-level fields edited.
func decodeWith(t *testing.T, q Queue, edit func(ev, emp map[string]any)) (*Event, *Error) {
	t.Helper()
	b := body(t, func(ev, emp map[string]any) {
		delete(ev, "effectiveAt")
		if q == QueueDeprovision {
			ev["type"] = "terminate"
		}
		if edit != nil {
			edit(ev, emp)
		}
	})
	got, err := Decode(b, q, now)
	if err == nil {
		return got, nil
	}
	he, ok := AsError(err)
	if !ok {
		t.Fatalf("error %T %v is not *hris.Error", err, err)
	}
	return nil, he
}

// Defect 1 of issue 10: an occurredAt in the future, once applied, made every
// real event of the employee look older (a terminate skipped as stale, a
// leaver kept enabled). More than five minutes ahead is now rejected.
func TestDecodeRejectsFutureOccurredAt(t *testing.T) {
	t.Parallel()
	limit := now.Add(FutureTolerance)
	cases := []struct {
		name, occurredAt string
		ok               bool
	}{
		{"exactly now+5min", limit.Format(time.RFC3339Nano), true},
		{"now+5min+1ns", limit.Add(time.Nanosecond).Format(time.RFC3339Nano), false},
		{"now+5min with nine zero decimals", "2026-11-21T12:05:00.000000000Z", true},
		{"now+5min+1ns in decimals", "2026-11-21T12:05:00.000000001Z", false},
		{"now+5min+1s", limit.Add(time.Second).Format(time.RFC3339), false},
		{"now+5min at +05:45", limit.In(time.FixedZone("NPT", 5*3600+45*60)).Format(time.RFC3339), true},
		{"now+5min+1s at +05:45", "2026-11-21T17:50:01+05:45", false},
		{"now+5min at -00:00", "2026-11-21T12:05:00-00:00", true},
		{"now+5min+1s at -00:00", "2026-11-21T12:05:01-00:00", false},
		{"now+5min at -09:30", "2026-11-21T02:35:00-09:30", true},
		{"an hour ahead", "2026-11-21T13:00:00Z", false},
		{"tomorrow, written as today far west", "2026-11-21T23:00:00-12:00", false},
		{"2099", "2099-01-01T00:00:00Z", false},
		{"year 9999", "9999-12-31T00:00:00Z", false},
		{"last instant of year 9999", "9999-12-31T23:59:59.999999999Z", false},
		{"now", now.Format(time.RFC3339), true},
		{"a year ago", "2025-11-21T12:00:00Z", true},
	}
	for _, q := range []Queue{QueueProvision, QueueDeprovision} {
		for _, tc := range cases {
			ev, he := decodeWith(t, q, func(ev, _ map[string]any) { ev["occurredAt"] = tc.occurredAt })
			if tc.ok {
				if he != nil {
					t.Errorf("%s %s: rejected: %v", q, tc.name, he)
				} else if want, _ := time.Parse(time.RFC3339, tc.occurredAt); !ev.OccurredAt.Equal(want) {
					t.Errorf("%s %s: occurredAt %v, want %v", q, tc.name, ev.OccurredAt, want)
				}
				continue
			}
			if he == nil {
				t.Errorf("%s %s: accepted", q, tc.name)
				continue
			}
			if he.Reason != ReasonInvalidField || he.Field != "occurredAt" {
				t.Errorf("%s %s: %s/%s, want invalid_field/occurredAt (%v)", q, tc.name, he.Reason, he.Field, he)
			}
			for _, says := range []string{"cannot have happened yet", "5m0s"} {
				if !strings.Contains(he.Message, says) {
					t.Errorf("%s %s: message %q does not say %q", q, tc.name, he.Message, says)
				}
			}
			if he.EventID != "hris-2026-000123" || he.EmployeeID != "E12345" {
				t.Errorf("%s %s: rejection lost its identifiers: %q %q", q, tc.name, he.EventID, he.EmployeeID)
			}
		}
	}
}

// effectiveAt: any time up to 400 days ahead is valid (more than five
// minutes ahead, the event is held until then: pkg/provisioning); beyond,
// a typing error.
func TestDecodeEffectiveAtBounds(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name        string
		effectiveAt time.Time
		reason      string // "" when accepted
	}{
		{"now+5min", now.Add(FutureTolerance), ""},
		{"now+5min+1ns", now.Add(FutureTolerance + time.Nanosecond), ""},
		{"in 30 days", now.AddDate(0, 0, 30), ""},
		{"in 30 days, +05:45", now.AddDate(0, 0, 30).In(time.FixedZone("", 5*3600+45*60)), ""},
		{"now+400 days", now.Add(MaxEffectiveAhead), ""},
		{"now+400 days+1ns", now.Add(MaxEffectiveAhead + time.Nanosecond), ReasonInvalidField},
		{"year 9999", time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC), ReasonInvalidField},
		{"last week", now.AddDate(0, 0, -7), ""},
		{"year 1900", time.Date(1900, 1, 1, 0, 0, 0, 0, time.UTC), ""},
	}
	for _, tc := range cases {
		ev, he := decodeWith(t, QueueDeprovision, func(ev, _ map[string]any) {
			ev["effectiveAt"] = tc.effectiveAt.Format(time.RFC3339Nano)
		})
		switch {
		case tc.reason == "" && he != nil:
			t.Errorf("%s: rejected: %v", tc.name, he)
		case tc.reason == "" && !ev.EffectiveAt.Equal(tc.effectiveAt):
			t.Errorf("%s: effectiveAt %v", tc.name, ev.EffectiveAt)
		case tc.reason != "" && he == nil:
			t.Errorf("%s: accepted", tc.name)
		case tc.reason != "" && (he.Reason != tc.reason || he.Field != "effectiveAt"):
			t.Errorf("%s: %s/%s, want %s/effectiveAt (%v)", tc.name, he.Reason, he.Field, tc.reason, he)
		case tc.reason == ReasonInvalidField && !strings.Contains(he.Message, "typing error, not a plan"):
			t.Errorf("%s: message %q", tc.name, he.Message)
		}
	}
}

// Timestamps that time.Parse accepts but that RFC 3339 does not, or that
// could not be stored and read back as the employee's last applied time.
func TestDecodeTimestampShapes(t *testing.T) {
	t.Parallel()
	cases := []struct {
		value string
		ok    bool
		says  string
	}{
		{"2026-11-20T15:04:05Z", true, ""},
		{"2026-11-20T15:04:05.5Z", true, ""},
		{"2026-11-20T15:04:05.123456789Z", true, ""},
		{"2026-11-20T15:04:05+23:59", true, ""},
		{"2026-11-20T15:04:05-00:00", true, ""},
		{"0001-01-01T00:00:01Z", true, ""},
		{"2026-11-20T15:04:05,5Z", false, "period"},
		{"2026-11-20T15:04:05+24:00", false, "offset"},
		{"2026-11-20T15:04:05+05:60", false, "offset"},
		{"0000-01-01T00:00:00+01:00", false, "0001 to 9999"}, // year -1 in UTC
		{"0000-06-01T00:00:00Z", false, "0001 to 9999"},
		{"0001-01-01T00:00:00Z", false, "0001 to 9999"}, // Go's zero time
		{"0001-01-01T00:30:00+01:00", false, "0001 to 9999"},
		{"2026-11-20T15:04:05", false, "RFC 3339"},
		{"2026-11-20t15:04:05z", false, "RFC 3339"},
		{"2026-11-20 15:04:05Z", false, "RFC 3339"},
		{"2026-11-20T23:59:60Z", false, "RFC 3339"},
		{"2026-11-20T15:04:05+0545", false, "RFC 3339"},
		{"2026-11-20T5:04:05Z", false, "RFC 3339"}, // time.Parse takes a one-digit hour
		{"2026-11-20T15:04:05.Z", false, "RFC 3339"},
		{"+2026-11-20T15:04:05Z", false, "RFC 3339"},
		{"2026-11-20T15:04:05Z\u200b", false, "RFC 3339"},
	}
	for _, key := range []string{"occurredAt", "effectiveAt"} {
		for _, tc := range cases {
			ev, he := decodeWith(t, QueueDeprovision, func(ev, _ map[string]any) { ev[key] = tc.value })
			if tc.ok {
				if he != nil {
					t.Errorf("%s %q: rejected: %v", key, tc.value, he)
					continue
				}
				got := ev.OccurredAt
				if key == "effectiveAt" {
					got = ev.EffectiveAt
				}
				// What is accepted can be stored and read back unchanged.
				back, err := time.Parse(time.RFC3339Nano, got.UTC().Format(time.RFC3339Nano))
				if err != nil || !back.Equal(got) {
					t.Errorf("%s %q does not round-trip: %v %v", key, tc.value, back, err)
				}
				continue
			}
			if he == nil {
				t.Errorf("%s %q: accepted", key, tc.value)
				continue
			}
			if he.Reason != ReasonInvalidField || he.Field != key || !strings.Contains(he.Message, tc.says) {
				t.Errorf("%s %q: %v, want invalid_field saying %q", key, tc.value, he, tc.says)
			}
		}
	}
}

func TestEventDueAt(t *testing.T) {
	t.Parallel()
	occ := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name      string
		effective time.Time
		want      time.Time
	}{
		{"no effectiveAt: when it occurred", time.Time{}, occ},
		{"backdated: when it was known", occ.AddDate(0, 0, -7), occ},
		{"same instant", occ, occ},
		{"same instant in another zone", occ.In(time.FixedZone("", -5*3600)), occ},
		{"later: when it takes effect", occ.AddDate(0, 0, 14), occ.AddDate(0, 0, 14)},
		{"one nanosecond later", occ.Add(time.Nanosecond), occ.Add(time.Nanosecond)},
	} {
		ev := Event{OccurredAt: occ, EffectiveAt: tc.effective}
		if got := ev.DueAt(); !got.Equal(tc.want) {
			t.Errorf("%s: DueAt %v, want %v", tc.name, got, tc.want)
		}
	}
	// Through Decode: a terminate entered now for last week is due now; one
	// for four minutes from now is due then.
	for _, tc := range []struct {
		effective, want time.Time
	}{
		{now.AddDate(0, 0, -7), now},
		{now.Add(4 * time.Minute), now.Add(4 * time.Minute)},
	} {
		ev, he := decodeWith(t, QueueDeprovision, func(ev, _ map[string]any) {
			ev["occurredAt"], ev["effectiveAt"] = now.Format(time.RFC3339), tc.effective.Format(time.RFC3339)
		})
		if he != nil {
			t.Fatal(he)
		}
		if !ev.DueAt().Equal(tc.want) {
			t.Errorf("effectiveAt %v: DueAt %v, want %v", tc.effective, ev.DueAt(), tc.want)
		}
	}
}
