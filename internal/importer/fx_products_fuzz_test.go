package importer

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/omniroi/omniroi/internal/commerce"
	"github.com/omniroi/omniroi/internal/money"
)

// Fuzz tests of the two importers that do not write events: exchange rates and the product
// catalogue. Both read the file without the database (parseFX, parseProducts), so the
// properties are checked on what would be written:
//
//   - a refused file says why; a refused row names a line of the file and a reason;
//   - every rate has two different valid currencies, a real day and a positive decimal that
//     ParseRate accepts again unchanged;
//   - every product has an id, a known availability, a valid currency and no negative price,
//     cost; its title and id are valid UTF-8; every stock row names its product;
//   - reading the same file twice gives the same result.

// fuzzLines counts the lines of a file as the readers see them (after gzip).
func fuzzLines(data []byte) int {
	br, err := decode(bytes.NewReader(data))
	if err != nil {
		return 0
	}
	var buf bytes.Buffer
	_, _ = buf.ReadFrom(br)
	return bytes.Count(buf.Bytes(), []byte("\n")) + 1
}

func checkRowErrors(t *testing.T, errs []RowError, lines int) {
	t.Helper()
	for _, e := range errs {
		if e.Line < 1 || e.Line > lines || strings.TrimSpace(e.Reason) == "" {
			t.Fatalf("row error %+v: want a line from 1 to %d and a reason", e, lines)
		}
	}
}

func FuzzImportFX(f *testing.F) {
	for _, name := range []string{"eurofxref-hist.csv", "eurofxref.csv", "rates-bad.csv", "rates-long.csv"} {
		b, err := os.ReadFile(filepath.Join("testdata", "fx", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b, "")
		f.Add(b, "USD")
	}
	f.Add([]byte("date,base,quote,rate\n2024-03-08,EUR,USD,1.0939\n2024-03-08,USD,USD,1\n"), "")
	f.Fuzz(func(t *testing.T, data []byte, base string) {
		opt := Options{Kind: KindFX, Currency: base, SkipBad: true}
		rates, rep, err := parseFX(context.Background(), bytes.NewReader(data), "rates.csv", opt)
		if err != nil {
			if err.Error() == "" {
				t.Fatal("a refused file gives an empty message")
			}
			return
		}
		checkRowErrors(t, rep.Errors, fuzzLines(data))
		for _, r := range rates {
			if _, err := time.Parse(time.DateOnly, r.Day); err != nil {
				t.Fatalf("rate with day %q", r.Day)
			}
			if r.Base == r.Quote {
				t.Fatalf("a rate of a currency to itself: %+v", r)
			}
			again, q, err := commerce.ParseRate(r.Base, r.Quote, r.Day, r.Rate)
			if err != nil || again != r || q.Sign() <= 0 {
				t.Fatalf("rate %+v does not read again as itself (%+v, %v, %v)", r, again, q, err)
			}
		}
		rates2, rep2, err := parseFX(context.Background(), bytes.NewReader(data), "rates.csv", opt)
		if err != nil || len(rates2) != len(rates) || rep2.Rejected != rep.Rejected {
			t.Fatalf("a second reading differs: %d rates, %d rejected, then %d, %d, %v", len(rates), rep.Rejected, len(rates2), rep2.Rejected, err)
		}
	})
}

func FuzzImportProducts(f *testing.F) {
	f.Add([]byte(shopifyProductsCSV), "products_export.csv", uint8(0))
	f.Add([]byte("id\ttitle\tlink\tavailability\tprice\tsale_price\tproduct_type\titem_group_id\tcost_of_goods_sold\n"+
		"BOX-6\tPastry box\thttps://crumb.example/box\tin stock\t18.00 EUR\t\tBoxes\t\t7.20 EUR\n"+
		"TIN-S\tCookie tin\t\tout of stock\t14.50 EUR\t12.00 EUR\tGifts\tTIN\t\n"), "feed.tsv", uint8(1))
	f.Add([]byte(`<?xml version="1.0"?><rss xmlns:g="http://base.google.com/ns/1.0" version="2.0"><channel>`+
		`<item><g:id>RYE-1</g:id><g:title>Rye</g:title><g:availability>in_stock</g:availability><g:price>4.80 EUR</g:price></item>`+
		`<item><g:id>BAD</g:id><g:availability>maybe</g:availability></item></channel></rss>`), "feed.xml", uint8(2))
	f.Add([]byte("Handle,Title,Variant SKU,Location,Available\nloaf,Loaf,L-1,Shop,5\nloaf,Loaf,L-1,Market,-3\n"), "inventory_export.csv", uint8(0))
	presets := []string{"", PresetShopify, PresetGoogleMerchant}
	f.Fuzz(func(t *testing.T, data []byte, name string, mode uint8) {
		if name == "" || strings.ContainsAny(name, "/\\\x00") {
			name = "products.csv"
		}
		opt := Options{Kind: KindProducts, Preset: presets[int(mode)%len(presets)], SkipBad: true, RejectedPath: ""}
		run := func() (*productSink, Report, error) {
			var rep Report
			// "stdin" keeps the reader from writing a rejected-rows file beside the input.
			sink, _, err := parseProducts(context.Background(), bytes.NewReader(data), "stdin", withFormat(opt, name), "EUR", "https://shop.example", &rep)
			return sink, rep, err
		}
		sink, rep, err := run()
		if err != nil {
			if err.Error() == "" {
				t.Fatal("a refused file gives an empty message")
			}
			return
		}
		checkRowErrors(t, rep.Errors, fuzzLines(data))
		for _, id := range sink.order {
			p := sink.products[id]
			if p.ID == "" || p.ID != id || !utf8.ValidString(p.ID) || !utf8.ValidString(p.Title) {
				t.Fatalf("product without a clean id or title: %+v", p)
			}
			if c, err := money.NormalizeCurrency(p.Currency); err != nil || c != p.Currency {
				t.Fatalf("product %q with currency %q", p.ID, p.Currency)
			}
			if p.PriceMinor < 0 || p.CostMinor < 0 {
				t.Fatalf("product %q with a negative price or cost: %+v", p.ID, p)
			}
			switch p.Availability {
			case "in_stock", "out_of_stock", "preorder", "backorder":
			default:
				t.Fatalf("product %q with availability %q", p.ID, p.Availability)
			}
		}
		for _, s := range sink.stock {
			if s.ProductID == "" {
				t.Fatalf("stock row without a product: %+v", s)
			}
		}
		sink2, rep2, err := run()
		if err != nil || len(sink2.order) != len(sink.order) || rep2.Rejected != rep.Rejected || len(sink2.stock) != len(sink.stock) {
			t.Fatalf("a second reading differs: %d products, %d rejected, then %d, %d, %v", len(sink.order), rep.Rejected, len(sink2.order), rep2.Rejected, err)
		}
	})
}

// withFormat gives the format the file name would: the fuzzed name stands for the upload's.
func withFormat(opt Options, name string) Options {
	lower := strings.ToLower(name)
	if strings.HasSuffix(lower, ".xml") || strings.HasSuffix(lower, ".rss") {
		opt.Format = "xml"
	}
	return opt
}
