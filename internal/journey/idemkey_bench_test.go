package journey

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"testing"

	"github.com/omniroi/omniroi/internal/store"
	"github.com/omniroi/omniroi/internal/store/storetest"
)

// BenchmarkIdemKeyIndex: what a unique index on send keys costs with fully random keys and
// with NewIdemKey's time-prefixed ones. 200,000 keys in 200 committed batches, as the outbox
// queues them:
//
//	go test -run XXX -bench IdemKeyIndex -benchtime 1x ./internal/journey/
func BenchmarkIdemKeyIndex(b *testing.B) {
	random := func() string {
		var k [16]byte
		rand.Read(k[:])
		return hex.EncodeToString(k[:])
	}
	for _, c := range []struct {
		name string
		key  func() string
	}{{"random", random}, {"time-prefixed", NewIdemKey}} {
		b.Run(c.name, func(b *testing.B) {
			for range b.N {
				b.StopTimer()
				db := storetest.SQLite(b)
				ctx := context.Background()
				if _, err := db.Exec(ctx, `CREATE TABLE bench_keys (id INTEGER PRIMARY KEY, k TEXT NOT NULL UNIQUE)`); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
				for range 200 {
					err := db.Write(ctx, func(tx *store.Tx) error {
						for range 1000 {
							if _, err := tx.Exec(ctx, `INSERT INTO bench_keys (k) VALUES (?)`, c.key()); err != nil {
								return err
							}
						}
						return nil
					})
					if err != nil {
						b.Fatal(err)
					}
				}
				b.StopTimer()
				var pages int64
				if err := db.QueryRow(ctx, `SELECT COUNT(*) FROM dbstat WHERE name = 'sqlite_autoindex_bench_keys_1'`).Scan(&pages); err != nil {
					b.Logf("dbstat: %v", err)
				}
				b.ReportMetric(float64(pages), "index-pages")
				b.StartTimer()
			}
		})
	}
}
