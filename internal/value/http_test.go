package value

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/omniroi/omniroi/internal/store"
	"github.com/omniroi/omniroi/internal/store/storetest"
)

func getJSON(t *testing.T, h http.Handler, path string, wantCode int, v any) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
	if rec.Code != wantCode {
		t.Fatalf("GET %s: %d, want %d: %s", path, rec.Code, wantCode, rec.Body)
	}
	if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
		t.Fatalf("GET %s: content type %q", path, ct)
	}
	if v != nil {
		if err := json.Unmarshal(rec.Body.Bytes(), v); err != nil {
			t.Fatalf("GET %s: %v: %s", path, err, rec.Body)
		}
	}
}

type clvResponse struct {
	AsOf       string `json:"as_of"`
	Currency   string `json:"currency"`
	Customers  int    `json:"customers"`
	ChurnBands []struct {
		Band      string  `json:"band"`
		Customers int     `json:"customers"`
		Realised  float64 `json:"realised_revenue"`
		Predicted float64 `json:"predicted_clv"`
	} `json:"churn_bands"`
	Top []struct {
		ID        string  `json:"id"`
		CLV       float64 `json:"clv"`
		ChurnBand string  `json:"churn_band"`
	} `json:"top_customers"`
	Models struct {
		Pareto *struct{ R float64 } `json:"pareto_nbd"`
	} `json:"models"`
	Cache apiCache `json:"cache"`
}

