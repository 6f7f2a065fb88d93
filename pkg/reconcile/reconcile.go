// Package reconcile compares an HRIS roster (CONTRACTS section 7) with
// Encompass and reports every account's standing: which roster rows are in
// sync, drifted, adoptable, suggested, ambiguous, missing, leavers whose
// account is still enabled, or invalid, and which enabled accounts belong
// to nobody (orphans). Under rosters/apply/ it also sends the HRIS events
// that bring Encompass in line to the provisioning queues, so that every
// change goes through the one pipeline: it never writes Encompass itself.
//
// One roster object reads one way:
//
//	users      users.go    the poller's fresh snapshot, else one listing
//	links      links.go    every employee link, from the login index
//	guard      guard.go    pass 1 over the roster: refuse a truncated or invalid one
//	classify   match.go    pass 2: each row, then the orphans (drift.go compares)
//	apply      apply.go    the HRIS events, SendMessageBatch in tens
//	report     report.go   JSON and CSV under reports/
//	publish    here        Reconciliation Completed or Refused
//
// The roster is read twice from S3 (the same object version) and never
// held whole: only the employee ids it names are kept between the passes.
package reconcile

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"iter"
	"log/slog"
	"net/url"
	"path"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/lenderops/encompass-lifecycle/pkg/encompass"
	"github.com/lenderops/encompass-lifecycle/pkg/hris"
	"github.com/lenderops/encompass-lifecycle/pkg/mapping"
	"github.com/lenderops/encompass-lifecycle/pkg/publish"
	"github.com/lenderops/encompass-lifecycle/pkg/state"
)

// Key prefixes of the roster bucket (CONTRACTS section 7).
const (
	RostersPrefix = "rosters/"
	ApplyPrefix   = "rosters/apply/"
	DryRunPrefix  = "rosters/dry-run/"
	ReportsPrefix = "reports/"
)

// Defaults of Config.
const (
	// DefaultMaxSnapshotAge: a poller snapshot older than this is not used
	// (the "younger than an hour").
	DefaultMaxSnapshotAge = time.Hour
	// DefaultMinRosterRatio is RECONCILE_MIN_ROSTER_RATIO's default (which
	// pkg/config applies when the variable is unset).
	DefaultMinRosterRatio = 0.8
	// MaxInvalidRatio: a roster with more invalid rows than this share is
	// refused (CONTRACTS section 7: 5%).
	MaxInvalidRatio = 0.05
	// MaxRosterBytes bounds a roster object: 200,000 rows of a wide export
	// are about 50 MB.
	MaxRosterBytes = 512 << 20
)

// S3API is the part of the S3 client the reconciler uses (*s3.Client).
type S3API interface {
	GetObject(ctx context.Context, in *s3.GetObjectInput, optFns ...func(*s3.Options)) (*s3.GetObjectOutput, error)
	PutObject(ctx context.Context, in *s3.PutObjectInput, optFns ...func(*s3.Options)) (*s3.PutObjectOutput, error)
}

// SQSAPI is the part of the SQS client apply uses (*sqs.Client).
type SQSAPI interface {
	SendMessageBatch(ctx context.Context, in *sqs.SendMessageBatchInput, optFns ...func(*sqs.Options)) (*sqs.SendMessageBatchOutput, error)
}

// Store is the part of the state table the reconciler reads (*state.Store).
type Store interface {
	LoginLinks(ctx context.Context) iter.Seq2[state.LoginLink, error]
	GetEmployee(ctx context.Context, employeeID string) (state.Employee, bool, error)
}

// Snapshot reads the poller's latest snapshot (*state.Snapshot), read-only.
type Snapshot interface {
	LoadMeta(ctx context.Context) (state.SnapshotMeta, error)
	LoadUsers(ctx context.Context, m state.SnapshotMeta) (map[string]state.SnapshotUser, error)
}

// Publisher sends the run's event (*publish.Publisher).
type Publisher interface {
	Publish(ctx context.Context, events ...publish.Event) error
}

// Metrics counts findings and refusals (*telemetry.Metrics).
type Metrics interface {
	Add(name string, n float64)
	AddBy(name, dimension, value string, n float64)
}

