package importer

import (
	"bufio"
	"context"
	"encoding/csv"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/omniroi/omniroi/internal/store"
	"github.com/omniroi/omniroi/internal/store/storetest"
	"github.com/omniroi/omniroi/internal/testenv"
)

// retailSlice returns the header and the first n data lines of the UCI Online Retail
// non-UK file.
func retailSlice(t *testing.T, n int) string {
	t.Helper()
	f, err := os.Open(filepath.Join(testenv.SharedDataset(t, "online-retail"), "online_retail_non_uk.csv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var b strings.Builder
	sc := bufio.NewScanner(f)
	for i := 0; i <= n && sc.Scan(); i++ {
		b.WriteString(sc.Text())
		b.WriteByte('\n')
	}
	return b.String()
}

func TestOnlineRetailPreset(t *testing.T) {
	t.Parallel()
	data := retailSlice(t, 3000)
	// Expected figures, worked out here from the raw rows: invoices, cancellations, and
	// the pence sold (prices in this file have at most two decimals).
	recs, err := csv.NewReader(strings.NewReader(data)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	orders, refunds := map[string]bool{}, map[string]bool{}
	var soldPence int64
	for _, r := range recs[1:] {
		q, _ := strconv.ParseInt(r[3], 10, 64)
		whole, frac, _ := strings.Cut(r[5], ".")
		frac = (frac + "00")[:2]
		pence, _ := strconv.ParseInt(whole+frac, 10, 64)
		if strings.HasPrefix(r[0], "C") {
			refunds[r[0]] = true
			continue
		}
		orders[r[0]] = true
		soldPence += q * pence
	}
	if len(refunds) == 0 || len(orders) < 50 {
		t.Fatalf("slice has %d orders and %d cancellations; pick a larger slice", len(orders), len(refunds))
	}
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		rep, err := Import(context.Background(), db, strings.NewReader(data), "online_retail.csv", Options{Kind: KindOrders, Preset: "online-retail"})
		if err != nil {
			t.Fatal(err)
		}
		wantReport(t, rep, len(recs)-1, len(orders)+len(refunds), 0, 0, 0)
		var completed, refunded int
		var total float64
		for _, e := range events(t, db) {
			switch e.Name {
			case "Order Completed":
				completed++
				total += dig(e.Body, "properties", "total").(float64)
				if dig(e.Body, "properties", "currency") != "GBP" {
					t.Fatalf("currency %v", dig(e.Body, "properties", "currency"))
				}
			case "Order Refunded":
				refunded++
				if v := dig(e.Body, "properties", "total").(float64); v <= 0 {
					t.Errorf("refund total %v", v)
				}
			}
		}
		if completed != len(orders) || refunded != len(refunds) {
			t.Errorf("%d completed, %d refunded; want %d and %d", completed, refunded, len(orders), len(refunds))
		}
		if got := int64(total*100 + 0.5); got != soldPence {
			t.Errorf("total sold %d pence, want %d", got, soldPence)
		}
		// One known basket: invoice 536370 (France, customer 12583) has 20 lines,
		// 3 × POSTAGE at 18.00 among them, which becomes shipping rather than a product.
		o := events(t, db)["import-order-536370"]
		if o.UserID != "12583" || dig(o.Body, "context", "location", "country") != "France" || o.TS != "2010-12-01T08:45:00Z" {
			t.Errorf("536370 = %+v", o)
		}
		if p, _ := dig(o.Body, "properties", "products").([]any); len(p) != 19 || dig(o.Body, "properties", "shipping") != 54.0 {
			t.Errorf("536370: %d products, shipping %v", len(p), dig(o.Body, "properties", "shipping"))
		}
		again, err := Import(context.Background(), db, strings.NewReader(data), "online_retail.csv", Options{Kind: KindOrders, Preset: "online-retail"})
		if err != nil || again.Imported != 0 || again.Duplicates != rep.Imported {
			t.Errorf("re-import: %v %+v", err, again)
		}
	})
}
