package encompasstest

import (
	"encoding/json"
	"io"
	"net/http"
	"strconv"
)

// apiError is the Encompass REST error body.
type apiError struct {
	Summary   string `json:"summary"`
	Details   string `json:"details"`
	ErrorCode string `json:"errorCode"`
}

// throttleBody is the documented 429 body.
const throttleBody = `{"code":"100002","message":"Client has exceeded the concurrency limit or daily quota. Please retry after some time."}`

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	writeRaw(w, status, b)
}

func writeRaw(w http.ResponseWriter, status int, b []byte) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

func writeError(w http.ResponseWriter, status int, details, code string) {
	writeJSON(w, status, apiError{Summary: http.StatusText(status), Details: details, ErrorCode: code})
}

func writeThrottled(w http.ResponseWriter) {
	writeRaw(w, http.StatusTooManyRequests, []byte(throttleBody))
}

func badRequest(w http.ResponseWriter, details string) {
	writeError(w, http.StatusBadRequest, details, "EBS-912")
}

func notFound(w http.ResponseWriter, details string) {
	writeError(w, http.StatusNotFound, details, "EBS-404")
}

// intParam reads a non-negative integer query parameter.
func intParam(r *http.Request, name string, def int) (int, bool) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return def, true
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		return 0, false
	}
	return n, true
}

// readBody returns the request body; the middleware has already read and
// capped it.
func readBody(r *http.Request) ([]byte, error) {
	if r.Body == nil {
		return nil, nil
	}
	return io.ReadAll(r.Body)
}
