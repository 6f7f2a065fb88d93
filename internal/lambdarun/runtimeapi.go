package lambdarun

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// Limits of the real service: a synchronous invocation's response may be at
// most 6 MiB + 100 bytes (what AWS's runtime interface emulator allows, and
// names in its error: 6291556 bytes), and an event 6 MiB.
const (
	MaxResponseBytes = 6*1024*1024 + 100
	MaxPayloadBytes  = 6 * 1024 * 1024
	maxErrorBytes    = 1 << 20
)

// Header names of the Lambda Runtime API.
const (
	HeaderRequestID   = "Lambda-Runtime-Aws-Request-Id"
	HeaderDeadlineMs  = "Lambda-Runtime-Deadline-Ms"
	HeaderFunctionArn = "Lambda-Runtime-Invoked-Function-Arn"
	HeaderTraceID     = "Lambda-Runtime-Trace-Id"
	headerErrorType   = "Lambda-Runtime-Function-Error-Type"
	headerErrorBody   = "Lambda-Runtime-Function-Error-Body"
)

// FunctionError is the error a function reported, or the one the runner
// reports for it (timeout, crash, init failure), shaped as Lambda returns it.
type FunctionError struct {
	Message    string          `json:"errorMessage"`
	Type       string          `json:"errorType"`
	StackTrace json.RawMessage `json:"stackTrace,omitempty"`
}

func (e *FunctionError) Error() string { return e.Type + ": " + e.Message }

// invocation is one event handed to the runtime.
type invocation struct {
	id       string
	payload  []byte
	arn      string
	traceID  string
	deadline time.Time // set by the /next handler before dispatched is closed

	dispatched chan struct{} // closed when the runtime received the event
	outcome    chan outcome  // first response or error, buffered 1
	released   chan struct{} // closed when the runtime asks for the next event
	once       sync.Once
	answered   bool // guarded by sandbox.mu
}

type outcome struct {
	at      time.Time
	payload []byte
	err     *FunctionError
}

// sandbox is one bootstrap process and the Runtime API server it talks to.
// A fresh server per process means a dead process's lingering connections
// can never take the next process's events.
type sandbox struct {
	ln      net.Listener
	srv     *http.Server
	timeout time.Duration

	pending chan *invocation // unbuffered: the /next handler takes from it
	closed  chan struct{}

	mu         sync.Mutex
	current    *invocation
	firstNext  time.Time
	initErr    *FunctionError
	initFailed chan struct{}
}

func newSandbox(timeout time.Duration) (*sandbox, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("runtime api listen: %w", err)
	}
	sb := &sandbox{
		ln:         ln,
		timeout:    timeout,
		pending:    make(chan *invocation),
		closed:     make(chan struct{}),
		initFailed: make(chan struct{}),
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /2018-06-01/runtime/invocation/next", sb.next)
	mux.HandleFunc("POST /2018-06-01/runtime/invocation/{id}/response", sb.response)
	mux.HandleFunc("POST /2018-06-01/runtime/invocation/{id}/error", sb.invocationError)
	mux.HandleFunc("POST /2018-06-01/runtime/init/error", sb.initError)
	sb.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go sb.srv.Serve(ln) //nolint:errcheck // returns ErrServerClosed on close
	return sb, nil
}

func (sb *sandbox) addr() string { return sb.ln.Addr().String() }

func (sb *sandbox) close() {
	sb.mu.Lock()
	select {
	case <-sb.closed:
	default:
		close(sb.closed)
	}
	sb.mu.Unlock()
	sb.srv.Close()
}

// next blocks until there is an event. Its arrival also ends the previous
// invocation, as in Lambda: the runtime is done once it asks for more work.
func (sb *sandbox) next(w http.ResponseWriter, r *http.Request) {
	sb.mu.Lock()
	if sb.firstNext.IsZero() {
		sb.firstNext = time.Now()
	}
	if cur := sb.current; cur != nil {
		sb.current = nil
		if !cur.answered {
			// Asking for more work without answering is a runtime bug;
			// Lambda reports it as a failed invocation.
			cur.answered = true
			cur.deliver(outcome{at: time.Now(), err: &FunctionError{Type: "Runtime.InvalidState", Message: "runtime asked for the next event before answering " + cur.id}})
		}
		close(cur.released)
	}
	sb.mu.Unlock()

	select {
	case inv := <-sb.pending:
		inv.deadline = time.Now().Add(sb.timeout)
		sb.mu.Lock()
		sb.current = inv
		sb.mu.Unlock()
		h := w.Header()
		h.Set(HeaderRequestID, inv.id)
		h.Set(HeaderDeadlineMs, strconv.FormatInt(inv.deadline.UnixMilli(), 10))
		h.Set(HeaderFunctionArn, inv.arn)
		h.Set(HeaderTraceID, inv.traceID)
		h.Set("Content-Type", "application/json")
		close(inv.dispatched)
		w.WriteHeader(http.StatusOK)
		w.Write(inv.payload) //nolint:errcheck // a dead runtime is noticed by its exit
	case <-r.Context().Done():
	case <-sb.closed:
	}
}

