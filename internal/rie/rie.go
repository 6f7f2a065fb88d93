// Package rie runs a Lambda bootstrap under AWS's own Lambda Runtime
// Interface Emulator (github.com/aws/aws-lambda-runtime-interface-emulator,
// installed from the Go module proxy, no Docker), behind the same contract
// as internal/lambdarun's Container: Invoke(ctx, event) returns the
// function's payload or error and its logs. The end-to-end tests play the
// product's story through both runners and compare the outcomes; where they
// differ, the emulator is taken to be right and lambdarun is fixed.
//
// The emulator listens on loopback only: its invoke endpoint and its Runtime
// API each get a port of their own, so several emulators run side by side.
package rie

import (
	"bytes"
	"context"
	"debug/buildinfo"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/lenderops/encompass-lifecycle/internal/lambdarun"
)

// Module and Version pin the emulator: `make rie` (which `make test`, and
// so CI, runs first) installs exactly this, and Find refuses another build,
// so that a cross-check always compares against the same emulator.
const (
	Module  = "github.com/aws/aws-lambda-runtime-interface-emulator"
	Version = "v0.0.0-20261030222936-bef5c4ba774d"
	// Install is the command that installs the pinned emulator.
	Install = "go install " + Module + "/cmd/aws-lambda-rie@" + Version
	// EnvBinary names an explicit path of the emulator binary.
	EnvBinary = "AWS_LAMBDA_RIE"
)

// invokePath is the emulator's one endpoint.
const invokePath = "/2015-03-31/functions/function/invocations"

// Find returns the path of the pinned aws-lambda-rie: $AWS_LAMBDA_RIE, else
// the first on PATH, else $(go env GOBIN) or $(go env GOPATH)/bin, where
// `go install` puts it. A missing binary, or one built from another
// version, is an error that says how to install the right one.
func Find() (string, error) {
	var candidates []string
	if p := os.Getenv(EnvBinary); p != "" {
		candidates = append(candidates, p)
	} else {
		if p, err := exec.LookPath("aws-lambda-rie"); err == nil {
			candidates = append(candidates, p)
		}
		for _, v := range []string{"GOBIN", "GOPATH"} {
			out, err := exec.Command("go", "env", v).Output()
			dir := strings.TrimSpace(string(out))
			if err != nil || dir == "" {
				continue
			}
			if v == "GOPATH" {
				dir = filepath.Join(filepath.SplitList(dir)[0], "bin")
			}
			candidates = append(candidates, filepath.Join(dir, "aws-lambda-rie"))
		}
	}
	for _, p := range candidates {
		st, err := os.Stat(p)
		if err != nil || st.IsDir() {
			continue
		}
		info, err := buildinfo.ReadFile(p)
		if err != nil {
			return "", fmt.Errorf("rie: %s is not a Go binary (%v); reinstall it with: %s", p, err, Install)
		}
		if info.Main.Path != Module || info.Main.Version != Version {
			return "", fmt.Errorf("rie: %s is %s@%s, the cross-check pins %s@%s; install it with: %s",
				p, info.Main.Path, info.Main.Version, Module, Version, Install)
		}
		return p, nil
	}
	return "", fmt.Errorf("rie: AWS's Lambda runtime interface emulator (aws-lambda-rie) is not installed "+
		"(looked at $%s, PATH, GOBIN and GOPATH/bin); install it with `make rie` or: %s", EnvBinary, Install)
}

// Invoker is one warm execution environment of a function under the
// emulator. Invocations are served one at a time, as Lambda serves them per
// environment. Its zero value is not usable; call New.
type Invoker struct {
	cfg    lambdarun.Config
	binary string
	client *http.Client

	mu      sync.Mutex
	cmd     *exec.Cmd
	exited  chan struct{}
	url     string
	dir     string
	out     *os.File // the emulator's stdout: the function's output, START/END/REPORT
	rapid   *os.File // the emulator's own log (stderr), read for init and failure details
	outOff  int64
	rapidOf int64
	closed  bool
}

