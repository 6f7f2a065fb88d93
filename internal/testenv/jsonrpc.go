package testenv

import (
	"encoding/json"
	"net/http"
)

// writeJSON answers an AWS JSON 1.1 request.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// writeAWSError answers with an AWS JSON 1.1 error the SDK decodes into its
// typed errors (by __type).
func writeAWSError(w http.ResponseWriter, status int, typ, msg string) {
	w.Header().Set("X-Amzn-ErrorType", typ)
	writeJSON(w, status, map[string]string{"__type": typ, "message": msg})
}
