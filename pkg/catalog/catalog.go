// Package catalog names the events this product publishes (CONTRACTS
// section 3): their sources and detail-types, one place for every
// publisher, the dashboards' metric names aside.
package catalog

// Event sources (CONTRACTS section 3).
const (
	SourceProvisioning = "encompass.provisioning"
	SourcePoller       = "encompass.poller"
	SourceWebhook      = "encompass.webhook"
	SourceReconcile    = "encompass.reconcile"
)

// Detail-types of encompass.provisioning.
const (
	UserProvisioned   = "User Provisioned"
	UserUpdated       = "User Updated"
	UserReactivated   = "User Reactivated"
	UserDeprovisioned = "User Deprovisioned"
	HRISEventSkipped  = "HRIS Event Skipped"
	// HRISEventScheduled: held until its due time (CONTRACTS section 2a).
	HRISEventScheduled = "HRIS Event Scheduled"
	HRISEventRejected  = "HRIS Event Rejected"
)

// Detail-types of encompass.poller.
const (
	UserCreated         = "User Created"
	UserChanged         = "User Changed"
	UserDisabled        = "User Disabled"
	UserEnabled         = "User Enabled"
	UserRemoved         = "User Removed"
	BaselineEstablished = "Baseline Established"
	PollAnomaly         = "Poll Anomaly"
	UserDriftDetected   = "User Drift Detected"
)

// Detail-types of encompass.reconcile.
const (
	ReconciliationCompleted = "Reconciliation Completed"
	ReconciliationRefused   = "Reconciliation Refused"
)

// WebhookDetailType is the detail-type of a forwarded webhook:
// "<resourceType> <eventType>", e.g. "Loan update".
func WebhookDetailType(resourceType, eventType string) string {
	return resourceType + " " + eventType
}
