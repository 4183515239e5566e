package recommend_test

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"sort"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/omniroi/omniroi/internal/catalog"
	"github.com/omniroi/omniroi/internal/identity/identitytest"
	"github.com/omniroi/omniroi/internal/recommend"
	"github.com/omniroi/omniroi/internal/store"
	"github.com/omniroi/omniroi/internal/store/storetest"
)

// benchShop is a small shop's size: 1,000 products in 20 categories, 4,000 customers with
// 3 orders of 1–5 products each (taste: one favourite category), 20,000 product views.
func benchShop(b *testing.B, db *store.DB) []string {
	ctx := context.Background()
	r := rand.New(rand.NewPCG(1, 2))
	var ps []catalog.Product
	for i := 0; i < 1000; i++ {
		ps = append(ps, catalog.Product{ID: fmt.Sprintf("p%04d", i), Title: fmt.Sprintf("Product %d", i), Category: fmt.Sprintf("c%02d", i%20),
			PriceMinor: int64(200 + i), URL: fmt.Sprintf("https://shop.example/p/%d", i), Origin: "bench"})
	}
	if err := db.Write(ctx, func(tx *store.Tx) error { _, _, err := catalog.Upsert(ctx, tx, ps, time.Now()); return err }); err != nil {
		b.Fatal(err)
	}
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var evs []any
	var anons []string
	pick := func(fav int) string {
		if r.Float64() < 0.7 {
			return fmt.Sprintf("p%04d", fav+20*r.IntN(50))
		}
		return fmt.Sprintf("p%04d", r.IntN(1000))
	}
	for c := 0; c < 4000; c++ {
		fav := r.IntN(20)
		anon := fmt.Sprintf("anon-%d", c)
		anons = append(anons, anon)
		for o := 0; o < 3; o++ {
			var items []map[string]any
			for k := 0; k < 1+r.IntN(5); k++ {
				items = append(items, map[string]any{"product_id": pick(fav), "price": 3})
			}
			evs = append(evs, map[string]any{"type": "track", "event": "Order Completed", "userId": fmt.Sprintf("u%d", c), "anonymousId": anon,
				"timestamp":  t0.Add(time.Duration(c*3+o) * time.Minute).Format(time.RFC3339),
				"properties": map[string]any{"order_id": fmt.Sprintf("o%d-%d", c, o), "revenue": 10, "products": items}})
		}
		for v := 0; v < 5; v++ {
			evs = append(evs, map[string]any{"type": "track", "event": "Product Viewed", "anonymousId": anon,
				"timestamp": t0.Add(time.Duration(c*3) * time.Minute).Format(time.RFC3339), "properties": map[string]any{"product_id": pick(fav)}})
		}
	}
	identitytest.Load(b, db, "shop", t0.Add(30*24*time.Hour), evs...)
	return anons
}

// BenchmarkRecommendationsAPI sends GET /v1/recommendations at a fixed 1,000 requests/s
// (open loop: latency counts from when a request was due, so queueing is included) over
// loopback HTTP for 10 s and reports the latency percentiles. "mixed" asks for the home
// page of a known browser or the product page of a random product, as a shop's traffic
// does; "distinct" never repeats a request, so nothing comes from the response cache.
// Run: go test -run XXX -bench RecommendationsAPI -benchtime 1x ./internal/recommend/
func BenchmarkRecommendationsAPI(b *testing.B) {
	db := storetest.SQLite(b)
	anons := benchShop(b, db)
	ctx := context.Background()
	_, key, err := db.CreateSourceKind(ctx, "web", store.KindClient)
	if err != nil {
		b.Fatal(err)
	}
	svc := recommend.NewService(db, nil)
	t0 := time.Now()
	m, err := svc.Model(ctx)
	if err != nil {
		b.Fatal(err)
	}
	b.Logf("model built in %v (%+v)", time.Since(t0), m.Stats())
	mux := http.NewServeMux()
	recommend.NewHandler(svc, recommend.HandlerOptions{}).Register(mux)
	srv := httptest.NewServer(mux)
	defer srv.Close()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 256, MaxConnsPerHost: 256}}
	for _, mode := range []string{"mixed", "distinct"} {
		b.Run(mode, func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				r := rand.New(rand.NewPCG(uint64(i), 7))
				const rate, dur = 1000, 10 * time.Second
				n := int(dur.Seconds() * rate)
				lat := make([]time.Duration, n)
				fails := 0
				var mu sync.Mutex
				var wg sync.WaitGroup
				cpu0 := cpuTime()
				start := time.Now()
				for k := 0; k < n; k++ {
					var path string
					switch {
					case mode == "distinct":
						path = fmt.Sprintf("/v1/recommendations?writeKey=%s&placement=home&anonymousId=%s&limit=%d", key, anons[k%len(anons)], 1+k/len(anons))
					case r.Float64() < 0.6:
						path = fmt.Sprintf("/v1/recommendations?writeKey=%s&placement=home&anonymousId=%s", key, anons[r.IntN(len(anons))])
					default:
						path = fmt.Sprintf("/v1/recommendations?writeKey=%s&placement=product&productId=p%04d", key, r.IntN(1000))
					}
					due := start.Add(time.Duration(k) * time.Second / rate)
					time.Sleep(time.Until(due))
					wg.Add(1)
					go func(k int, path string) {
						defer wg.Done()
						res, err := client.Get(srv.URL + path)
						if err == nil {
							io.Copy(io.Discard, res.Body)
							res.Body.Close()
						}
						d := time.Since(due)
						mu.Lock()
						lat[k] = d
						if err != nil || res.StatusCode != 200 {
							fails++
						}
						mu.Unlock()
					}(k, path)
				}
				wg.Wait()
				elapsed := time.Since(start)
				b.ReportMetric(float64((cpuTime()-cpu0).Microseconds())/float64(n), "cpu_us/req")
				sort.Slice(lat, func(a, c int) bool { return lat[a] < lat[c] })
				pct := func(p float64) float64 { return float64(lat[int(p*float64(n-1))].Microseconds()) / 1000 }
				b.ReportMetric(float64(n)/elapsed.Seconds(), "req/s")
				b.ReportMetric(pct(0.50), "p50_ms")
				b.ReportMetric(pct(0.99), "p99_ms")
				b.ReportMetric(pct(0.999), "p99.9_ms")
				b.ReportMetric(float64(fails), "failed")
			}
		})
	}
}

// cpuTime is the process's user+system CPU time (server and load generator together).
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkRecommend is the in-process cost of one list (no HTTP, no cache): a known
// customer's home page, and a product page, on the benchShop model.
// Run: go test -run XXX -bench 'Recommend$' ./internal/recommend/
func BenchmarkRecommend(b *testing.B) {
	db := storetest.SQLite(b)
	benchShop(b, db)
	m, err := recommend.BuildFromStore(context.Background(), db)
	if err != nil {
		b.Fatal(err)
	}
	var ids []int64
	rows, _ := db.Query(context.Background(), `SELECT id FROM customers ORDER BY id LIMIT 1000`)
	for rows.Next() {
		var id int64
		rows.Scan(&id)
		ids = append(ids, id)
	}
	rows.Close()
	b.Run("home", func(b *testing.B) {
		for i := 0; b.Loop(); i++ {
			m.Recommend(recommend.Request{CustomerID: ids[i%len(ids)], Placement: "home", Personalised: true})
		}
	})
	b.Run("product", func(b *testing.B) {
		for i := 0; b.Loop(); i++ {
			m.Recommend(recommend.Request{Placement: "product", Products: []string{fmt.Sprintf("p%04d", i%1000)}})
		}
	})
}
