package api

import (
	"bytes"
	"encoding/json"
	"net/http"
)

// The one way every /api/v1 route answers. A body is encoded in full before the status
// is written, so a value that cannot be encoded (a NaN from a degenerate fit) gives a
// complete 500 with an error body, never a 200 cut off half way.

// Encode renders v as an API body: indented JSON ending in a newline.
func Encode(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// ErrorBody is the encoded {"error": msg, "status": code} answer.
func ErrorBody(code int, msg string) []byte {
	b, err := Encode(map[string]any{"error": msg, "status": code})
	if err != nil { // a string and an int always encode
		panic(err)
	}
	return b
}

// WriteBody answers with a body made by Encode or ErrorBody (a cached answer, say).
func WriteBody(w http.ResponseWriter, code int, body []byte) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_, _ = w.Write(body)
}

// WriteJSON encodes v and answers with it and code; when v cannot be encoded it answers
// 500 with the reason instead.
func WriteJSON(w http.ResponseWriter, code int, v any) {
	b, err := Encode(v)
	if err != nil {
		code = http.StatusInternalServerError
		b = ErrorBody(code, "encode response: "+err.Error())
	}
	WriteBody(w, code, b)
}

// WriteError answers {"error": msg, "status": code}.
func WriteError(w http.ResponseWriter, code int, msg string) {
	WriteBody(w, code, ErrorBody(code, msg))
}