// Config wires a Reconciler. Bucket, Objects, Store, ListUsers, Mapping and
// Publisher are required; Queues and the queue URLs too unless DryRun.
type Config struct {
	// Bucket is ROSTER_BUCKET: rosters are read from it, reports written.
	Bucket  string
	Objects S3API
	// Queues sends the HRIS events to ProvisionQueueURL (update) and
	// DeprovisionQueueURL (terminate).
	Queues                                 SQSAPI
	ProvisionQueueURL, DeprovisionQueueURL string
	Store                                  Store
	// Snapshot is the poller's snapshot; nil always lists Encompass.
	Snapshot Snapshot
	// SnapshotDDA: the poller lists DDA (AIQ) profiles (in scim mode, as
	// functions/poller does), so each snapshot user carries its profile or
	// its absence, and drift compares the mapping's DDA profile with it.
	// False, and for users from the listing or a look-up, which cannot see
	// DDA profiles, the DDA profile is not known and never drift.
	SnapshotDDA bool
	// ListUsers lists every Encompass user (the client's one paginator).
	ListUsers func(ctx context.Context) iter.Seq2[encompass.User, error]
	// FindUser looks one login up (Users.FindByLoginID): an explicit link
	// that the snapshot, up to an hour old, does not know is checked
	// against Encompass before it is called a link to nothing. nil: not.
	FindUser func(ctx context.Context, login string) (*encompass.User, error)
	// Group reads a user group with its members; nil when groups are not
	// compared (v3, or a mapping without groups).
	Group func(ctx context.Context, id string) (*encompass.SCIMGroup, error)
	// ManagedGroups are the mapped groups the directory reconciles (its
	// ManagedGroups); nil when groups are not managed.
	ManagedGroups []mapping.Named
	// IsAPIUser tells an API user (never an orphan) by login; nil when the
	// user API cannot tell (v3: RECONCILE_IGNORE_LOGINS covers them).
	IsAPIUser func(ctx context.Context, login string) (bool, error)
	Mapping   *mapping.Resolved
	Publisher Publisher
	// IgnoreLogins are lower-case glob patterns of logins that are never
	// orphans (RECONCILE_IGNORE_LOGINS).
	IgnoreLogins []string
	// MinRosterRatio is RECONCILE_MIN_ROSTER_RATIO, from 0 to 1: the share
	// of the linked employees a roster must name. 0 requires none; the
	// variable's default is DefaultMinRosterRatio.
	MinRosterRatio float64
	// DryRun (DRY_RUN) reports but never applies, whatever the key.
	DryRun bool
	// MaxSnapshotAge is how old a snapshot may be to be used.
	MaxSnapshotAge time.Duration
	// TempDir holds the report while it is written (default os.TempDir).
	TempDir string
	Logger  *slog.Logger
	Metrics Metrics
	// Now replaces time.Now (tests).
	Now func() time.Time
}

// Reconciler reconciles rosters. It is safe for sequential use by one
// Lambda container.
type Reconciler struct {
	cfg Config
	log *slog.Logger
}

