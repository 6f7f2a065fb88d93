package main

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
)

func lookupIn(m map[string]any) func(string) (any, bool) {
	return func(k string) (any, bool) {
		v, ok := m[k]
		return v, ok
	}
}

// TestCDKJSONIsValidAndComplete: the committed cdk.json loads, and lists
// every key, so that it documents the whole configuration surface.
func TestCDKJSONIsValidAndComplete(t *testing.T) {
	root, err := repoRoot()
	if err != nil {
		t.Fatal(err)
	}
	ctx, err := readContext(filepath.Join(root, "infra", "cdk.json"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := LoadConfig(lookupIn(ctx)); err != nil {
		t.Fatal(err)
	}
	for _, key := range contextKeys {
		if _, ok := ctx[key]; !ok {
			t.Errorf("cdk.json does not list %q", key)
		}
	}
}

func TestDefaults(t *testing.T) {
	cfg, err := LoadConfig(lookupIn(map[string]any{ctxInstanceID: simulatorInstanceID}))
	if err != nil {
		t.Fatal(err)
	}
	want := DefaultConfig()
	want.InstanceID = simulatorInstanceID
	if cfg != want {
		t.Errorf("config = %+v\nwant the defaults %+v", cfg, want)
	}
}

func TestLoadConfigAcceptsCLIStrings(t *testing.T) {
	// `cdk -c key=value` passes every value as a string.
	cfg, err := LoadConfig(lookupIn(map[string]any{
		ctxInstanceID: "BE11200922", ctxRequestBudget: "16", ctxPollRateMinutes: "60", ctxDryRun: "true",
		ctxMaxRemovalRatio: "0.05", ctxUserAPI: "v3", ctxGrant: "client_credentials", ctxAlertEmail: "ops@example.com",
		ctxProducerPrincipal: "123456789012", ctxLogRetentionDays: "365", ctxSAMLocal: "false",
	}))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.RequestBudget != 16 || cfg.PollRateMinutes != 60 || !cfg.DryRun || cfg.MaxRemovalRatio != 0.05 ||
		cfg.UserAPI != "v3" || cfg.LogRetentionDays != 365 || cfg.ProducerPrincipal != "123456789012" {
		t.Errorf("config = %+v", cfg)
	}
}

func TestLoadConfigRejectsBadValues(t *testing.T) {
	base := func() map[string]any { return map[string]any{ctxInstanceID: "BE11200922"} }
	tests := []struct {
		name    string
		key     string
		value   any
		message string // part of the error
	}{
		{"missing instance id", ctxInstanceID, nil, "is required"},
		{"instance id shape", ctxInstanceID, "11200922", "not an Encompass instance id"},
		{"instance id injection", ctxInstanceID, "BE1120092\n2", "not an Encompass instance id"},
		{"budget over the tenant limit", ctxRequestBudget, 31.0, "above the Encompass tenant's limit of 30"},
		{"budget too small", ctxRequestBudget, 4.0, "below 6"},
		{"budget negative", ctxRequestBudget, -1.0, "below 6"},
		{"budget fraction", ctxRequestBudget, 2.5, "whole number"},
		{"budget text", ctxRequestBudget, "lots", "whole number"},
		{"budget wrong type", ctxRequestBudget, true, "whole number"},
		{"budget huge", ctxRequestBudget, 1e300, "whole number"},
		{"user api", ctxUserAPI, "ldap", "must be scim or v3"},
		{"user api type", ctxUserAPI, 3.0, "must be a string"},
		{"grant", ctxGrant, "implicit", "password, client_credentials"},
		{"api url plain http", ctxAPIURL, "http://api.elliemae.com", "https URL"},
		{"api url credentials", ctxAPIURL, "https://user:pw@api.elliemae.com", "https URL"},
		{"api url garbage", ctxAPIURL, "::", "https URL"},
		{"poll rate too fast", ctxPollRateMinutes, 1.0, "between 5 and 1440"},
		{"poll rate too slow", ctxPollRateMinutes, 10000.0, "between 5 and 1440"},
		{"e-mail without domain", ctxAlertEmail, "ops", "plain e-mail"},
		{"e-mail with name", ctxAlertEmail, "Ops <ops@example.com>", "plain e-mail"},
		{"e-mail two addresses", ctxAlertEmail, "a@example.com,b@example.com", "plain e-mail"},
		{"e-mail no dot", ctxAlertEmail, "ops@localhost", "plain e-mail"},
		{"producer wildcard", ctxProducerPrincipal, "*", "12-digit account id"},
		{"producer partial arn", ctxProducerPrincipal, "arn:aws:iam::1234:role/x", "12-digit account id"},
		{"producer service", ctxProducerPrincipal, "sqs.amazonaws.com", "12-digit account id"},
		{"secret partial arn", ctxEncompassSecretARN, "arn:aws:secretsmanager:us-east-1:123456789012:secret:encompass", "complete ARN"},
		{"secret not an arn", ctxWebhookSecretARN, "my-secret", "complete ARN"},
		{"log retention", ctxLogRetentionDays, 10.0, "not a CloudWatch Logs retention"},
		{"log level", ctxLogLevel, "trace", "debug, info, warn or error"},
		{"dry run text", ctxDryRun, "sometimes", "true or false"},
		{"dry run number", ctxDryRun, 1.0, "true or false"},
		{"removal ratio zero", ctxMaxRemovalRatio, 0.0, "greater than 0"},
		{"removal ratio over one", ctxMaxRemovalRatio, 1.5, "at most 1"},
		{"removal ratio text", ctxMaxRemovalRatio, "a fifth", "must be a number"},
		{"deprovision age", ctxDeprovisionMaxAge, 0.0, "between 1 and 1440"},
		{"exposure alarm", ctxExposureAlarm, 0.0, "between 1 and 604800"},
		{"archive days", ctxEventArchiveDays, 0.0, "between 1 and 3650"},
		{"rate limit", ctxWebhookRateLimit, 0.0, "between 1 and 10000"},
		{"burst below rate", ctxWebhookBurstLimit, 10.0, "at least"},
		{"sam local type", ctxSAMLocal, []any{}, "true or false"},
		{"mapping file type", ctxMappingFile, "rules.txt", ".yaml, .yml or .json"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			m := base()
			if tt.value == nil {
				delete(m, tt.key)
			} else {
				m[tt.key] = tt.value
			}
			_, err := LoadConfig(lookupIn(m))
			if err == nil {
				t.Fatalf("%s = %v accepted", tt.key, tt.value)
			}
			msg := err.Error()
			if !strings.Contains(msg, fmt.Sprintf("%q", tt.key)) || !strings.Contains(msg, tt.message) {
				t.Errorf("error %q does not name %q and say %q", msg, tt.key, tt.message)
			}
		})
	}
}

func TestLoadConfigReportsEveryProblemAtOnce(t *testing.T) {
	_, err := LoadConfig(lookupIn(map[string]any{ctxRequestBudget: 99.0, ctxUserAPI: "x", ctxAlertEmail: "nope"}))
	if err == nil {
		t.Fatal("accepted")
	}
	for _, key := range []string{ctxInstanceID, ctxRequestBudget, ctxUserAPI, ctxAlertEmail} {
		if !strings.Contains(err.Error(), fmt.Sprintf("%q", key)) {
			t.Errorf("error does not mention %s:\n%v", key, err)
		}
	}
}

func TestMissingMappingFileFailsClearly(t *testing.T) {
	app := NewApp(t.TempDir(), map[string]any{ctxInstanceID: "BE11200922", ctxMappingFile: "no/such/mapping.yaml"})
	root, _ := repoRoot()
	_, err := Build(app, root, DistDir(root))
	if err == nil || !strings.Contains(err.Error(), "mappingFile") || !strings.Contains(err.Error(), "no/such/mapping.yaml") {
		t.Fatalf("err = %v", err)
	}
}

func TestUnknownContextKeysAreReported(t *testing.T) {
	got := unknownContextKeys(map[string]any{
		"requestbudget": 1, "instanceId": "BE1", "@aws-cdk/core:newStyleStackSynthesis": true, "aws:cdk:enable-path-metadata": true,
	})
	if len(got) != 1 || got[0] != "requestbudget" {
		t.Errorf("unknown = %v, want [requestbudget]", got)
	}
}

func TestPlanConcurrency(t *testing.T) {
	for budget := MinRequestBudget; budget <= TenantConcurrencyLimit; budget++ {
		c, err := PlanConcurrency(budget)
		if err != nil {
			t.Fatalf("budget %d: %v", budget, err)
		}
		if c.Requests() > budget {
			t.Errorf("budget %d: plan %+v needs %d requests", budget, c, c.Requests())
		}
		if budget-c.Requests() >= c.InFlight*2 {
			t.Errorf("budget %d: plan %+v wastes %d", budget, c, budget-c.Requests())
		}
		if c.Provision < 2 || c.Deprovision < 2 || c.Poller != 1 || c.Reconcile != 1 || c.InFlight < 1 {
			t.Errorf("budget %d: plan %+v breaks a minimum", budget, c)
		}
		if c.Deprovision < c.Provision {
			t.Errorf("budget %d: plan %+v gives leavers less than joiners", budget, c)
		}
	}
	if c, _ := PlanConcurrency(24); c != (Concurrency{InFlight: 3, Provision: 3, Deprovision: 3, Poller: 1, Reconcile: 1}) {
		t.Errorf("default plan = %+v; docs/deploy.md documents 3/3/3/1/1", c)
	}
	for _, bad := range []int{-1, 0, MinRequestBudget - 1, TenantConcurrencyLimit + 1, 1000} {
		if c, err := PlanConcurrency(bad); err == nil {
			t.Errorf("budget %d accepted: %+v", bad, c)
		}
	}
}

// TestPollerTimeoutFitsTheSchedule: the poller gets the Lambda maximum unless
// the schedule comes round sooner; a run never outlasts its interval.
func TestPollerTimeoutFitsTheSchedule(t *testing.T) {
	for _, tc := range []struct{ rate, want int }{
		{minPollRateMinutes, 300}, {10, 600}, {15, 900}, {30, 900}, {maxPollRateMinutes, 900},
	} {
		got := pollerTimeoutSeconds(tc.rate)
		if got != tc.want || got > tc.rate*60 || got > lambdaMaxTimeoutSeconds {
			t.Errorf("rate %d min: poller timeout %d s, want %d", tc.rate, got, tc.want)
		}
	}
}
