// Package lambdarun runs real Lambda bootstrap binaries on this machine
// without Docker: it serves the Lambda Runtime API on a loopback port, starts
// the bootstrap with the environment Lambda would give it, keeps it warm
// across invocations, enforces the timeout and captures the logs. It is what
// `make invoke`, `make demo`, the end-to-end tests and `make bench` use.
package lambdarun

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"time"
)

// Defaults of a Lambda function created without options.
const (
	DefaultTimeout     = 3 * time.Second
	DefaultInitTimeout = 10 * time.Second
	DefaultMemoryMB    = 128
	DefaultRegion      = "us-east-1"
	accountID          = "000000000000"
)

// Config describes one function as Lambda would know it.
type Config struct {
	// Name is the function name (AWS_LAMBDA_FUNCTION_NAME), e.g. "ProvisionFunction".
	Name string
	// Bootstrap is the path of the executable to start.
	Bootstrap string
	// Env holds the function's environment variables.
	Env map[string]string
	// Timeout bounds one invocation, from hand-over to answer (DefaultTimeout).
	Timeout time.Duration
	// InitTimeout bounds process start to the runtime's first request for an event.
	InitTimeout time.Duration
	// MemoryMB is reported to the function and, where the OS tells the
	// process's resident memory (Linux), enforced as Lambda does: a process
	// that goes over it is killed and the invocation fails with
	// Runtime.OutOfMemory (DefaultMemoryMB).
	MemoryMB int
	// Region is AWS_REGION (DefaultRegion).
	Region string
}

// Result is the outcome of one invocation.
type Result struct {
	RequestID string
	// Payload is the function's response; nil when Error is set.
	Payload []byte
	// Error is what the function reported, or the runner's report of a
	// timeout (Sandbox.Timedout), a crash (Runtime.ExitError) or an init
	// failure; Lambda's Invoke API returns these with FunctionError set.
	Error *FunctionError
	// Logs is everything the process wrote to stdout and stderr during this
	// invocation (and during init, for a cold one).
	Logs []byte
	// Cold is true when this invocation started the process.
	Cold bool
	// InitDuration is process start to the first request for an event (cold only).
	InitDuration time.Duration
	// ColdStart is process start to the first response (cold only).
	ColdStart time.Duration
	// Duration is hand-over of the event to the answer.
	Duration time.Duration
	// MaxMemoryMB is the process's peak resident memory where the OS tells it.
	MaxMemoryMB int
	// TimedOut is true when the runner killed the process at the deadline.
	TimedOut bool
	// InitError is true when the function failed before taking the event.
	InitError bool
}

// Container is one warm execution environment of a function. Invocations are
// served one at a time, as Lambda serves them per environment.
type Container struct {
	cfg Config

	mu        sync.Mutex // serializes invocations and process changes
	sb        *sandbox
	proc      *process
	logFile   *os.File
	logDir    string
	logOffset int64
	closed    bool
}

type process struct {
	cmd     *exec.Cmd
	started time.Time
	exited  chan struct{}
	waitErr error
	// oom is closed, before the process is killed, when its resident
	// memory went over the memory size; peakMB is the high-water mark then.
	oom     chan struct{}
	oomOnce sync.Once
	peakMB  int
}

// memoryCheckInterval is how often a running process's peak resident memory
// is read (one small /proc read).
const memoryCheckInterval = 10 * time.Millisecond

// watchMemory kills the process once its peak resident memory exceeds
// limitMB, as Lambda does. It returns when the process exits.
func (p *process) watchMemory(limitMB int) {
	t := time.NewTicker(memoryCheckInterval)
	defer t.Stop()
	for {
		select {
		case <-p.exited:
			return
		case <-t.C:
			if p.overLimit(peakMemoryMB(p.cmd.Process.Pid), limitMB) {
				return
			}
		}
	}
}

// overLimit reports whether peak, the process's peak resident memory, is
// over limitMB, and if so marks the process out of memory and kills it
// (once, whether the watcher or the invocation sees it first).
func (p *process) overLimit(peak, limitMB int) bool {
	if peak <= limitMB {
		return false
	}
	p.oomOnce.Do(func() {
		p.peakMB = peak
		close(p.oom)
		killProcess(p.cmd)
	})
	return true
}

// New returns a container for cfg. The process starts on the first Invoke.
func New(cfg Config) (*Container, error) {
	cfg, err := cfg.Validate()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "lambdarun-")
	if err != nil {
		return nil, fmt.Errorf("lambdarun: %w", err)
	}
	// Logs go to a file rather than a pipe: once the runtime has answered,
	// everything it wrote before is in the file, so the logs of an invocation
	// are exact without timing guesses.
	f, err := os.OpenFile(filepath.Join(dir, "log"), os.O_CREATE|os.O_RDWR|os.O_APPEND, 0o600)
	if err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("lambdarun: %w", err)
	}
	return &Container{cfg: cfg, logFile: f, logDir: dir}, nil
}