// New checks cfg and returns a Reconciler.
func New(cfg Config) (*Reconciler, error) {
	var missing []string
	// In alphabetical order, as the error names them.
	for _, req := range []struct {
		name string
		ok   bool
	}{
		{"Bucket", cfg.Bucket != ""},
		{"ListUsers", cfg.ListUsers != nil},
		{"Mapping", cfg.Mapping != nil},
		{"Objects", cfg.Objects != nil},
		{"Publisher", cfg.Publisher != nil},
		{"Queues and both queue URLs (or DryRun)", cfg.DryRun || cfg.Queues != nil && cfg.ProvisionQueueURL != "" && cfg.DeprovisionQueueURL != ""},
		{"Store", cfg.Store != nil},
	} {
		if !req.ok {
			missing = append(missing, req.name)
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("reconcile: %s required", strings.Join(missing, ", "))
	}
	if !(cfg.MinRosterRatio >= 0 && cfg.MinRosterRatio <= 1) {
		return nil, fmt.Errorf("reconcile: MinRosterRatio %v is not from 0 to 1", cfg.MinRosterRatio)
	}
	if cfg.MaxSnapshotAge <= 0 {
		cfg.MaxSnapshotAge = DefaultMaxSnapshotAge
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewJSONHandler(io.Discard, nil))
	}
	if cfg.Metrics == nil {
		cfg.Metrics = nopMetrics{}
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Reconciler{cfg: cfg, log: cfg.Logger}, nil
}

// Result is what became of one roster object.
type Result struct {
	RunID     string         `json:"runId"`
	RosterKey string         `json:"rosterKey"`
	DryRun    bool           `json:"dryRun"`
	Counts    map[string]int `json:"counts"`
	// ReportKey and CSVReportKey are the reports' keys in the bucket.
	ReportKey    string `json:"reportKey,omitempty"`
	CSVReportKey string `json:"csvReportKey,omitempty"`
	// Sent is the number of HRIS events the queues accepted.
	Sent int `json:"sent"`
	// Refused is the reason of a refused roster ("" when completed), and
	// Message says why to a person.
	Refused string `json:"refused,omitempty"`
	Message string `json:"message,omitempty"`
	// UsersFrom says where the Encompass users came from: "snapshot" or
	// "listing".
	UsersFrom string `json:"usersFrom,omitempty"`
	// IgnoredColumns are roster columns (or keys) the contract does not know.
	IgnoredColumns []string `json:"ignoredColumns,omitempty"`
}

// Response is the function's answer: one result per roster object.
type Response struct {
	Results []Result `json:"results"`
}

// HandleS3 reconciles every roster object an S3 notification names, in
// order. An error (S3, SQS, DynamoDB, Encompass or EventBridge failing) is
// returned for Lambda to retry the whole notification: a retry is harmless,
// because a roster object's run id, event ids and report keys are the same
// every time (and the queues and the provisioning functions drop repeated
// event ids).
func (r *Reconciler) HandleS3(ctx context.Context, ev events.S3Event) (Response, error) {
	resp := Response{Results: []Result{}}
	for _, rec := range ev.Records {
		obj, ok := r.object(ctx, rec)
		if !ok {
			continue
		}
		res, err := r.Run(ctx, obj)
		if err != nil {
			return resp, err
		}
		resp.Results = append(resp.Results, res)
	}
	return resp, nil
}

// Object names one roster object version.
type Object struct {
	Key string
	// VersionID (a versioned bucket) or ETag pins the object, so that both
	// passes read the same bytes and a re-run has the same run id.
	VersionID string
	ETag      string
}

// object reads a notification record: the key arrives URL-encoded (a space
// as "+"). Records of another bucket, or outside rosters/, are not rosters.
func (r *Reconciler) object(ctx context.Context, rec events.S3EventRecord) (Object, bool) {
	if rec.S3.Bucket.Name != r.cfg.Bucket {
		r.log.WarnContext(ctx, "notification for another bucket ignored", "bucket", hris.Truncate(rec.S3.Bucket.Name, 64))
		return Object{}, false
	}
	key, err := url.QueryUnescape(rec.S3.Object.Key)
	if err != nil {
		r.log.ErrorContext(ctx, "notification with a key that is not URL-encoded ignored", "key", hris.Truncate(rec.S3.Object.Key, 200))
		return Object{}, false
	}
	if !strings.HasPrefix(key, RostersPrefix) || strings.HasSuffix(key, "/") {
		r.log.InfoContext(ctx, "not a roster: ignored", "key", hris.Truncate(key, 200))
		return Object{}, false
	}
	return Object{Key: key, VersionID: rec.S3.Object.VersionID, ETag: strings.Trim(rec.S3.Object.ETag, `"`)}, true
}

// RunID derives a run's id from the object: its key and version (or ETag),
// so that reconciling the same object again is the same run.
func RunID(bucket string, o Object) string {
	version := o.VersionID
	if version == "" {
		version = "etag:" + o.ETag
	}
	sum := sha256.Sum256([]byte(bucket + "/" + o.Key + "\x00" + version))
	return hex.EncodeToString(sum[:8])
}

// reportKeys are the JSON and CSV report keys of a run:
// reports/<roster name>-<runId>.json and .csv.
func reportKeys(rosterKey, runID string) (string, string) {
	name := path.Base(rosterKey)
	name = strings.TrimSuffix(name, path.Ext(name))
	name = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return '_'
		}
		return r
	}, name)
	base := ReportsPrefix + hris.Truncate(name, 200) + "-" + runID
	return base + ".json", base + ".csv"
}

// apply reports whether a roster key asks for its findings to be applied.
func (r *Reconciler) apply(key string) bool {
	return !r.cfg.DryRun && strings.HasPrefix(key, ApplyPrefix)
}

// Run reconciles one roster object.
func (r *Reconciler) Run(ctx context.Context, o Object) (Result, error) {
	if o.VersionID == "" && o.ETag == "" {
		// A notification always names one; a hand-made call may not. The
		// run id needs the object's identity.
		var err error
		if o, err = r.pin(ctx, o); err != nil {
			return Result{RosterKey: o.Key}, fmt.Errorf("reconcile %s: %w", o.Key, err)
		}
	}
	runID := RunID(r.cfg.Bucket, o)
	ctx = withRun(ctx, runID, o.Key)
	res := Result{RunID: runID, RosterKey: o.Key, DryRun: !r.apply(o.Key), Counts: zeroCounts()}
	res.ReportKey, res.CSVReportKey = reportKeys(o.Key, runID)
	run := &run{r: r, obj: o, res: &res}
	if err := run.do(ctx); err != nil {
		return res, fmt.Errorf("reconcile %s: %w", o.Key, err)
	}
	return res, nil
}

// pin reads the object's version id and ETag (its first byte only).
func (r *Reconciler) pin(ctx context.Context, o Object) (Object, error) {
	out, err := r.cfg.Objects.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(r.cfg.Bucket), Key: aws.String(o.Key), Range: aws.String("bytes=0-0")})
	if err != nil {
		return o, fmt.Errorf("read roster: %w", err)
	}
	out.Body.Close()
	if v := aws.ToString(out.VersionId); v != "null" {
		o.VersionID = v
	}
	o.ETag = strings.Trim(aws.ToString(out.ETag), `"`)
	return o, nil
}

type nopMetrics struct{}

func (nopMetrics) Add(string, float64)                   {}
func (nopMetrics) AddBy(string, string, string, float64) {}
