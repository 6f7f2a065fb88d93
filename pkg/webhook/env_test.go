package webhook

import (
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/lenderops/encompass-lifecycle/internal/testenv"
	"github.com/lenderops/encompass-lifecycle/pkg/encompass"
	"github.com/lenderops/encompass-lifecycle/pkg/publish"
	"github.com/lenderops/encompass-lifecycle/pkg/state"
	"github.com/lenderops/encompass-lifecycle/pkg/telemetry"

	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"
)

func sign(key string, body []byte) string { return encompass.Sign(key, body) }

var testKeys = encompass.SigningKeys{testSubscription: {testKey, testRotatedKey}}

// metricCount counts the EMF lines that carry the outcome's metric.
func (e *testEnv) metricCount(t *testing.T, o Outcome) int {
	t.Helper()
	n := 0
	for line := range strings.Lines(e.metrics.String()) {
		var doc map[string]any
		if err := json.Unmarshal([]byte(line), &doc); err != nil {
			t.Fatalf("metrics line is not JSON: %v", err)
		}
		if _, ok := doc["_aws"]; !ok {
			t.Fatalf("metrics line without _aws: %s", line)
		}
		if v, ok := doc[metricName(o)].(float64); ok {
			n += int(v)
		}
	}
	return n
}

type testEnv struct {
	handler *Handler
	db      *testenv.Dynalite
	table   string
	store   *state.Store // the handler's, for reading and planting claims
	clock   *testenv.Clock
	bus     *testenv.EventBridgeFake
	metrics *testenv.Buffer
	logs    *testenv.Buffer
}

func newTestEnv(t *testing.T) *testEnv { return newTestEnvWithKeys(t, testKeys) }

// newTestEnvWithKeys starts dynalite, the EventBridge fake and the handler
// with the real claims, bus and metrics. The state table's clock is a
// testenv.Clock standing at the current time: tests of leases move it.
func newTestEnvWithKeys(t *testing.T, keys encompass.SigningKeys, ddbOpts ...func(*dynamodb.Options)) *testEnv {
	e := &testEnv{bus: testenv.EventBridge(t), metrics: &testenv.Buffer{}, logs: &testenv.Buffer{}, clock: testenv.NewClock(time.Now())}
	e.db = testenv.DynamoDB(t)
	e.table = e.db.CreateTable(t)
	client := dynamodb.New(e.db.Client.Options(), ddbOpts...)
	e.store = state.New(client, e.table, state.WithClock(e.clock.Now))
	log := telemetry.NewLogger(e.logs, slog.LevelDebug)
	e.handler = NewHandler(Deps{
		Keys:      FixedKeys(keys),
		Claims:    NewClaims(e.store, log),
		Publisher: Bus{publish.New(e.bus.Client, "lifecycle-test", publish.WithBackoff(time.Millisecond))},
		Metrics:   EMFRecorder{W: e.metrics, Dimensions: map[string]string{"Function": "webhook"}},
		Logger:    log,
	})
	return e
}

func (e *testEnv) published(t *testing.T) []testenv.Event { return e.bus.Events() }

// failPublishing makes every PutEvents request fail (or none).
func (e *testEnv) failPublishing(t *testing.T, fail bool) {
	if fail {
		e.bus.FailRequests(1<<30, http.StatusInternalServerError)
	} else {
		e.bus.FailRequests(0, 0)
	}
}

// failState deletes the table under the running handler: every claim fails.
func (e *testEnv) failState(t *testing.T) {
	t.Helper()
	if _, err := e.db.Client.DeleteTable(context.Background(), &dynamodb.DeleteTableInput{TableName: aws.String(e.table)}); err != nil {
		t.Fatal(err)
	}
}

// claim reads the de-duplication item straight from the table: its status,
// or "" when there is none.
func (e *testEnv) claim(t *testing.T, id string) state.ClaimStatus {
	t.Helper()
	out, err := e.db.Client.GetItem(context.Background(), &dynamodb.GetItemInput{
		TableName:      aws.String(e.table),
		ConsistentRead: aws.Bool(true),
		Key: map[string]types.AttributeValue{
			"pk": &types.AttributeValueMemberS{Value: "WEBHOOK#" + id},
			"sk": &types.AttributeValueMemberS{Value: "WEBHOOK"},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if out.Item == nil {
		return ""
	}
	st, ok := out.Item["status"].(*types.AttributeValueMemberS)
	if !ok {
		t.Fatalf("claim item of %s without a status: %v", id, out.Item)
	}
	return state.ClaimStatus(st.Value)
}

func TestMain(m *testing.M) { testenv.Main(m) }

func (e *testEnv) assertNoSecretsLogged(t *testing.T, h http.Header) {
	t.Helper()
	logs := e.logs.String()
	for _, s := range []string{testKey, testRotatedKey, otherKey, h.Get(signatureHeader), "9f1e7c3a-1111"} {
		if s != "" && strings.Contains(logs, s) {
			t.Errorf("logs contain a secret or the body: %q", s)
		}
	}
}
