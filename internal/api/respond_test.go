package api_test

import (
	"encoding/json"
	"math"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/omniroi/omniroi/internal/api"
)

func TestWriteJSONEncodesBeforeStatus(t *testing.T) {
	t.Parallel()
	rec := httptest.NewRecorder()
	api.WriteJSON(rec, http.StatusOK, map[string]any{"clv": math.NaN()})
	var body struct {
		Error  string `json:"error"`
		Status int    `json:"status"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
		t.Fatalf("body is not one JSON value: %v: %q", err, rec.Body)
	}
	if rec.Code != http.StatusInternalServerError || body.Status != 500 || body.Error == "" {
		t.Errorf("NaN answered %d %+v, want a complete 500", rec.Code, body)
	}

	rec = httptest.NewRecorder()
	api.WriteJSON(rec, http.StatusCreated, map[string]int{"n": 1})
	if rec.Code != http.StatusCreated || rec.Body.String() != "{\n  \"n\": 1\n}\n" || rec.Header().Get("Content-Type") != "application/json" {
		t.Errorf("got %d %q %q", rec.Code, rec.Body, rec.Header().Get("Content-Type"))
	}
}
