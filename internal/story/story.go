// Package story is the product's story played through the real binaries:
// an HRIS feed (hires, bad data, a move, leavers, a rehire, a duplicate, an
// out-of-order event) through provision and deprovision, an administrator
// changing users directly in Encompass, two polls that report the external
// change and a drift, a signed and a forged loan webhook, and, last, a
// reconciliation against HR's roster that adopts a hand-made account by an
// explicit link, reports an orphan, disables a leaver the events missed and
// puts a drifted persona back. `make demo` prints it as a timeline; the
// end-to-end tests assert on it.
package story

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/lenderops/encompass-lifecycle/internal/lambdarun"
	"github.com/lenderops/encompass-lifecycle/internal/localenv"
	"github.com/lenderops/encompass-lifecycle/internal/testenv"
	"github.com/lenderops/encompass-lifecycle/pkg/encompass"
)

// Step is one line of the timeline.
type Step struct {
	Elapsed time.Duration
	Actor   string // HRIS, provision, deprovision, Encompass, poller, webhook
	Action  string
	Outcome string
	// Events are the events published during the step.
	Events []testenv.Event
	// Result is the invocation behind the step, when there is one.
	Result *lambdarun.Result
	// Late is, for a held event the Scheduler delivered, how long after
	// its due time it was applied (the delivery and the invocation).
	Late time.Duration
}

// Rejection is one rejected or skipped HRIS event.
type Rejection struct {
	EventID, DetailType, Reason string
}

// Summary counts what the story did, from the published events.
type Summary struct {
	Created, Updated, Disabled, Reactivated int
	Rejected                                []Rejection // rejected and skipped events with reasons
	Synthetic                               map[string]int
	WebhooksForwarded, WebhooksRefused      int
	Invocations, ColdStarts                 int
	Failures                                []string // invocations that failed or asked SQS to retry
	// Reconciled counts the outcomes of the events the reconciliation sent
	// (the counts above are the HRIS feed's); Reconciliation is what it
	// found, when the chapter was played.
	Reconciled     map[string]int
	Reconciliation *Reconciliation
}

// Report is the whole story.
type Report struct {
	Steps     []Step
	Summary   Summary
	Published []testenv.Event
}

// Player plays the story against a running local product.
type Player struct {
	Env  *localenv.Env
	Feed Feed
	// Emit, when set, receives each step as it happens.
	Emit func(Step)
	// Admin is an Encompass client acting as a person in the Encompass admin UI.
	Admin *encompass.Client
	// Dates is the effective-date chapter's feed (EffectiveDates); zero:
	// anchored at the local product's today.
	Dates Dates

	start  time.Time
	report Report
	seen   int // events of the bus already attributed to steps
	// names turns organization and persona ids into names for the timeline.
	names map[string]map[string]string
	// reconciliation is what the Reconcile chapter found.
	reconciliation *Reconciliation
}

// New returns a player for env with the default feed, anchored an hour ago.
func New(env *localenv.Env) (*Player, error) {
	admin, err := encompass.New(encompass.Config{
		BaseURL: env.Sim.URL, InstanceID: env.Sim.InstanceID,
		ClientID: env.Sim.ClientID, ClientSecret: env.Sim.ClientSecret,
		Username: env.Sim.Username, Password: env.Sim.Password,
	})
	if err != nil {
		return nil, fmt.Errorf("admin client: %w", err)
	}
	return &Player{Env: env, Feed: NewFeed(time.Now().UTC().Add(-time.Hour).Truncate(time.Minute)), Admin: admin}, nil
}

// Play runs the whole story and returns the report. Each chapter can also be
// played on its own, as the end-to-end tests do.
func (p *Player) Play(ctx context.Context) (*Report, error) {
	p.start = time.Now()
	for _, chapter := range []func(context.Context) error{
		p.HRISFeed, p.FirstPoll, p.DirectChanges, p.SecondPoll, p.Webhooks,
	} {
		if err := chapter(ctx); err != nil {
			return &p.report, err
		}
	}
	return p.Report(), nil
}

// HRISFeed sends the feed through provision and deprovision in four FIFO batches.
func (p *Player) HRISFeed(ctx context.Context) error {
	for _, b := range []struct {
		fn    string
		queue string
		evs   []HRISEvent
	}{
		{"provision", localenv.ProvisionQueueARN, p.Feed.Hires},
		{"deprovision", localenv.DeprovisionQueueARN, p.Feed.Leavers},
		{"provision", localenv.ProvisionQueueARN, p.Feed.Changes},
		{"provision", localenv.ProvisionQueueARN, p.Feed.Replays},
	} {
		if err := p.SendBatch(ctx, b.fn, b.queue, b.evs); err != nil {
			return err
		}
	}
	return nil
}

