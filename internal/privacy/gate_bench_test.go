package privacy

import (
	"context"
	"fmt"
	"syscall"
	"testing"
	"time"

	"github.com/omniroi/omniroi/internal/event"
	"github.com/omniroi/omniroi/internal/store"
	"github.com/omniroi/omniroi/internal/store/storetest"
)

// benchEvent is the collector benchmark's track event; %s adds a contact field (the gate
// reads it) and a consent signal.
const benchEvent = `{"type":"track","event":"Product Viewed","userId":"user-%d","anonymousId":"anon-5f0f3f8e-%d","messageId":"msg-%d","properties":{"product_id":"sku-1234","price":19.99,"currency":"EUR","category":"bread"%s},"context":{"ip":"203.0.113.7","userAgent":"Mozilla/5.0 (X11; Linux x86_64)","page":{"path":"/p/sourdough","url":"https://bakery.example/p/sourdough","referrer":"https://www.google.com/"},"campaign":{"source":"google","medium":"cpc","name":"spring"}%s}}`

// BenchmarkGate measures the gate's cost per event inside a collector transaction of
// 1,000 events (SQLite): with nobody erased; with 1,000 erased people (5,000 hashes) and
// events carrying ids only, or an email too; and with every event carrying a consent
// signal, half of them declining analytics (those are minimised).
func BenchmarkGate(b *testing.B) {
	for _, c := range []struct {
		name    string
		erased  int
		email   bool
		consent bool
	}{{"none-erased", 0, false, false}, {"1000-erased", 1000, false, false}, {"1000-erased+email", 1000, true, false}, {"1000-erased+email+consent", 1000, true, true}} {
		b.Run(c.name, func(b *testing.B) {
			db := storetest.SQLite(b)
			ctx := context.Background()
			if c.erased > 0 {
				err := db.Write(ctx, func(tx *store.Tx) error {
					key, err := loadKey(ctx, tx, true)
					if err != nil {
						return err
					}
					for i := 0; i < c.erased; i++ {
						for _, kv := range [][2]string{{"user_id", fmt.Sprint("erased-", i)}, {"anonymous_id", fmt.Sprint("anon-erased-", i)},
							{"email", fmt.Sprintf("erased%d@example.com", i)}, {"phone", fmt.Sprintf("+44770090%04d", i)}, {"anonymous_id", fmt.Sprint("anon2-erased-", i)}} {
							if _, err := tx.Exec(ctx, `INSERT INTO privacy_suppressions (hash, kind, erasure_id, created_at) VALUES (?, ?, ?, 0)`, hashID(key, kv[0], kv[1]), kv[0], i+1); err != nil {
								return err
							}
						}
					}
					return bumpVersion(ctx, tx)
				})
				if err != nil {
					b.Fatal(err)
				}
			}
			in := &event.Input{ReceivedAt: time.Now()}
			evs := make([]event.Event, 1000)
			n := 0
			var cpu time.Duration
			b.ReportAllocs()
			for b.Loop() {
				b.StopTimer()
				for i := range evs {
					n++
					cons, email := "", ""
					if c.email {
						email = fmt.Sprintf(`,"email":"shopper%d@example.com"`, n)
					}
					if c.consent {
						cons = fmt.Sprintf(`,"consent":{"categoryPreferences":{"Analytics":%v,"Advertising":false}}`, n%2 == 0)
					}
					ev, err := in.Normalize(fmt.Appendf(nil, benchEvent, n, n, n, email, cons))
					if err != nil {
						b.Fatal(err)
					}
					evs[i] = ev
				}
				b.StartTimer()
				c0 := cpuTime()
				err := db.Write(ctx, func(tx *store.Tx) error {
					out, _, err := Gate(ctx, tx, evs, No)
					if len(out) != len(evs) {
						return fmt.Errorf("dropped %d", len(evs)-len(out))
					}
					return err
				})
				cpu += cpuTime() - c0
				if err != nil {
					b.Fatal(err)
				}
			}
			// CPU time, not wall time: the machine is shared, and the gate's cost is CPU.
			b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N*len(evs)), "cpu-ns/event")
		})
	}
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