// New checks cfg as lambdarun does and finds the emulator; the emulator
// starts on the first Invoke. cfg.Timeout is rounded up to whole seconds
// (the emulator's AWS_LAMBDA_FUNCTION_TIMEOUT, as Lambda's own setting).
func New(cfg lambdarun.Config) (*Invoker, error) {
	cfg, err := cfg.Validate()
	if err != nil {
		return nil, err
	}
	bin, err := Find()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "rie-")
	if err != nil {
		return nil, fmt.Errorf("rie: %w", err)
	}
	inv := &Invoker{cfg: cfg, binary: bin, dir: dir, client: &http.Client{}}
	for name, f := range map[string]**os.File{"stdout": &inv.out, "rapid": &inv.rapid} {
		if *f, err = os.OpenFile(filepath.Join(dir, name), os.O_CREATE|os.O_RDWR|os.O_APPEND, 0o600); err != nil {
			inv.Close()
			return nil, fmt.Errorf("rie: %w", err)
		}
	}
	return inv, nil
}

// timeoutSeconds is the function timeout as the emulator takes it.
func (i *Invoker) timeoutSeconds() int {
	s := int((i.cfg.Timeout + time.Second - 1) / time.Second)
	return max(s, 1)
}

// environ is the emulator's environment, which it hands on to the function:
// the runner's Lambda environment without the Runtime API address (the
// emulator sets its own), plus the emulator's settings.
func (i *Invoker) environ() []string {
	var env []string
	stream := time.Now().UTC().Format("2006/01/02") + "/[$LATEST]" + strings.ReplaceAll(lambdarun.NewRequestID(), "-", "")
	for _, kv := range i.cfg.Environ("", stream) {
		if strings.HasPrefix(kv, "AWS_LAMBDA_RUNTIME_API=") {
			continue
		}
		env = append(env, kv)
	}
	return append(env, "AWS_LAMBDA_FUNCTION_TIMEOUT="+strconv.Itoa(i.timeoutSeconds()))
}

// freePort asks the kernel for a loopback port that is free right now.
func freePort() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr, nil
}

// start launches the emulator and waits until its invoke endpoint accepts
// connections. A port taken between choosing and binding makes the emulator
// exit; it is then started again on other ports.
func (i *Invoker) start() error {
	var lastErr error
	for range 3 {
		invokeAddr, err := freePort()
		if err != nil {
			return fmt.Errorf("rie: %w", err)
		}
		apiAddr, err := freePort()
		if err != nil {
			return fmt.Errorf("rie: %w", err)
		}
		cmd := exec.Command(i.binary,
			"--log-level", "info",
			"--runtime-interface-emulator-address", invokeAddr,
			"--runtime-api-address", apiAddr,
			i.cfg.Bootstrap)
		// The emulator runs the bootstrap in its own working directory, as
		// Lambda runs it in /var/task beside the code.
		cmd.Dir = filepath.Dir(i.cfg.Bootstrap)
		cmd.Env = i.environ()
		cmd.Stdout, cmd.Stderr = i.out, i.rapid
		cmd.SysProcAttr = sysProcAttr()
		if err := cmd.Start(); err != nil {
			return fmt.Errorf("rie: start %s: %w", i.binary, err)
		}
		exited := make(chan struct{})
		go func() { cmd.Wait(); close(exited) }() //nolint:errcheck // the exit is reported through exited
		if err := waitListening(invokeAddr, exited, 10*time.Second); err != nil {
			stopProcess(cmd, exited)
			lastErr = fmt.Errorf("rie: the emulator did not start: %w\n%s", err, i.tail())
			continue
		}
		i.cmd, i.exited, i.url = cmd, exited, "http://"+invokeAddr+invokePath
		return nil
	}
	return lastErr
}