func TestHTTPHandler(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		svc := NewService(db)
		h := svc.Handler()
		getJSON(t, h, "/api/v1/clv", http.StatusNotFound, nil) // no orders yet

		orders := seedStore(t, db, 300, 1)
		// Concurrent first hits share one build.
		var wg sync.WaitGroup
		for range 4 {
			wg.Go(func() { getJSON(t, h, "/api/v1/segments", http.StatusOK, nil) })
		}
		wg.Wait()
		if n := svc.builds.Load(); n != 1 {
			t.Fatalf("%d builds for concurrent first requests", n)
		}

		var c clvResponse
		getJSON(t, h, "/api/v1/clv?limit=20", http.StatusOK, &c)
		if c.Currency != "EUR" || c.Customers != 300 || len(c.Top) != 20 || c.Models.Pareto == nil || c.Cache.Orders != int64(orders) || c.Cache.Build != 1 {
			t.Fatalf("clv: %+v", c)
		}
		n := 0
		for _, b := range c.ChurnBands {
			n += b.Customers
		}
		if n != 300 {
			t.Fatalf("churn bands cover %d customers", n)
		}
		for i := 1; i < len(c.Top); i++ {
			if c.Top[i].CLV > c.Top[i-1].CLV {
				t.Fatalf("top customers not by CLV: %+v", c.Top)
			}
		}
		var lost clvResponse
		getJSON(t, h, "/api/v1/clv?band=lost&limit=1000", http.StatusOK, &lost)
		for _, x := range lost.Top {
			if x.ChurnBand != BandLost {
				t.Fatalf("band filter: %+v", x)
			}
		}
		getJSON(t, h, "/api/v1/clv?limit=0", http.StatusBadRequest, nil)
		getJSON(t, h, "/api/v1/clv?band=gone", http.StatusBadRequest, nil)

		var cu struct {
			CustomerID string                `json:"customer_id"`
			PAlive     float64               `json:"p_alive"`
			Expected   float64               `json:"expected_purchases"`
			CLV        float64               `json:"clv"`
			Band       string                `json:"churn_band"`
			Segment    string                `json:"segment"`
			Channel    string                `json:"acquisition_channel"`
			Realised   float64               `json:"realised_revenue"`
			RFM        struct{ R, F, M int } `json:"rfm"`
			Rank       int                   `json:"rank"`
			Details    struct{ CLV float64 } `json:"details"`
		}
		top := c.Top[0].ID
		getJSON(t, h, "/api/v1/customers/"+top+"/value", http.StatusOK, &cu)
		if cu.CustomerID != top || cu.Rank != 1 || cu.CLV != c.Top[0].CLV || cu.PAlive <= 0 || cu.PAlive > 1 || cu.Expected <= 0 ||
			cu.Segment == "" || cu.RFM.R < 1 || cu.Band == "" || cu.Realised <= 0 || cu.Channel == "" || cu.Details.CLV != cu.CLV {
			t.Fatalf("customer value: %+v", cu)
		}
		getJSON(t, h, "/api/v1/customers/99999/value", http.StatusNotFound, nil)
		getJSON(t, h, "/api/v1/customers/nobody@example.com/value", http.StatusNotFound, nil)

		var seg struct {
			Segments []struct {
				Segment   string `json:"segment"`
				Customers int    `json:"customers"`
			} `json:"segments"`
			ChurnBands  []any            `json:"churn_bands"`
			Transitions TransitionMatrix `json:"transitions"`
		}
		getJSON(t, h, "/api/v1/segments", http.StatusOK, &seg)
		n = 0
		for _, s := range seg.Segments {
			n += s.Customers
		}
		if len(seg.Segments) != len(DefaultSegmentRules) || n != 300 || len(seg.ChurnBands) != 4 || len(seg.Transitions.From) == 0 {
			t.Fatalf("segments: %+v", seg)
		}

		var coh struct {
			Cohorts   []struct{ Customers int } `json:"cohorts"`
			ByChannel []struct {
				Channel   string `json:"channel"`
				Customers int    `json:"customers"`
			} `json:"by_channel"`
		}
		getJSON(t, h, "/api/v1/cohorts", http.StatusOK, &coh)
		perChannel := map[string]int{}
		for _, x := range coh.ByChannel {
			perChannel[x.Channel] += x.Customers
		}
		if perChannel["In-store"] != 100 || perChannel["Paid Search"] != 100 || perChannel["Email"] != 100 {
			t.Fatalf("cohorts by channel: %v", perChannel)
		}

		var eco struct {
			Currency string `json:"currency"`
			Channels []struct {
				Channel      string  `json:"channel"`
				NewCustomers int     `json:"new_customers"`
				Spend        float64 `json:"spend"`
				CAC          float64 `json:"cac"`
				LTVToCAC     float64 `json:"ltv_cac"`
			} `json:"channels"`
		}
		getJSON(t, h, "/api/v1/economics", http.StatusOK, &eco)
		found := false
		for _, x := range eco.Channels {
			if x.Channel == "Paid Search" {
				found = true
				// 10.00 a day; the period runs from the first to the last order day.
				if x.NewCustomers != 100 || x.Spend < 3000 || x.Spend > 3650 || x.CAC != x.Spend/100 || x.LTVToCAC <= 0 {
					t.Fatalf("economics Paid Search: %+v", x)
				}
			}
		}
		if !found || eco.Currency != "EUR" {
			t.Fatalf("economics: %+v", eco)
		}
		getJSON(t, h, "/api/v1/economics?from=2025-13-01", http.StatusBadRequest, nil)
		getJSON(t, h, "/api/v1/economics?margin=2", http.StatusBadRequest, nil)

		// Cached: the same snapshot until an order arrives.
		getJSON(t, h, "/api/v1/clv", http.StatusOK, &c)
		if c.Cache.Build != 1 {
			t.Fatalf("rebuilt without new orders: %+v", c.Cache)
		}
		insertOrder(t, db, &seqGen{n: 1 << 30}, "late", 1, base.AddDate(0, 0, 364).Add(15*time.Hour), 2500, "EUR", "In-store")
		getJSON(t, h, "/api/v1/clv", http.StatusOK, &c)
		if c.Cache.Build != 2 || c.Cache.Orders != int64(orders)+1 {
			t.Fatalf("not rebuilt after a new order: %+v", c.Cache)
		}
		insertRefund(t, db, &seqGen{n: 1 << 31}, "late", 1, base.AddDate(0, 0, 364).Add(16*time.Hour), 0, "EUR", true)
		getJSON(t, h, "/api/v1/clv", http.StatusOK, &c)
		if c.Cache.Build != 3 {
			t.Fatalf("not rebuilt after a refund: %+v", c.Cache)
		}
		// With the processor's cursor set, an unchanged cursor skips the table scans;
		// a moved cursor with unchanged orders keeps the snapshot too.
		setSetting(t, db, "processor.cursor", "100")
		getJSON(t, h, "/api/v1/clv", http.StatusOK, &c)
		setSetting(t, db, "processor.cursor", "101")
		getJSON(t, h, "/api/v1/clv", http.StatusOK, &c)
		if c.Cache.Build != 3 {
			t.Fatalf("rebuilt for a cursor move without orders: %+v", c.Cache)
		}
		insertOrder(t, db, &seqGen{n: 1 << 32}, "later", 2, base.AddDate(0, 0, 364).Add(17*time.Hour), 900, "EUR", "In-store")
		getJSON(t, h, "/api/v1/clv", http.StatusOK, &c)
		if c.Cache.Build != 3 {
			t.Fatalf("cursor unchanged but rebuilt: %+v", c.Cache)
		}
		setSetting(t, db, "processor.cursor", "102")
		getJSON(t, h, "/api/v1/clv", http.StatusOK, &c)
		if c.Cache.Build != 4 || c.Cache.Orders != int64(orders)+2 {
			t.Fatalf("not rebuilt after the cursor moved over an order: %+v", c.Cache)
		}
	})
}
