package provisioning_test

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/lenderops/encompass-lifecycle/internal/testenv"
	"github.com/lenderops/encompass-lifecycle/pkg/catalog"
	"github.com/lenderops/encompass-lifecycle/pkg/config"
	"github.com/lenderops/encompass-lifecycle/pkg/hris"
	"github.com/lenderops/encompass-lifecycle/pkg/provisioning"
	"github.com/lenderops/encompass-lifecycle/pkg/publish"
	"github.com/lenderops/encompass-lifecycle/pkg/telemetry"
)

// TestLeaverReceipt: User Deprovisioned says when the message arrived, when
// the account read back disabled, and the exposure from the due time (the
// later of occurredAt and effectiveAt) to that read-back; the exposure is an
// EMF metric, and rejections are counted by reason.
func TestLeaverReceipt(t *testing.T) {
	t.Parallel()
	clock := testenv.NewClock(t0.Add(10 * time.Minute))
	e := newEnv(t, config.UserAPISCIM, withNow(clock.Now))
	e.mustSend(e.prov, hrisEvent("hire", "E1200", t0, joiner("E1200", "receipt")).body())
	metrics := telemetry.NewMetrics(telemetry.Namespace, map[string]string{"Function": "deprovision"})
	h, err := provisioning.New(provisioning.Config{
		Queue: hris.QueueDeprovision, Scheduler: e.scheduler, QueueARN: deprovisionARN, Directory: mustDirectory(t, config.UserAPISCIM, e.client, e.rules),
		Store: e.store, Publisher: publish.New(e.eb.Client, "lifecycle-bus"), Mapping: e.rules, Metrics: metrics, Now: clock.Now,
	})
	if err != nil {
		t.Fatal(err)
	}
	leave := hrisEvent("terminate", "E1200", t0.Add(time.Minute), nil)
	leave["effectiveAt"] = t0.Add(2 * time.Minute).Format(time.RFC3339)
	e.mustSend(h, leave.body(), `{"schemaVersion":"1","eventId":"bad-1","type":"terminate","occurredAt":"nope","employee":{"employeeId":"E1201"}}`)
	got := e.published(catalog.UserDeprovisioned)
	if len(got) != 1 {
		t.Fatalf("%d User Deprovisioned", len(got))
	}
	d := got[0]
	now := clock.Now().UTC().Format(time.RFC3339Nano)
	if d["receivedAt"] != now || d["disabledAt"] != now || d["exposureSeconds"] != 480.0 {
		t.Fatalf("receipt %v %v %v; want %s, %s and 480 s from the due time", d["receivedAt"], d["disabledAt"], d["exposureSeconds"], now, now)
	}
	var buf bytes.Buffer
	if err := metrics.Flush(&buf); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"ExposureSeconds":[480]`, `"Reason":"invalid_field"`, `"Rejected":1`} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("metrics lack %s:\n%s", want, buf.String())
		}
	}
}