// SendBatch delivers evs as one SQS batch to fn and records one step per message.
func (p *Player) SendBatch(ctx context.Context, fn, queueARN string, evs []HRISEvent) error {
	bodies := make([][]byte, len(evs))
	for i, e := range evs {
		bodies[i] = e.Body()
	}
	batch := localenv.SQSBatch(queueARN, bodies...)
	res, err := p.Env.Invoke(ctx, fn, batch)
	if err != nil {
		return fmt.Errorf("invoke %s: %w", fn, err)
	}
	published := p.take()
	retry := map[string]bool{}
	var resp events.SQSEventResponse
	if res.Error == nil {
		if err := json.Unmarshal(res.Payload, &resp); err != nil {
			return fmt.Errorf("%s answered %q, not an SQS batch response: %w", fn, res.Payload, err)
		}
		for _, f := range resp.BatchItemFailures {
			retry[f.ItemIdentifier] = true
		}
	}
	p.record(Step{Actor: fn, Action: fmt.Sprintf("SQS batch of %d message(s)", len(evs)), Outcome: invocationOutcome(res, len(retry)), Result: res})
	for i, e := range evs {
		mine := eventsOf(published, e.EventID)
		outcome := p.describeAll(mine)
		switch {
		case res.Error != nil:
			outcome = "not processed: the invocation failed, SQS will retry"
		case retry[batch.Records[i].MessageId]:
			outcome = "left on the queue for a retry (batch item failure)"
			if len(mine) > 0 {
				outcome += "; " + p.describeAll(mine)
			}
		case outcome == "":
			outcome = "no event published"
		}
		p.record(Step{Actor: "HRIS", Action: e.Describe(), Outcome: outcome, Events: mine})
	}
	return nil
}

// FirstPoll runs the poller once: it records the baseline snapshot.
func (p *Player) FirstPoll(ctx context.Context) error { return p.Poll(ctx, "first poll") }

// SecondPoll runs the poller again after the direct changes.
func (p *Player) SecondPoll(ctx context.Context) error { return p.Poll(ctx, "second poll") }

// Poll invokes the poller with a scheduled event.
func (p *Player) Poll(ctx context.Context, what string) error {
	res, err := p.Env.Invoke(ctx, "poller", localenv.Schedule(time.Now()))
	if err != nil {
		return fmt.Errorf("invoke poller: %w", err)
	}
	published := p.take()
	outcome := p.describeAll(published)
	if outcome == "" {
		outcome = "no change"
	}
	if res.Error != nil {
		outcome = invocationOutcome(res, 0)
	}
	p.record(Step{Actor: "poller", Action: what, Outcome: outcome, Events: published, Result: res})
	return nil
}

// DirectChanges is someone working in the Encompass admin UI: Alice's title
// is edited by hand, and Dan, who left, is enabled again.
func (p *Player) DirectChanges(ctx context.Context) error {
	if _, err := p.Admin.Users.Patch(ctx, AliceLogin, encompass.UserPatch{"title": "Branch Manager"}); err != nil {
		return fmt.Errorf("admin edits %s: %w", AliceLogin, err)
	}
	p.record(Step{Actor: "Encompass", Action: "an administrator edits " + AliceLogin + " by hand", Outcome: `title -> "Branch Manager"`})
	if _, err := p.Admin.Users.SetEnabled(ctx, DanLogin, true); err != nil {
		return fmt.Errorf("admin enables %s: %w", DanLogin, err)
	}
	p.record(Step{Actor: "Encompass", Action: "an administrator enables " + DanLogin + ", who has left", Outcome: "enabled -> true"})
	return nil
}

// Webhook bodies of the story.
const (
	LoanWebhookEventID   = "whk-0001"
	ForgedWebhookEventID = "whk-0002"
)

// LoanWebhook returns a loan webhook delivery body.
func LoanWebhook(eventID string) []byte {
	b, _ := json.Marshal(map[string]any{
		"eventId":   eventID,
		"eventTime": time.Now().UTC().Format(time.RFC3339),
		"eventType": "update",
		"meta": map[string]any{
			"resourceType": "Loan",
			"resourceId":   "8b7d1f0e-5a1c-4c2e-9d3b-0c6f2a1e7b44",
			"resourceRef":  "/encompass/v3/loans/8b7d1f0e-5a1c-4c2e-9d3b-0c6f2a1e7b44",
			"instanceId":   "BE11200922",
			"userId":       AliceLogin,
		},
	})
	return b
}