// take returns the invocation that id names if it still awaits its answer.
func (sb *sandbox) take(id string) *invocation {
	sb.mu.Lock()
	defer sb.mu.Unlock()
	cur := sb.current
	if cur == nil || cur.id != id || cur.answered {
		return nil
	}
	cur.answered = true
	return cur
}

func (sb *sandbox) response(w http.ResponseWriter, r *http.Request) {
	inv := sb.take(r.PathValue("id"))
	if inv == nil {
		apiError(w, http.StatusBadRequest, "InvalidRequestID", "no invocation awaits an answer with this request id")
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, MaxResponseBytes+1))
	now := time.Now()
	switch {
	case err != nil:
		inv.deliver(outcome{at: now, err: &FunctionError{Type: "Runtime.ResponseReadError", Message: err.Error()}})
		apiError(w, http.StatusBadRequest, "ResponseReadError", "could not read the response body")
		return
	case len(body) > MaxResponseBytes:
		io.Copy(io.Discard, r.Body) //nolint:errcheck // draining only
		inv.deliver(outcome{at: now, err: &FunctionError{Type: "Function.ResponseSizeTooLarge",
			Message: fmt.Sprintf("Response payload size exceeded maximum allowed payload size (%d bytes).", MaxResponseBytes)}})
		apiError(w, http.StatusRequestEntityTooLarge, "RequestEntityTooLarge", "response is larger than the limit")
		return
	}
	// aws-lambda-go streams the response and, when producing it fails half
	// way, says so in trailers rather than in the status line.
	if typ := r.Trailer.Get(headerErrorType); typ != "" {
		fe := &FunctionError{Type: typ, Message: "the function failed while streaming its response"}
		if raw, err := base64.StdEncoding.DecodeString(r.Trailer.Get(headerErrorBody)); err == nil {
			json.Unmarshal(raw, fe) //nolint:errcheck // keep the generic message
		}
		inv.deliver(outcome{at: now, err: fe})
	} else {
		inv.deliver(outcome{at: now, payload: body})
	}
	accepted(w)
}

func (sb *sandbox) invocationError(w http.ResponseWriter, r *http.Request) {
	inv := sb.take(r.PathValue("id"))
	if inv == nil {
		apiError(w, http.StatusBadRequest, "InvalidRequestID", "no invocation awaits an answer with this request id")
		return
	}
	inv.deliver(outcome{at: time.Now(), err: readFunctionError(r, "Unhandled")})
	accepted(w)
}

func (sb *sandbox) initError(w http.ResponseWriter, r *http.Request) {
	fe := readFunctionError(r, "Runtime.InitError")
	sb.mu.Lock()
	defer sb.mu.Unlock()
	if !sb.firstNext.IsZero() || sb.initErr != nil {
		apiError(w, http.StatusForbidden, "InvalidStateTransition", "init error reported after init")
		return
	}
	sb.initErr = fe
	close(sb.initFailed)
	accepted(w)
}

// readFunctionError decodes an error body; a body that is not the documented
// JSON is kept as the message so that nothing the function said is lost.
func readFunctionError(r *http.Request, defaultType string) *FunctionError {
	body, _ := io.ReadAll(io.LimitReader(r.Body, maxErrorBytes))
	fe := &FunctionError{}
	if err := json.Unmarshal(body, fe); err != nil || (fe.Message == "" && fe.Type == "") {
		fe = &FunctionError{Message: string(body)}
	}
	if fe.Type == "" {
		fe.Type = r.Header.Get(headerErrorType)
	}
	if fe.Type == "" {
		fe.Type = defaultType
	}
	return fe
}

func (inv *invocation) deliver(o outcome) {
	inv.once.Do(func() { inv.outcome <- o })
}

func accepted(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusAccepted)
	io.WriteString(w, `{"status":"OK"}`) //nolint:errcheck // best effort
}

func apiError(w http.ResponseWriter, code int, typ, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(map[string]string{"errorType": typ, "errorMessage": msg}) //nolint:errcheck // best effort
}