// Validate checks cfg as Lambda checks a function's configuration (an
// executable bootstrap, no reserved or invalid variable names) and returns
// it with the defaults applied and the bootstrap path made absolute. Other
// runners of the same configuration (the AWS emulator cross-check) use it too.
func (cfg Config) Validate() (Config, error) {
	if cfg.Name == "" {
		return Config{}, errors.New("lambdarun: function name is required")
	}
	if cfg.Bootstrap == "" {
		return Config{}, errors.New("lambdarun: bootstrap path is required")
	}
	abs, err := filepath.Abs(cfg.Bootstrap)
	if err != nil {
		return Config{}, fmt.Errorf("lambdarun: bootstrap: %w", err)
	}
	st, err := os.Stat(abs)
	if err != nil {
		return Config{}, fmt.Errorf("lambdarun: bootstrap: %w", err)
	}
	if st.IsDir() || st.Mode()&0o111 == 0 {
		return Config{}, fmt.Errorf("lambdarun: bootstrap %s is not an executable file", abs)
	}
	cfg.Bootstrap = abs
	for k := range cfg.Env {
		if reserved[k] {
			return Config{}, fmt.Errorf("lambdarun: %s is reserved: Lambda sets it", k)
		}
		if !validEnvName(k) {
			return Config{}, fmt.Errorf("lambdarun: invalid variable name %q", k)
		}
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.InitTimeout <= 0 {
		cfg.InitTimeout = DefaultInitTimeout
	}
	if cfg.MemoryMB <= 0 {
		cfg.MemoryMB = DefaultMemoryMB
	}
	if cfg.Region == "" {
		cfg.Region = DefaultRegion
	}
	return cfg, nil
}

// Config returns the container's configuration with defaults applied.
func (c *Container) Config() Config { return c.cfg }

// Invoke hands payload to the function and waits for its answer, starting the
// process first when none is warm. Function failures (errors, panics,
// timeouts, crashes, init errors) are reported in Result.Error; the returned
// error is only for failures of the runner itself or a cancelled ctx.
func (c *Container) Invoke(ctx context.Context, payload []byte) (*Result, error) {
	if len(payload) > MaxPayloadBytes {
		return nil, fmt.Errorf("lambdarun: event is %d bytes, over the %d byte limit", len(payload), MaxPayloadBytes)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil, errors.New("lambdarun: container closed")
	}
	res := &Result{RequestID: NewRequestID()}
	if c.proc != nil {
		select {
		case <-c.proc.exited:
			// The warm process died while idle (killed, out of memory);
			// Lambda would give the next event a fresh environment.
			c.stop()
		default:
		}
	}
	if c.proc == nil {
		if err := c.start(); err != nil {
			return nil, err
		}
		res.Cold = true
	}
	sb, proc := c.sb, c.proc
	inv := &invocation{
		id:         res.RequestID,
		payload:    payload,
		arn:        fmt.Sprintf("arn:aws:lambda:%s:%s:function:%s", c.cfg.Region, accountID, c.cfg.Name),
		traceID:    newTraceID(),
		dispatched: make(chan struct{}),
		outcome:    make(chan outcome, 1),
		released:   make(chan struct{}),
	}
	defer func() { res.Logs = c.readLogs() }()

	// Hand the event over once the runtime asks for it.
	initTimer := time.NewTimer(c.cfg.InitTimeout)
	defer initTimer.Stop()
	select {
	case sb.pending <- inv:
		<-inv.dispatched
	case <-sb.initFailed:
		sb.mu.Lock()
		res.Error, res.InitError = sb.initErr, true
		sb.mu.Unlock()
		// The runtime exits after reporting; give it a moment, then make sure.
		select {
		case <-proc.exited:
		case <-time.After(time.Second):
		}
		c.stop()
		return res, nil
	case <-proc.exited:
		res.Error, res.InitError = c.exitError(res.RequestID, proc), true
		c.stop()
		return res, nil
	case <-initTimer.C:
		res.Error = &FunctionError{Type: "Runtime.InitTimeout", Message: fmt.Sprintf("init did not finish within %s", c.cfg.InitTimeout)}
		res.InitError, res.TimedOut = true, true
		c.stop()
		return res, nil
	case <-ctx.Done():
		c.stop()
		return nil, ctx.Err()
	}
	if res.Cold {
		sb.mu.Lock()
		res.InitDuration = sb.firstNext.Sub(proc.started)
		sb.mu.Unlock()
	}

	start := time.Now()
	deadline := time.NewTimer(time.Until(inv.deadline))
	defer deadline.Stop()
	select {
	case o := <-inv.outcome:
		res.Duration = o.at.Sub(start)
		res.Payload, res.Error = o.payload, o.err
		if res.Error != nil {
			res.Payload = nil
		}
		if res.Cold {
			res.ColdStart = o.at.Sub(proc.started)
		}
		res.MaxMemoryMB = peakMemoryMB(proc.cmd.Process.Pid)
		if proc.overLimit(res.MaxMemoryMB, c.cfg.MemoryMB) {
			// It answered, but went over its memory between two checks:
			// Lambda would have killed it, so the answer does not count.
			res.Payload, res.Error = nil, c.exitError(res.RequestID, proc)
			res.MaxMemoryMB = proc.peakMB
			c.stop()
			return res, nil
		}
	case <-proc.exited:
		res.Duration = time.Since(start)
		res.Error = c.exitError(res.RequestID, proc)
		if res.Error.Type == "Runtime.OutOfMemory" {
			res.MaxMemoryMB = proc.peakMB
		}
		c.stop()
		return res, nil
	case <-deadline.C:
		res.Duration = time.Since(start)
		res.TimedOut = true
		res.Error = &FunctionError{Type: "Sandbox.Timedout",
			Message: fmt.Sprintf("RequestId: %s Error: Task timed out after %.2f seconds", res.RequestID, c.cfg.Timeout.Seconds())}
		c.stop()
		return res, nil
	case <-ctx.Done():
		c.stop()
		return nil, ctx.Err()
	}

	// The invocation ends when the runtime asks for the next event; a
	// runtime that exits instead (aws-lambda-go does after a panic) is
	// restarted cold next time, and one that hangs is stopped at the deadline.
	select {
	case <-inv.released:
	case <-proc.exited:
		c.stop()
	case <-deadline.C:
		c.stop()
	case <-ctx.Done():
		c.stop()
	}
	return res, nil
}

// exitError describes a process that exited without answering, or was
// killed for going over its memory size.
func (c *Container) exitError(requestID string, proc *process) *FunctionError {
	<-proc.exited
	select {
	case <-proc.oom:
		return &FunctionError{Type: "Runtime.OutOfMemory", Message: fmt.Sprintf(
			"RequestId: %s Error: Runtime exited with error: signal: killed (max memory used %d MB, memory size %d MB)", requestID, proc.peakMB, c.cfg.MemoryMB)}
	default:
	}
	status := "exit status 0"
	if proc.waitErr != nil {
		status = proc.waitErr.Error()
	}
	return &FunctionError{Type: "Runtime.ExitError", Message: fmt.Sprintf("RequestId: %s Error: Runtime exited with error: %s", requestID, status)}
}

// start launches a new process with its own Runtime API server.
func (c *Container) start() error {
	sb, err := newSandbox(c.cfg.Timeout)
	if err != nil {
		return err
	}
	stream := time.Now().UTC().Format("2006/01/02") + "/[$LATEST]" + NewRequestID()[:32]
	cmd := exec.Command(c.cfg.Bootstrap)
	cmd.Dir = filepath.Dir(c.cfg.Bootstrap)
	cmd.Env = c.cfg.Environ(sb.addr(), stream)
	cmd.SysProcAttr = sysProcAttr()
	cmd.Stdout, cmd.Stderr = c.logFile, c.logFile
	proc := &process{cmd: cmd, exited: make(chan struct{}), oom: make(chan struct{})}
	proc.started = time.Now()
	if err := cmd.Start(); err != nil {
		sb.close()
		return fmt.Errorf("lambdarun: start %s: %w", c.cfg.Bootstrap, err)
	}
	go func() {
		proc.waitErr = cmd.Wait()
		close(proc.exited)
	}()
	go proc.watchMemory(c.cfg.MemoryMB)
	c.sb, c.proc = sb, proc
	return nil
}

// stop kills the process, waits for it and closes its Runtime API server.
func (c *Container) stop() {
	if c.proc != nil {
		select {
		case <-c.proc.exited:
		default:
			killProcess(c.proc.cmd)
			<-c.proc.exited
		}
	}
	if c.sb != nil {
		c.sb.close()
	}
	c.proc, c.sb = nil, nil
}

// readLogs returns what was logged since the last call.
func (c *Container) readLogs() []byte {
	st, err := c.logFile.Stat()
	if err != nil || st.Size() <= c.logOffset {
		return nil
	}
	buf := make([]byte, st.Size()-c.logOffset)
	n, _ := c.logFile.ReadAt(buf, c.logOffset)
	c.logOffset += int64(n)
	return buf[:n]
}

// Stop ends the warm process, if any; the next Invoke starts cold.
func (c *Container) Stop() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.stop()
}

// Close stops the process and removes the container's files.
func (c *Container) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil
	}
	c.closed = true
	c.stop()
	err := c.logFile.Close()
	os.RemoveAll(c.logDir)
	return err
}

// NewRequestID is a random UUID in Lambda's request-id form.
func NewRequestID() string {
	var b [16]byte
	rand.Read(b[:])
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

func newTraceID() string {
	var b [20]byte
	rand.Read(b[:])
	h := hex.EncodeToString(b[:])
	return fmt.Sprintf("Root=1-%08x-%s;Parent=%s;Sampled=0", time.Now().Unix(), h[:24], h[24:40])
}