// Webhooks delivers a signed loan webhook and a forged one.
func (p *Player) Webhooks(ctx context.Context) error {
	for _, d := range []struct {
		what, eventID, key string
	}{
		{"a signed loan webhook arrives", LoanWebhookEventID, p.Env.WebhookKey},
		{"a forged loan webhook arrives (signed with a guessed key)", ForgedWebhookEventID, "Guessed-Key-1234567890-abcdefghij!"},
	} {
		res, err := p.Env.Invoke(ctx, "webhook", localenv.WebhookRequest(LoanWebhook(d.eventID), localenv.SubscriptionID, d.key))
		if err != nil {
			return fmt.Errorf("invoke webhook: %w", err)
		}
		published := p.take()
		outcome := invocationOutcome(res, 0)
		if res.Error == nil {
			var resp events.APIGatewayV2HTTPResponse
			if err := json.Unmarshal(res.Payload, &resp); err != nil {
				return fmt.Errorf("webhook answered %q: %w", res.Payload, err)
			}
			outcome = fmt.Sprintf("HTTP %d", resp.StatusCode)
			if s := p.describeAll(published); s != "" {
				outcome += "; " + s
			} else {
				outcome += "; nothing published"
			}
		}
		p.record(Step{Actor: "webhook", Action: d.what, Outcome: outcome, Events: published, Result: res})
	}
	return nil
}

// take returns the events published since the last call.
func (p *Player) take() []testenv.Event {
	all := p.Env.Bus.Events()
	if p.seen > len(all) {
		p.seen = 0 // the bus was reset
	}
	out := all[p.seen:]
	p.seen = len(all)
	return out
}

// record adds a step to the timeline. The timeline starts with the first
// step of the first chapter played, unless Play started it.
func (p *Player) record(s Step) {
	if p.start.IsZero() {
		p.start = time.Now()
	}
	s.Elapsed = time.Since(p.start)
	p.report.Steps = append(p.report.Steps, s)
	if p.Emit != nil {
		p.Emit(s)
	}
}

// Report returns the steps so far and the summary of everything published.
func (p *Player) Report() *Report {
	r := p.report
	r.Published = p.Env.Bus.Events()
	r.Summary = summarize(r.Steps, r.Published)
	r.Summary.Reconciliation = p.reconciliation
	return &r
}

func summarize(steps []Step, published []testenv.Event) Summary {
	s := Summary{Synthetic: map[string]int{}, Reconciled: map[string]int{}}
	for _, ev := range published {
		switch ev.Source {
		case "encompass.provisioning":
			if strings.HasPrefix(detailString(ev, "eventId"), "reconcile-") {
				s.Reconciled[ev.DetailType]++
				continue
			}
			switch ev.DetailType {
			case "User Provisioned":
				s.Created++
			case "User Updated":
				s.Updated++
			case "User Deprovisioned":
				s.Disabled++
			case "User Reactivated":
				s.Reactivated++
			case "HRIS Event Rejected", "HRIS Event Skipped":
				s.Rejected = append(s.Rejected, Rejection{EventID: detailString(ev, "eventId"), DetailType: ev.DetailType, Reason: detailString(ev, "reason")})
			}
		case "encompass.poller":
			s.Synthetic[ev.DetailType]++
		case "encompass.webhook":
			s.WebhooksForwarded++
		}
	}
	for _, st := range steps {
		if st.Result == nil {
			continue
		}
		s.Invocations++
		if st.Result.Cold {
			s.ColdStarts++
		}
		if st.Result.Error != nil {
			s.Failures = append(s.Failures, st.Actor+": "+st.Result.Error.Error())
		}
		if st.Actor == "webhook" && strings.HasPrefix(st.Outcome, "HTTP 4") {
			s.WebhooksRefused++
		}
		if strings.Contains(st.Outcome, "retry") {
			s.Failures = append(s.Failures, st.Actor+": "+st.Outcome)
		}
	}
	return s
}

func invocationOutcome(res *lambdarun.Result, retries int) string {
	var b strings.Builder
	if res.Error != nil {
		fmt.Fprintf(&b, "FAILED %s", res.Error.Error())
	} else {
		fmt.Fprintf(&b, "ok in %s", res.Duration.Round(time.Millisecond))
	}
	if res.Cold {
		fmt.Fprintf(&b, ", cold start %s", res.ColdStart.Round(time.Millisecond))
	}
	if retries > 0 {
		fmt.Fprintf(&b, ", %d message(s) to retry", retries)
	}
	return b.String()
}

// describeAll describes published events in one line, with organization
// and persona names where the events carry ids.
func (p *Player) describeAll(evs []testenv.Event) string {
	parts := make([]string, 0, len(evs))
	for _, ev := range evs {
		parts = append(parts, describe(ev, p.lookupNames()))
	}
	return strings.Join(parts, "; ")
}

