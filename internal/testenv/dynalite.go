// Package testenv starts the real servers the tests talk to: dynalite for the
// DynamoDB protocol, and httptest fakes for the EventBridge and Secrets
// Manager JSON 1.1 protocols, each reached through the real AWS SDK client.
//
// Nothing here is skipped when a dependency is missing: a test that cannot
// start its server fails with a message saying how to fix the machine.
package testenv

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/lenderops/encompass-lifecycle/pkg/state"
)

// Region is the region every fake client uses; the servers ignore it but the
// SDK needs one to sign requests.
const Region = "us-east-1"

// Credentials are static dummy credentials: the servers here do not check
// signatures, and tests must never pick up a developer's real profile.
var Credentials = credentials.NewStaticCredentialsProvider("AKIDTESTENV", "testenv-secret", "")

// Dynalite is a running dynalite server shared by every test of one test
// binary.
type Dynalite struct {
	// URL is the endpoint, e.g. http://127.0.0.1:41234; end-to-end tests pass
	// it to real binaries as AWS_ENDPOINT_URL_DYNAMODB.
	URL string
	// Client is a real SDK client pointed at URL.
	Client *dynamodb.Client
}

var (
	sharedOnce sync.Once
	sharedDyn  *Dynalite
	sharedErr  error
	sharedStop func()
	tableSeq   atomic.Int64
)

// DynamoDB returns the dynalite server of this test binary, starting it on
// first use. The server lives until the test binary exits: node watches its
// stdin, which only this process holds, so it exits even when the test
// binary is killed. Call StopShared from TestMain to stop it earlier.
func DynamoDB(t testing.TB) *Dynalite {
	t.Helper()
	sharedOnce.Do(func() {
		url, stop, err := StartDynalite(context.Background())
		if err != nil {
			sharedErr = err
			return
		}
		sharedStop = stop
		sharedDyn = &Dynalite{URL: url, Client: NewDynamoDBClient(url)}
	})
	if sharedErr != nil {
		t.Fatalf("testenv: %v", sharedErr)
	}
	return sharedDyn
}

// StopShared stops the shared dynalite server if one was started. Use it in
// TestMain after m.Run; without it the server still exits with the binary.
func StopShared() {
	if sharedStop != nil {
		sharedStop()
	}
}

// Main is a TestMain helper: it runs the tests, stops the shared servers and
// exits with the tests' status.
func Main(m *testing.M) {
	code := m.Run()
	StopShared()
	os.Exit(code)
}

// CreateTable creates a fresh, uniquely named table with the product's key
// schema (see state.CreateTable), so that parallel tests never share items.
func (d *Dynalite) CreateTable(t testing.TB) string {
	t.Helper()
	name := fmt.Sprintf("t%d-%d-%s", os.Getpid(), tableSeq.Add(1), sanitize(t.Name()))
	if len(name) > 255 {
		name = name[:255]
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := state.CreateTable(ctx, d.Client, name); err != nil {
		t.Fatalf("testenv: create table %s: %v", name, err)
	}
	return name
}

var unsafeName = regexp.MustCompile(`[^a-zA-Z0-9_.-]+`)

func sanitize(s string) string { return unsafeName.ReplaceAllString(s, "_") }

// NewDynamoDBClient returns a real SDK client for the endpoint url with dummy
// credentials.
func NewDynamoDBClient(url string) *dynamodb.Client {
	return dynamodb.New(dynamodb.Options{
		Region:       Region,
		Credentials:  Credentials,
		BaseEndpoint: aws.String(url),
	})
}

// RepoRoot returns the directory holding go.mod, found by walking up from the
// working directory (go test runs in the package directory).
func RepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod found above the working directory")
		}
		dir = parent
	}
}

// launcher starts dynalite the way its cli.js does, but listens on port 0
// so that the kernel picks a free port (cli.js treats --port 0 as its
// default 4567), and exits when its stdin closes, i.e. when the Go process
// that started it is gone for any reason, even SIGKILL.
const launcher = `
process.stdin.on('end', function () { process.exit(0) });
process.stdin.on('error', function () { process.exit(0) });
process.stdin.resume();
var server = require(process.env.TESTENV_DYNALITE_DIR)({createTableMs: 0, deleteTableMs: 0, updateTableMs: 0});
server.listen(0, '127.0.0.1', function () {
  console.log('Dynalite listening at: http://127.0.0.1:' + server.address().port);
});
`

// StartDynalite starts an in-memory dynalite on a free port and waits until it
// answers DynamoDB requests. It works without a testing.T (the demo uses it).
// stop kills the server and waits for it; it is safe to call more than once.
func StartDynalite(ctx context.Context) (url string, stop func(), err error) {
	root, err := RepoRoot()
	if err != nil {
		return "", nil, fmt.Errorf("start dynalite: %w", err)
	}
	dir := filepath.Join(root, "node_modules", "dynalite")
	if _, err := os.Stat(filepath.Join(dir, "index.js")); err != nil {
		return "", nil, fmt.Errorf("start dynalite: %s is missing: run `npm ci` (or `make node_modules`) in %s", dir, root)
	}
	node, err := exec.LookPath("node")
	if err != nil {
		return "", nil, fmt.Errorf("start dynalite: node is not on PATH: install Node.js, then run `npm ci` in %s", root)
	}
	cmd := exec.Command(node, "-e", launcher)
	cmd.Env = append(os.Environ(), "TESTENV_DYNALITE_DIR="+dir)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return "", nil, fmt.Errorf("start dynalite: %w", err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return "", nil, fmt.Errorf("start dynalite: %w", err)
	}
	stderr := &Buffer{}
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		return "", nil, fmt.Errorf("start dynalite: %w", err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			_ = stdin.Close()
			// The whole process group, in case node ever forks.
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-done
		})
	}

	lines := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if strings.Contains(sc.Text(), "listening at") {
				lines <- sc.Text()
				break
			}
		}
		_, _ = io.Copy(io.Discard, stdout)
	}()
	timeout := time.NewTimer(20 * time.Second)
	defer timeout.Stop()
	var line string
	select {
	case line = <-lines:
	case <-done:
		return "", nil, fmt.Errorf("start dynalite: node exited early: %s", stderr.String())
	case <-timeout.C:
		stop()
		return "", nil, fmt.Errorf("start dynalite: no 'listening' line within 20s: %s", stderr.String())
	case <-ctx.Done():
		stop()
		return "", nil, fmt.Errorf("start dynalite: %w", ctx.Err())
	}
	port := line[strings.LastIndex(line, ":")+1:]
	url = "http://127.0.0.1:" + strings.TrimSpace(port)
	dynalitePIDs.Store(url, cmd.Process.Pid)

	// Wait until it answers a real request, not just until it printed.
	client := NewDynamoDBClient(url)
	for attempt := 0; ; attempt++ {
		_, err := client.ListTables(ctx, &dynamodb.ListTablesInput{})
		if err == nil {
			break
		}
		if attempt >= 50 || ctx.Err() != nil {
			stop()
			return "", nil, fmt.Errorf("start dynalite: not answering at %s: %w", url, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	return url, stop, nil
}
