package channel

import (
	"syscall"
	"testing"
	"time"
)

// cpuTime is this process's user+system CPU time. On the shared build machine
// wall-clock ns/op swings with other load; CPU ns/op is steadier.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// benchTouches is a mix shaped like the demo's event stream: mostly page views
// with referrers or UTMs, some server-side track calls and till orders.
func benchTouches() []Touch {
	own := []string{"bakery.example"}
	return []Touch{
		{Type: "page", PageURL: "https://bakery.example/", Referrer: "https://www.google.com/", OwnHosts: own},
		{Type: "page", PageURL: "https://bakery.example/cakes?gclid=Cj0KCQiA5rGuBhCnARIsAN11vgRk", Referrer: "https://www.google.com/", OwnHosts: own},
		{Type: "page", PageURL: "https://bakery.example/?utm_source=ig&utm_medium=paid_social&utm_campaign=croissant_week", Referrer: "https://l.instagram.com/", OwnHosts: own},
		{Type: "page", PageURL: "https://bakery.example/?utm_source=newsletter&utm_medium=email&utm_campaign=weekly_2026_11", OwnHosts: own},
		{Type: "page", PageURL: "https://bakery.example/menu", Referrer: "https://bakery.example/", OwnHosts: own},
		{Type: "page", PageURL: "https://bakery.example/", OwnHosts: own},
		{Type: "page", PageURL: "https://bakery.example/", Referrer: "https://l.facebook.com/", OwnHosts: own},
		{Type: "page", PageURL: "https://bakery.example/blog", Referrer: "https://www.localpaper.example/food/best-bakeries", OwnHosts: own},
		{Type: "page", PageURL: "https://bakery.example/?utm_source=google&utm_medium=cpc&utm_campaign=Shopping%20-%20Cakes", OwnHosts: own},
		{Type: "page", PageURL: "https://bakery.example/?utm_source=awin&utm_medium=affiliate", OwnHosts: own},
		{Type: "track", Event: "Order Completed", Location: "store", Hint: "pos"},
		{Type: "track", Event: "Order Completed", Location: "web"},
		{Type: "track", Event: "Email Link Clicked", Campaign: "Welcome"},
		{Type: "page", Source: "google", Medium: "cpc", Campaign: "Brand", PageURL: "https://bakery.example/", OwnHosts: own},
		{Type: "page", PageURL: "https://bakery.example/?utm_source=partner&utm_medium=sponsorship", OwnHosts: own},
		{Type: "page", PageURL: "https://bakery.example/", Referrer: "https://duckduckgo.com/", OwnHosts: own},
	}
}

func BenchmarkClassify(b *testing.B) {
	touches := benchTouches()
	r := Default()
	b.ReportAllocs()
	b.ResetTimer()
	start := cpuTime()
	for i := 0; i < b.N; i++ {
		r.Classify(touches[i%len(touches)])
	}
	reportCPU(b, start)
}

// reportCPU adds CPU ns/op and touches per CPU-second since start.
func reportCPU(b *testing.B, start time.Duration) {
	cpu := cpuTime() - start
	if cpu <= 0 {
		return
	}
	b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N), "cpu-ns/op")
	b.ReportMetric(float64(b.N)/cpu.Seconds(), "touches/cpu-s")
}

func BenchmarkClassifyParallel(b *testing.B) {
	touches := benchTouches()
	r := Default()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			r.Classify(touches[i%len(touches)])
			i++
		}
	})
}

func BenchmarkFromSegmentClassify(b *testing.B) {
	raw := []byte(`{"type":"page","messageId":"m-1","anonymousId":"a-1","timestamp":"2026-11-22T10:00:00Z",
		"properties":{"path":"/","title":"Bakery","url":"https://bakery.example/?utm_source=ig&utm_medium=paid_social&utm_campaign=croissant_week"},
		"context":{"library":{"name":"analytics.js","version":"4"},"page":{"url":"https://bakery.example/?utm_source=ig&utm_medium=paid_social&utm_campaign=croissant_week","referrer":"https://l.instagram.com/"},
		"userAgent":"Mozilla/5.0","ip":"203.0.113.9"}}`)
	r := Default()
	b.ReportAllocs()
	b.SetBytes(int64(len(raw)))
	start := cpuTime()
	for i := 0; i < b.N; i++ {
		r.Classify(FromSegment(raw))
	}
	reportCPU(b, start)
}

func BenchmarkFromSegment(b *testing.B) {
	raw := []byte(`{"type":"track","event":"Order Completed","userId":"u-1","properties":{"order_id":"o-1","total":23.5,"currency":"EUR","channel":"pos","location":"store","products":[{"sku":"croissant","price":2.5,"quantity":3},{"sku":"loaf","price":4,"quantity":1}]},"context":{"library":{"name":"omniroi-till","version":"1"}}}`)
	b.ReportAllocs()
	b.SetBytes(int64(len(raw)))
	start := cpuTime()
	for i := 0; i < b.N; i++ {
		FromSegment(raw)
	}
	reportCPU(b, start)
}

func BenchmarkParseDefault(b *testing.B) {
	for i := 0; i < b.N; i++ {
		if _, err := parse(defaultYAML, nil); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkFromSegmentStd is the encoding/json reference, for comparison.
func BenchmarkFromSegmentStd(b *testing.B) {
	raw := []byte(segmentSeeds[0])
	b.ReportAllocs()
	start := cpuTime()
	for i := 0; i < b.N; i++ {
		fromSegmentStd(raw)
	}
	reportCPU(b, start)
}

func BenchmarkFromSegmentScanner(b *testing.B) {
	raw := []byte(segmentSeeds[0])
	b.ReportAllocs()
	start := cpuTime()
	for i := 0; i < b.N; i++ {
		FromSegment(raw)
	}
	reportCPU(b, start)
}
