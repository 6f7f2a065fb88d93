package testenv

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
)

// SecretsManagerFake is an httptest server speaking the Secrets Manager
// GetSecretValue JSON 1.1 protocol.
type SecretsManagerFake struct {
	// URL is the endpoint (AWS_ENDPOINT_URL_SECRETS_MANAGER for real binaries).
	URL string
	// Client is a real SDK client pointed at URL.
	Client *secretsmanager.Client

	srv     *httptest.Server
	mu      sync.Mutex
	secrets map[string]string
	calls   map[string]int
}

// SecretsManager starts a fake for the test and closes it at cleanup.
func SecretsManager(t testing.TB) *SecretsManagerFake {
	t.Helper()
	f := NewSecretsManagerFake()
	t.Cleanup(f.Close)
	return f
}

// NewSecretsManagerFake starts a fake without a testing.T. Call Close.
func NewSecretsManagerFake() *SecretsManagerFake {
	f := &SecretsManagerFake{secrets: map[string]string{}, calls: map[string]int{}}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	f.URL = f.srv.URL
	f.Client = secretsmanager.New(secretsmanager.Options{
		Region:       Region,
		Credentials:  Credentials,
		BaseEndpoint: aws.String(f.URL),
	})
	return f
}

// Close stops the server.
func (f *SecretsManagerFake) Close() { f.srv.Close() }

// Put stores a secret string under id (an ARN or a name, matched exactly).
func (f *SecretsManagerFake) Put(id, value string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.secrets[id] = value
}

// Calls returns how many GetSecretValue requests asked for id.
func (f *SecretsManagerFake) Calls(id string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls[id]
}

func (f *SecretsManagerFake) serve(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("X-Amz-Target") != "secretsmanager.GetSecretValue" {
		writeAWSError(w, http.StatusBadRequest, "UnknownOperationException", "only GetSecretValue is implemented")
		return
	}
	var in struct{ SecretId string }
	body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err := json.Unmarshal(body, &in); err != nil || in.SecretId == "" {
		writeAWSError(w, http.StatusBadRequest, "InvalidParameterException", "SecretId is required")
		return
	}
	f.mu.Lock()
	f.calls[in.SecretId]++
	v, ok := f.secrets[in.SecretId]
	f.mu.Unlock()
	if !ok {
		writeAWSError(w, http.StatusBadRequest, "ResourceNotFoundException", "Secrets Manager can't find the specified secret.")
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"ARN":           in.SecretId,
		"Name":          in.SecretId,
		"SecretString":  v,
		"VersionId":     "00000000-0000-0000-0000-000000000001",
		"VersionStages": []string{"AWSCURRENT"},
		"CreatedDate":   float64(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).Unix()),
	})
}
