package importer

import (
	"fmt"

	"github.com/omniroi/omniroi/internal/catalog"
)

// ShopifyProductRecords converts records laid out as rows of Shopify's products export
// (column name → value: "Handle", "Title", "Variant SKU", "Variant Price", ...) with the
// rules of `omniroi import products --preset shopify`: the products and variants, and
// their stock. The Shopify connector's product webhooks use it, so a product delivered by
// webhook is stored as the export would store it. currency is the shop's; shop its URL
// (the products' links), "" for none. The first refused record is the error.
func ShopifyProductRecords(records []map[string]string, currency, shop string) ([]catalog.Product, []catalog.Stock, error) {
	currency, err := normCurrency(currency)
	if err != nil {
		return nil, nil, fmt.Errorf("currency: %w", err)
	}
	var names []string
	seen := map[string]bool{}
	for _, rec := range records {
		for k := range rec {
			if !seen[k] {
				seen[k] = true
				names = append(names, k)
			}
		}
	}
	hdr := newHeader(names)
	rep := &Report{Kind: KindProducts, Preset: PresetShopify}
	sink := &productSink{rep: rep, products: map[string]*catalog.Product{}}
	sc := &shopifyProducts{sink: sink, currency: currency, shop: shop}
	for i, rec := range records {
		vals := make([]string, len(names))
		for j, n := range names {
			vals[j] = rec[n]
		}
		if e := sc.add(&row{line: i + 1, hdr: hdr, vals: vals}); e != nil {
			return nil, nil, e
		}
	}
	sc.finish()
	ps := make([]catalog.Product, 0, len(sink.order))
	for _, id := range sink.order {
		ps = append(ps, *sink.products[id])
	}
	return ps, sink.stock, nil
}

// ParseAmount reads a decimal amount ("19.99", "1,234.50") into minor units of currency,
// as the importer reads prices.
func ParseAmount(s, currency string) (int64, error) { return parseAmount(s, currency) }
