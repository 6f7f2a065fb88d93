package main

import (
	"errors"
	"fmt"
	"math"
	"net/mail"
	"net/url"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// Context keys read from cdk.json (or `-c key=value` through the CDK CLI).
// They are the whole configuration surface of the stack.
const (
	ctxInstanceID         = "instanceId"
	ctxAPIURL             = "apiUrl"
	ctxUserAPI            = "userApi"
	ctxGrant              = "grant"
	ctxPollRateMinutes    = "pollRateMinutes"
	ctxRequestBudget      = "requestBudget"
	ctxAlertEmail         = "alertEmail"
	ctxProducerPrincipal  = "hrisProducerPrincipal"
	ctxEncompassSecretARN = "encompassSecretArn"
	ctxWebhookSecretARN   = "webhookSecretArn"
	ctxLogRetentionDays   = "logRetentionDays"
	ctxLogLevel           = "logLevel"
	ctxDryRun             = "dryRun"
	ctxMaxRemovalRatio    = "pollerMaxRemovalRatio"
	ctxDeprovisionMaxAge  = "deprovisionMaxAgeMinutes"
	ctxExposureAlarm      = "leaverExposureAlarmSeconds"
	ctxEventArchiveDays   = "eventArchiveDays"
	ctxWebhookRateLimit   = "webhookRateLimit"
	ctxWebhookBurstLimit  = "webhookBurstLimit"
	ctxSAMLocal           = "samLocal"
	ctxMappingFile        = "mappingFile"
	ctxImmediateReasons   = "immediateTerminationReasons"
	ctxIgnoreLogins       = "reconcileIgnoreLogins"
	ctxMinRosterRatio     = "reconcileMinRosterRatio"
	ctxReportRetention    = "reportRetentionDays"
)

// contextKeys lists every key the app understands, so that a misspelt key in
// cdk.json is reported instead of silently falling back to a default.
var contextKeys = []string{
	ctxInstanceID, ctxAPIURL, ctxUserAPI, ctxGrant, ctxPollRateMinutes, ctxRequestBudget,
	ctxAlertEmail, ctxProducerPrincipal, ctxEncompassSecretARN, ctxWebhookSecretARN,
	ctxLogRetentionDays, ctxLogLevel, ctxDryRun, ctxMaxRemovalRatio, ctxDeprovisionMaxAge, ctxExposureAlarm,
	ctxEventArchiveDays, ctxWebhookRateLimit, ctxWebhookBurstLimit, ctxSAMLocal, ctxMappingFile, ctxImmediateReasons,
	ctxIgnoreLogins, ctxMinRosterRatio, ctxReportRetention,
}

// Config is the validated configuration of the EncompassLifecycle stack.
type Config struct {
	// InstanceID is the lender's Encompass instance id (BE...). Required.
	InstanceID string
	// APIURL is the Encompass API base URL.
	APIURL string
	// UserAPI is "scim" or "v3": which API creates, updates and disables users.
	UserAPI string
	// Grant is "password", "client_credentials" or empty (the functions decide
	// from the secret's content).
	Grant string
	// PollRateMinutes is how often the poller runs.
	PollRateMinutes int
	// RequestBudget is how many Encompass requests this stack may have in
	// flight at once, all functions together (the tenant allows 30).
	RequestBudget int
	// AlertEmail, when set, is subscribed to the alarm topic.
	AlertEmail string
	// ProducerPrincipal is the IAM principal (ARN or account id) allowed to
	// send HRIS events to the queues; empty means this stack's account.
	ProducerPrincipal string
	// EncompassSecretARN and WebhookSecretARN import existing secrets by
	// their complete ARN; empty creates empty secrets to be filled after deploy.
	EncompassSecretARN string
	WebhookSecretARN   string
	// LogRetentionDays is the retention of every log group the stack creates.
	LogRetentionDays int
	// LogLevel is the functions' LOG_LEVEL.
	LogLevel string
	// DryRun makes the provisioning functions write nothing (DRY_RUN).
	DryRun bool
	// MaxRemovalRatio is the poller's POLLER_MAX_REMOVAL_RATIO.
	MaxRemovalRatio float64
	// DeprovisionMaxAgeMinutes is the age of the oldest message on the
	// deprovision queue that raises an alarm: a leaver waiting is an exposure.
	DeprovisionMaxAgeMinutes int
	// LeaverExposureAlarmSeconds is the p99 leaver exposure (due time to
	// the account read back disabled, over 15 minutes) that raises the
	// LeaverExposure alarm.
	LeaverExposureAlarmSeconds int
	// EventArchiveDays is how long published events stay replayable.
	EventArchiveDays int
	// WebhookRateLimit and WebhookBurstLimit throttle the HTTP API.
	WebhookRateLimit  int
	WebhookBurstLimit int
	// MappingFile, when set, is the mapping rules file (CONTRACTS section 6),
	// relative to the repository root; it is packaged next to the
	// provisioning functions' bootstrap. Empty means the built-in rules.
	MappingFile string
	// ImmediateTerminationReasons is IMMEDIATE_TERMINATION_REASONS: the
	// comma-separated terminationReason values that apply a terminate at
	// once, whatever its effectiveAt. Empty: none.
	ImmediateTerminationReasons string
	// SAMLocal declares the local-only variables (credentials, endpoints) as
	// empty strings, because `sam local invoke --env-vars` only overrides
	// variables that the template declares. Never for deployments.
	SAMLocal bool
	// IgnoreLogins is RECONCILE_IGNORE_LOGINS: comma-separated glob
	// patterns of logins that are never orphans (service accounts).
	IgnoreLogins string
	// MinRosterRatio is RECONCILE_MIN_ROSTER_RATIO.
	MinRosterRatio float64
	// ReportRetentionDays is how long reconciliation reports are kept in
	// the roster bucket.
	ReportRetentionDays int
}

// DefaultConfig returns the defaults every context key falls back to.
func DefaultConfig() Config {
	return Config{
		APIURL:                     "https://api.elliemae.com",
		UserAPI:                    "scim",
		PollRateMinutes:            15,
		RequestBudget:              24,
		LogRetentionDays:           90,
		LogLevel:                   "info",
		MaxRemovalRatio:            0.2,
		DeprovisionMaxAgeMinutes:   15,
		LeaverExposureAlarmSeconds: 300,
		EventArchiveDays:           90,
		WebhookRateLimit:           50,
		WebhookBurstLimit:          100,
		MinRosterRatio:             0.8,
		ReportRetentionDays:        400,
	}
}

// Limits of the configuration, named so that tests and docs use the same numbers.
const (
	// TenantConcurrencyLimit is Encompass's default limit of requests in
	// flight per lender environment, shared by every caller.
	TenantConcurrencyLimit = 30
	minPollRateMinutes     = 5
	maxPollRateMinutes     = 24 * 60
)

// logRetentionChoices are the values CloudWatch Logs accepts.
var logRetentionChoices = []int{1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653}

var (
	instanceIDPattern = regexp.MustCompile(`^BE\d{6,12}$`)
	secretARNPattern  = regexp.MustCompile(`^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:[A-Za-z0-9/_+=.@-]+-[A-Za-z0-9]{6}$`)
	accountIDPattern  = regexp.MustCompile(`^\d{12}$`)
	iamARNPattern     = regexp.MustCompile(`^arn:aws[a-z-]*:iam::\d{12}:(root|role/[A-Za-z0-9/_+=,.@-]{1,512}|user/[A-Za-z0-9/_+=,.@-]{1,512})$`)
)

// LoadConfig reads and validates the configuration. lookup returns a
// context value and whether it is set; values may be JSON types (from
// cdk.json) or strings (from `-c key=value`). Every problem is reported, each
// naming its context key.
func LoadConfig(lookup func(key string) (any, bool)) (Config, error) {
	c := DefaultConfig()
	var errs []error
	bad := func(key, format string, args ...any) {
		errs = append(errs, fmt.Errorf("context %q: %s", key, fmt.Sprintf(format, args...)))
	}
	str := func(key string, dst *string) {
		v, ok := lookup(key)
		if !ok || v == nil {
			return
		}
		s, isString := v.(string)
		if !isString {
			bad(key, "must be a string, got %T", v)
			return
		}
		*dst = strings.TrimSpace(s)
	}
	integer := func(key string, dst *int) {
		v, ok := lookup(key)
		if !ok || v == nil {
			return
		}
		n, err := toInt(v)
		if err != nil {
			bad(key, "%v", err)
			return
		}
		*dst = n
	}
	float := func(key string, dst *float64) {
		v, ok := lookup(key)
		if !ok || v == nil {
			return
		}
		f, err := toFloat(v)
		if err != nil {
			bad(key, "%v", err)
			return
		}
		*dst = f
	}
	boolean := func(key string, dst *bool) {
		v, ok := lookup(key)
		if !ok || v == nil {
			return
		}
		switch b := v.(type) {
		case bool:
			*dst = b
		case string:
			p, err := strconv.ParseBool(strings.TrimSpace(b))
			if err != nil {
				bad(key, "must be true or false, got %q", b)
				return
			}
			*dst = p
		default:
			bad(key, "must be true or false, got %T", v)
		}
	}

	str(ctxInstanceID, &c.InstanceID)
	str(ctxAPIURL, &c.APIURL)
	str(ctxUserAPI, &c.UserAPI)
	str(ctxGrant, &c.Grant)
	integer(ctxPollRateMinutes, &c.PollRateMinutes)
	integer(ctxRequestBudget, &c.RequestBudget)
	str(ctxAlertEmail, &c.AlertEmail)
	str(ctxProducerPrincipal, &c.ProducerPrincipal)
	str(ctxEncompassSecretARN, &c.EncompassSecretARN)
	str(ctxWebhookSecretARN, &c.WebhookSecretARN)
	integer(ctxLogRetentionDays, &c.LogRetentionDays)
	str(ctxLogLevel, &c.LogLevel)
	boolean(ctxDryRun, &c.DryRun)
	integer(ctxDeprovisionMaxAge, &c.DeprovisionMaxAgeMinutes)
	integer(ctxExposureAlarm, &c.LeaverExposureAlarmSeconds)
	integer(ctxEventArchiveDays, &c.EventArchiveDays)
	integer(ctxWebhookRateLimit, &c.WebhookRateLimit)
	integer(ctxWebhookBurstLimit, &c.WebhookBurstLimit)
	boolean(ctxSAMLocal, &c.SAMLocal)
	str(ctxMappingFile, &c.MappingFile)
	str(ctxImmediateReasons, &c.ImmediateTerminationReasons)
	str(ctxIgnoreLogins, &c.IgnoreLogins)
	integer(ctxReportRetention, &c.ReportRetentionDays)
	float(ctxMinRosterRatio, &c.MinRosterRatio)
	float(ctxMaxRemovalRatio, &c.MaxRemovalRatio)

	errs = append(errs, c.validate()...)
	if len(errs) > 0 {
		return Config{}, fmt.Errorf("invalid configuration in cdk.json context:\n%w", errors.Join(errs...))
	}
	return c, nil
}

// validate checks the values themselves; LoadConfig has checked their types.
func (c Config) validate() []error {
	var errs []error
	bad := func(key, format string, args ...any) {
		errs = append(errs, fmt.Errorf("context %q: %s", key, fmt.Sprintf(format, args...)))
	}
	switch {
	case c.InstanceID == "":
		bad(ctxInstanceID, "is required: the lender's Encompass instance id, e.g. BE11200922")
	case !instanceIDPattern.MatchString(c.InstanceID):
		bad(ctxInstanceID, "%q is not an Encompass instance id (BE followed by 6 to 12 digits)", c.InstanceID)
	}
	if u, err := url.Parse(c.APIURL); err != nil || u.Scheme != "https" || u.Host == "" || u.User != nil || u.RawQuery != "" {
		bad(ctxAPIURL, "%q must be an https URL without credentials or query, e.g. https://api.elliemae.com", c.APIURL)
	}
	if c.UserAPI != "scim" && c.UserAPI != "v3" {
		bad(ctxUserAPI, "%q must be scim or v3", c.UserAPI)
	}
	if c.Grant != "" && c.Grant != "password" && c.Grant != "client_credentials" {
		bad(ctxGrant, "%q must be password, client_credentials or empty", c.Grant)
	}
	if c.PollRateMinutes < minPollRateMinutes || c.PollRateMinutes > maxPollRateMinutes {
		bad(ctxPollRateMinutes, "%d must be between %d and %d minutes", c.PollRateMinutes, minPollRateMinutes, maxPollRateMinutes)
	}
	if _, err := PlanConcurrency(c.RequestBudget); err != nil {
		bad(ctxRequestBudget, "%v", err)
	}
	if math.IsNaN(c.MinRosterRatio) || c.MinRosterRatio < 0 || c.MinRosterRatio > 1 {
		bad(ctxMinRosterRatio, "%v must be a number from 0 to 1", c.MinRosterRatio)
	}
	if c.ReportRetentionDays < 1 || c.ReportRetentionDays > 3650 {
		bad(ctxReportRetention, "%d must be between 1 and 3650 days", c.ReportRetentionDays)
	}
	for _, p := range strings.Split(c.IgnoreLogins, ",") {
		if _, err := path.Match(strings.ToLower(strings.TrimSpace(p)), ""); err != nil {
			bad(ctxIgnoreLogins, "%q is not a glob pattern (*, ?, [...])", strings.TrimSpace(p))
		}
	}
	if c.AlertEmail != "" {
		a, err := mail.ParseAddress(c.AlertEmail)
		if err != nil || a.Address != c.AlertEmail || !strings.Contains(a.Address[strings.LastIndexByte(a.Address, '@')+1:], ".") {
			bad(ctxAlertEmail, "%q is not a plain e-mail address like ops@example.com", c.AlertEmail)
		}
	}
	if p := c.ProducerPrincipal; p != "" && !accountIDPattern.MatchString(p) && !iamARNPattern.MatchString(p) {
		bad(ctxProducerPrincipal, "%q must be a 12-digit account id or an IAM role, user or root ARN", p)
	}
	for key, arn := range map[string]string{ctxEncompassSecretARN: c.EncompassSecretARN, ctxWebhookSecretARN: c.WebhookSecretARN} {
		if arn != "" && !secretARNPattern.MatchString(arn) {
			bad(key, "%q must be the complete ARN of a Secrets Manager secret (ending in the 6-character suffix), or empty to create the secret", arn)
		}
	}
	if m := c.MappingFile; m != "" {
		if ext := strings.ToLower(filepath.Ext(m)); ext != ".yaml" && ext != ".yml" && ext != ".json" {
			bad(ctxMappingFile, "%q must be a .yaml, .yml or .json file", m)
		}
	}
	if !slices.Contains(logRetentionChoices, c.LogRetentionDays) {
		bad(ctxLogRetentionDays, "%d is not a CloudWatch Logs retention; choose one of %v", c.LogRetentionDays, logRetentionChoices)
	}
	if !slices.Contains([]string{"debug", "info", "warn", "error"}, c.LogLevel) {
		bad(ctxLogLevel, "%q must be debug, info, warn or error", c.LogLevel)
	}
	if c.MaxRemovalRatio <= 0 || c.MaxRemovalRatio > 1 || math.IsNaN(c.MaxRemovalRatio) {
		bad(ctxMaxRemovalRatio, "%v must be greater than 0 and at most 1", c.MaxRemovalRatio)
	}
	if c.LeaverExposureAlarmSeconds < 1 || c.LeaverExposureAlarmSeconds > 7*24*3600 {
		bad(ctxExposureAlarm, "%d must be between 1 and 604800 seconds", c.LeaverExposureAlarmSeconds)
	}
	if c.DeprovisionMaxAgeMinutes < 1 || c.DeprovisionMaxAgeMinutes > 24*60 {
		bad(ctxDeprovisionMaxAge, "%d must be between 1 and 1440 minutes", c.DeprovisionMaxAgeMinutes)
	}
	if c.EventArchiveDays < 1 || c.EventArchiveDays > 3650 {
		bad(ctxEventArchiveDays, "%d must be between 1 and 3650 days", c.EventArchiveDays)
	}
	if c.WebhookRateLimit < 1 || c.WebhookRateLimit > 10000 {
		bad(ctxWebhookRateLimit, "%d must be between 1 and 10000 requests per second", c.WebhookRateLimit)
	}
	if c.WebhookBurstLimit < c.WebhookRateLimit || c.WebhookBurstLimit > 5000 {
		bad(ctxWebhookBurstLimit, "%d must be at least %q (%d) and at most 5000", c.WebhookBurstLimit, ctxWebhookRateLimit, c.WebhookRateLimit)
	}
	if c.ImmediateTerminationReasons != "" {
		// The functions' own check (pkg/config) is the same: an item of 1
		// to 128 printable characters, no empty one.
		for i, r := range strings.Split(c.ImmediateTerminationReasons, ",") {
			r = strings.TrimSpace(r)
			if r == "" || len(r) > 128 || strings.ContainsFunc(r, func(c rune) bool { return c < 0x20 || c == 0x7f }) {
				bad(ctxImmediateReasons, "item %d (%q) must be a terminationReason of 1 to 128 printable characters; the list is comma-separated", i+1, r)
			}
		}
	}
	return errs
}

// toInt accepts a JSON number or a decimal string holding a whole number.
func toInt(v any) (int, error) {
	switch n := v.(type) {
	case float64:
		if n != math.Trunc(n) || math.Abs(n) > 1e9 {
			return 0, fmt.Errorf("must be a whole number, got %v", n)
		}
		return int(n), nil
	case int:
		return n, nil
	case string:
		i, err := strconv.Atoi(strings.TrimSpace(n))
		if err != nil {
			return 0, fmt.Errorf("must be a whole number, got %q", n)
		}
		return i, nil
	default:
		return 0, fmt.Errorf("must be a whole number, got %T", v)
	}
}

// toFloat accepts a JSON number or a decimal string.
func toFloat(v any) (float64, error) {
	switch n := v.(type) {
	case float64:
		return n, nil
	case int:
		return float64(n), nil
	case string:
		f, err := strconv.ParseFloat(strings.TrimSpace(n), 64)
		if err != nil {
			return 0, fmt.Errorf("must be a number, got %q", n)
		}
		return f, nil
	default:
		return 0, fmt.Errorf("must be a number, got %T", v)
	}
}

// unknownContextKeys returns the keys of ctx that look like ours (no ":",
// which CDK's own feature flags and the asset metadata switches carry) but
// are not, so a typo such as "requestbudget" is not silently ignored.
func unknownContextKeys(ctx map[string]any) []string {
	var unknown []string
	for k := range ctx {
		if strings.Contains(k, ":") || slices.Contains(contextKeys, k) {
			continue
		}
		unknown = append(unknown, k)
	}
	slices.Sort(unknown)
	return unknown
}