func waitListening(addr string, exited <-chan struct{}, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for {
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err == nil {
			c.Close()
			return nil
		}
		select {
		case <-exited:
			return errors.New("it exited")
		default:
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("nothing listens on %s after %s", addr, limit)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// stopProcess asks the emulator to stop (it then stops its runtime), and
// kills its process group if it does not within two seconds.
func stopProcess(cmd *exec.Cmd, exited <-chan struct{}) {
	if cmd.Process == nil {
		return
	}
	cmd.Process.Signal(syscall.SIGTERM) //nolint:errcheck // it may be gone already
	select {
	case <-exited:
	case <-time.After(2 * time.Second):
		killGroup(cmd)
		<-exited
	}
}

// Invoke hands payload to the function through the emulator's invoke
// endpoint and maps the emulator's answer onto a lambdarun.Result. Function
// failures are in Result.Error; the returned error is for failures of the
// emulator itself or a cancelled ctx.
//
// What the emulator does not tell is left zero: MaxMemoryMB (it reports
// its memory size, not what was used), and memory is not enforced.
func (i *Invoker) Invoke(ctx context.Context, payload []byte) (*lambdarun.Result, error) {
	if len(payload) > lambdarun.MaxPayloadBytes {
		return nil, fmt.Errorf("rie: event is %d bytes, over the %d byte limit", len(payload), lambdarun.MaxPayloadBytes)
	}
	i.mu.Lock()
	defer i.mu.Unlock()
	if i.closed {
		return nil, errors.New("rie: invoker closed")
	}
	if i.cmd != nil {
		select {
		case <-i.exited:
			i.cmd = nil // died while idle; start again
		default:
		}
	}
	if i.cmd == nil {
		if err := i.start(); err != nil {
			return nil, err
		}
	}
	res := &lambdarun.Result{RequestID: lambdarun.NewRequestID()}
	// The emulator enforces the timeout itself; this bound is only for an
	// emulator that hangs.
	rctx, cancel := context.WithTimeout(ctx, i.cfg.Timeout+time.Duration(i.timeoutSeconds())*time.Second+15*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(rctx, http.MethodPost, i.url, bytes.NewReader(payload))
	if err != nil {
		return nil, fmt.Errorf("rie: %w", err)
	}
	req.Header.Set("X-Amzn-RequestId", res.RequestID)
	start := time.Now()
	resp, err := i.client.Do(req)
	if err != nil {
		i.stop()
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, fmt.Errorf("rie: invoke: %w\n%s", err, i.tail())
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, lambdarun.MaxResponseBytes+1<<20))
	resp.Body.Close()
	wall := time.Since(start)
	if err != nil {
		i.stop()
		return nil, fmt.Errorf("rie: read the answer: %w", err)
	}
	res.Logs = i.readNew(i.out, &i.outOff)
	rapid := string(i.readNew(i.rapid, &i.rapidOf))
	res.Duration = reportDuration(res.Logs, res.RequestID, wall)
	if d, ok := initDuration(rapid); ok {
		res.Cold, res.InitDuration, res.ColdStart = true, d, wall
	}
	switch {
	case resp.StatusCode == http.StatusOK && bytes.HasPrefix(body, []byte("Task timed out after ")):
		res.TimedOut = true
		res.Error = &lambdarun.FunctionError{Type: "Sandbox.Timedout", Message: fmt.Sprintf("RequestId: %s Error: %s", res.RequestID, body)}
	case resp.StatusCode == http.StatusOK:
		// The emulator drops the X-Amz-Function-Error header Lambda's Invoke
		// API sets, so a function error arrives as a 200 whose body is the
		// error document: an object of errorMessage, errorType and
		// optionally stackTrace, and nothing else.
		if fe := asFunctionError(body); fe != nil {
			res.Error = fe
		} else {
			res.Payload = body
		}
	case resp.StatusCode == http.StatusBadGateway:
		// A crash, a panic, an init failure or a response over 6 MB. The
		// emulator may log its account of the failure just after answering.
		rapid = i.awaitRapid(rapid, res.RequestID)
		res.Error = asFunctionError(body)
		if res.Error == nil {
			res.Error = &lambdarun.FunctionError{Type: "Runtime.ExitError", Message: fmt.Sprintf("RequestId: %s Error: %s", res.RequestID, failureDetail(rapid))}
		}
		res.InitError = strings.Contains(rapid, "INIT RTDONE(status: error)")
	default:
		i.stop()
		return nil, fmt.Errorf("rie: the emulator answered %s: %.200s\n%s", resp.Status, body, i.tail())
	}
	return res, nil
}

var (
	reReport = regexp.MustCompile(`REPORT RequestId: (\S+)\s+(?:Init Duration: [0-9.]+ ms\s+)?Duration: ([0-9.]+) ms`)
	reInit   = regexp.MustCompile(`INIT REPORT\(durationMs: ([0-9.]+)\)`)
	// The emulator's logger prints a failure's fields in either order.
	reFailure  = regexp.MustCompile(`(?m)\(rapid\) (?:Init|Invoke) failed .*?error=(.+?)(?:\s+InvokeID=\S*)?\s*$`)
	errorKeys  = []string{"errorMessage", "errorType", "stackTrace"}
	minErrKeys = []string{"errorMessage", "errorType"}
)

// awaitRapid waits, at most a second, until the emulator's log (read so
// far: seen) has its account of the failed invocation, and returns it all.
func (i *Invoker) awaitRapid(seen, requestID string) string {
	var b strings.Builder
	b.WriteString(seen)
	deadline := time.Now().Add(time.Second)
	for {
		b.Write(i.readNew(i.rapid, &i.rapidOf))
		if strings.Contains(b.String(), "InvokeID="+requestID) || time.Now().After(deadline) {
			return b.String()
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// reportDuration reads the invocation's duration from the REPORT line the
// emulator prints, falling back to the wall time of the request.
func reportDuration(logs []byte, requestID string, wall time.Duration) time.Duration {
	for _, m := range reReport.FindAllSubmatch(logs, -1) {
		if string(m[1]) != requestID {
			continue
		}
		if ms, err := strconv.ParseFloat(string(m[2]), 64); err == nil {
			return time.Duration(ms * float64(time.Millisecond))
		}
	}
	return wall
}

// initDuration is the last init the emulator reported during the
// invocation: it starts the runtime on the first invocation and again after
// a crash, a timeout or an init failure, which is what cold means.
func initDuration(rapid string) (time.Duration, bool) {
	all := reInit.FindAllStringSubmatch(rapid, -1)
	if len(all) == 0 {
		return 0, false
	}
	ms, _ := strconv.ParseFloat(all[len(all)-1][1], 64)
	return time.Duration(ms * float64(time.Millisecond)), true
}

// failureDetail is the emulator's own account of a failure it answered 502
// without a body for (a runtime that exits during init).
func failureDetail(rapid string) string {
	all := reFailure.FindAllStringSubmatch(rapid, -1)
	if len(all) == 0 {
		return "the runtime failed (the emulator gave no detail)"
	}
	return all[len(all)-1][1]
}

// asFunctionError decodes an error document: a JSON object with exactly
// errorMessage and errorType (and optionally stackTrace).
func asFunctionError(body []byte) *lambdarun.FunctionError {
	var m map[string]json.RawMessage
	if json.Unmarshal(body, &m) != nil {
		return nil
	}
	for _, k := range minErrKeys {
		if _, ok := m[k]; !ok {
			return nil
		}
	}
	for k := range m {
		if !slices.Contains(errorKeys, k) {
			return nil
		}
	}
	var fe lambdarun.FunctionError
	if json.Unmarshal(body, &fe) != nil {
		return nil
	}
	return &fe
}

// readNew returns what f gained since *off.
func (i *Invoker) readNew(f *os.File, off *int64) []byte {
	st, err := f.Stat()
	if err != nil || st.Size() <= *off {
		return nil
	}
	buf := make([]byte, st.Size()-*off)
	n, _ := f.ReadAt(buf, *off)
	*off += int64(n)
	return buf[:n]
}

// tail is the end of the emulator's own log, for errors about the emulator.
func (i *Invoker) tail() string {
	st, err := i.rapid.Stat()
	if err != nil {
		return ""
	}
	from := max(st.Size()-2048, 0)
	buf := make([]byte, st.Size()-from)
	n, _ := i.rapid.ReadAt(buf, from)
	return string(buf[:n])
}

func (i *Invoker) stop() {
	if i.cmd != nil {
		stopProcess(i.cmd, i.exited)
		i.cmd = nil
	}
}

// Config returns the function's configuration with defaults applied.
func (i *Invoker) Config() lambdarun.Config { return i.cfg }

// Close stops the emulator (and with it the function) and removes its files.
func (i *Invoker) Close() error {
	i.mu.Lock()
	defer i.mu.Unlock()
	if i.closed {
		return nil
	}
	i.closed = true
	i.stop()
	for _, f := range []*os.File{i.out, i.rapid} {
		if f != nil {
			f.Close()
		}
	}
	return os.RemoveAll(i.dir)
}