// lookupNames reads the tenant's organizations and personas once, as an
// administrator would see them; the timeline falls back to ids on failure.
func (p *Player) lookupNames() map[string]map[string]string {
	if p.names != nil {
		return p.names
	}
	p.names = map[string]map[string]string{"organizationId": {}, "personas": {}}
	ctx := context.Background()
	if orgs, err := p.Admin.Organizations.List(ctx); err == nil {
		for _, o := range orgs {
			p.names["organizationId"][o.ID] = o.Name
		}
	}
	if personas, err := p.Admin.Personas.List(ctx); err == nil {
		for _, ps := range personas {
			p.names["personas"][ps.ID] = ps.Name
		}
	}
	return p.names
}

// Describe is a short human description of a published event.
func Describe(ev testenv.Event) string { return describe(ev, nil) }

func describe(ev testenv.Event, names map[string]map[string]string) string {
	d := ev.DetailMap()
	if by, _ := d["supersededBy"].(string); by != "" {
		// A held event cancelled by a newer one: which, and by which.
		return fmt.Sprintf("%s %s of %s (superseded by %s)", ev.DetailType, firstString(d, "eventId"), firstString(d, "employeeId"), by)
	}
	who := firstString(d, "userName", "loginId", "userId", "employeeId")
	s := ev.DetailType
	if who != "" && ev.Source != "encompass.webhook" {
		s += " " + who
	}
	if r, _ := d["reason"].(string); r != "" {
		if e, _ := d["error"].(string); e != "" {
			r += ": " + truncate(e, 90)
		}
		s += " (" + r + ")"
	}
	if ea, _ := d["effectiveAt"].(string); ea != "" && ev.DetailType == "HRIS Event Scheduled" {
		s += " until " + ea
	}
	if o, _ := d["origin"].(string); o != "" {
		s += " [" + o + "]"
	}
	// The products a provisioning outcome concerns, when DDA is one.
	if ps, _ := d["products"].([]any); len(ps) > 1 {
		names := make([]string, 0, len(ps))
		for _, p := range ps {
			names = append(names, fmt.Sprint(p))
		}
		s += " [" + strings.Join(names, "+") + "]"
	}
	// A new account's changes are its whole profile; the name says enough.
	if ch := describeChanges(d["changes"], names); ch != "" && ev.DetailType != "User Provisioned" {
		s += ": " + ch
	}
	return s
}

func describeChanges(v any, names map[string]map[string]string) string {
	list, _ := v.([]any)
	var parts []string
	for _, c := range list {
		m, _ := c.(map[string]any)
		if m == nil {
			continue
		}
		field, _ := m["field"].(string)
		parts = append(parts, fmt.Sprintf("%s %v->%v", field, short(named(names[field], m["from"])), short(named(names[field], m["to"]))))
	}
	if len(parts) > 4 {
		parts = append(parts[:4], fmt.Sprintf("+%d more", len(parts)-4))
	}
	return strings.Join(parts, ", ")
}

// named replaces ids (comma-separated for personas) by their names.
func named(names map[string]string, v any) any {
	s, ok := v.(string)
	if !ok || len(names) == 0 || s == "" {
		return v
	}
	ids := strings.Split(s, ",")
	for i, id := range ids {
		if n, ok := names[id]; ok {
			ids[i] = n
		}
	}
	return strings.Join(ids, ",")
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n-3] + "..."
}

func short(v any) string {
	if v == nil {
		return `""`
	}
	s := fmt.Sprint(v)
	if len(s) > 24 {
		s = s[:21] + "..."
	}
	return fmt.Sprintf("%q", s)
}

func firstString(d map[string]any, keys ...string) string {
	for _, k := range keys {
		if s, _ := d[k].(string); s != "" {
			return s
		}
	}
	return ""
}

// eventsOf are the published events an HRIS event caused: those carrying
// its eventId, and the held events it cancelled (supersededBy).
func eventsOf(published []testenv.Event, eventID string) []testenv.Event {
	var out []testenv.Event
	for _, ev := range published {
		if detailString(ev, "eventId") == eventID || detailString(ev, "supersededBy") == eventID {
			out = append(out, ev)
		}
	}
	return out
}

func detailString(ev testenv.Event, key string) string {
	s, _ := ev.DetailMap()[key].(string)
	return s
}

// Reasons returns the rejection and skip reasons by event id.
func (s Summary) Reasons() map[string]string {
	out := map[string]string{}
	for _, r := range s.Rejected {
		out[r.EventID] = r.Reason
	}
	return out
}

// SyntheticTypes returns the poller's detail-types, sorted.
func (s Summary) SyntheticTypes() []string {
	keys := slices.Collect(maps.Keys(s.Synthetic))
	sort.Strings(keys)
	return keys
}
