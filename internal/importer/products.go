package importer

import (
	"bufio"
	"context"
	"database/sql"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/omniroi/omniroi/internal/catalog"
	"github.com/omniroi/omniroi/internal/money"
	"github.com/omniroi/omniroi/internal/store"
	"github.com/omniroi/omniroi/internal/workspace"
)

// KindProducts imports the product catalogue and stock (internal/catalog). Like spend, the
// catalogue is the shop's own statement, not something a customer did: it goes into its
// own tables, and re-importing a product replaces it.
const KindProducts = "products"

// Product presets.
const (
	PresetShopify        = "shopify"
	PresetGoogleMerchant = "google-merchant"
)

// productFields name, per field, the columns each preset reads (keys as normKey makes them).
var merchantFields = map[string][]string{
	"id":           {"id", "g_id", "product_id", "offer_id"},
	"title":        {"title", "g_title", "name"},
	"link":         {"link", "g_link", "url"},
	"image":        {"image_link", "g_image_link", "image_url", "image"},
	"availability": {"availability", "g_availability"},
	"price":        {"price", "g_price"},
	"sale_price":   {"sale_price", "g_sale_price"},
	"cost":         {"cost_of_goods_sold", "g_cost_of_goods_sold", "cost"},
	"brand":        {"brand", "g_brand"},
	"product_type": {"product_type", "g_product_type", "category"},
	"google_cat":   {"google_product_category", "g_google_product_category"},
	"group":        {"item_group_id", "g_item_group_id", "parent_id"},
	"sku":          {"mpn", "g_mpn", "sku"},
	"store":        {"store_code", "g_store_code", "location"},
	"quantity":     {"quantity", "g_quantity"},
	"currency":     {"currency"},
}

var shopifyFields = map[string][]string{
	"handle":        {"handle"},
	"title":         {"title"},
	"type":          {"type"},
	"category":      {"product_category", "standard_product_type", "google_shopping_google_product_category"},
	"vendor":        {"vendor"},
	"status":        {"status"},
	"published":     {"published"},
	"opt1":          {"option1_value"},
	"opt2":          {"option2_value"},
	"opt3":          {"option3_value"},
	"sku":           {"variant_sku", "sku"},
	"price":         {"variant_price"},
	"tracker":       {"variant_inventory_tracker"},
	"qty":           {"variant_inventory_qty"},
	"policy":        {"variant_inventory_policy"},
	"image":         {"image_src"},
	"variant_image": {"variant_image"},
	"cost":          {"cost_per_item"},
	// Shopify's inventory export (Products → Inventory → Export): stock per location.
	"location":  {"location"},
	"available": {"available", "on_hand"},
}

// importProductsFile opens path for importProducts.
func importProductsFile(ctx context.Context, db *store.DB, path string, opt Options) (Report, error) {
	f, err := os.Open(path)
	if err != nil {
		return Report{Kind: KindProducts}, fmt.Errorf("open input: %w", err)
	}
	defer f.Close()
	return importProducts(ctx, db, f, path, opt)
}

// productRow is one converted row: a product or variant, stock rows, or the error.
type productSink struct {
	rep      *Report
	opt      Options
	rej      *rejectWriter
	products map[string]*catalog.Product
	order    []string
	stock    []catalog.Stock
	skuStock []skuStock // stock named by SKU (Shopify inventory export), resolved on write
}

type skuStock struct {
	sku, handle, location string
	qty                   int64
}

func (s *productSink) fail(r *row, e *RowError) error {
	s.rep.Rejected++
	if len(s.rep.Errors) < maxErrors {
		s.rep.Errors = append(s.rep.Errors, *e)
	}
	if s.rej != nil {
		return s.rej.write(r, e.Error())
	}
	return nil
}

func (s *productSink) put(p *catalog.Product) {
	if _, ok := s.products[p.ID]; !ok {
		s.order = append(s.order, p.ID)
	}
	s.products[p.ID] = p
}

func importProducts(ctx context.Context, db *store.DB, in io.Reader, name string, opt Options) (Report, error) {
	rep := Report{Kind: KindProducts, Preset: opt.Preset}
	currency := opt.Currency
	if currency == "" {
		var err error
		if currency, err = workspace.Currency(ctx, db); err != nil {
			return rep, err
		}
	}
	shop, err := workspace.ShopURL(ctx, db)
	if err != nil {
		return rep, err
	}
	sink, closeErr, err := parseProducts(ctx, in, name, opt, currency, shop, &rep)
	if err != nil {
		return rep, err
	}
	base := filepath.Base(name)
	ps := make([]catalog.Product, 0, len(sink.order))
	for _, id := range sink.order {
		ps = append(ps, *sink.products[id])
	}
	now := time.Now().UTC()
	err = db.Write(ctx, func(tx *store.Tx) error {
		changed, same, err := catalog.Upsert(ctx, tx, ps, now)
		if err != nil {
			return err
		}
		stock := sink.stock
		for _, s := range sink.skuStock {
			id := ""
			if s.sku != "" {
				if err := tx.QueryRow(ctx, `SELECT product_id FROM catalogue_products WHERE sku = ? ORDER BY product_id LIMIT 1`, s.sku).Scan(&id); err != nil && !isNoRows(err) {
					return err
				}
			}
			if id == "" {
				id = s.handle
			}
			stock = append(stock, catalog.Stock{ProductID: id, Location: s.location, Quantity: s.qty})
		}
		sch, err := catalog.SetStock(ctx, tx, stock, now)
		if err != nil {
			return err
		}
		rep.Imported, rep.Duplicates = changed+sch, same+len(stock)-sch
		return nil
	})
	if err != nil {
		rep.Imported, rep.Duplicates = 0, 0
		return rep, fmt.Errorf("import %s: %w", base, err)
	}
	if closeErr != nil {
		return rep, fmt.Errorf("imported, but the rejected rows were not all saved: %w", closeErr)
	}
	return rep, nil
}

// parseProducts reads a products file into the sink without the database: the rows it
// refuses are in rep; an error refuses the whole file. closeErr is the rejected-rows file's.
func parseProducts(ctx context.Context, in io.Reader, name string, opt Options, currency, shop string, rep *Report) (sink *productSink, closeErr error, err error) {
	switch opt.Preset {
	case PresetShopify, PresetGoogleMerchant, "":
	default:
		return nil, nil, fmt.Errorf("--preset %s does not apply to products (shopify or google-merchant)", opt.Preset)
	}
	currency, err = normCurrency(currency)
	if err != nil {
		return nil, nil, fmt.Errorf("currency: %w", err)
	}
	br, err := decode(in)
	if err != nil {
		return nil, nil, err
	}
	base := filepath.Base(name)
	format := productsFormat(opt.Format, base, br)
	if format != "csv" && format != "xml" {
		return nil, nil, fmt.Errorf("format %q: products come as csv (or tsv) or xml", format)
	}
	opt.RejectedPath = rejectedProductsPath(opt, name, format)
	sink = &productSink{rep: rep, opt: opt, products: map[string]*catalog.Product{}}
	if opt.SkipBad && opt.RejectedPath != "" {
		rf := "csv"
		if format == "xml" {
			rf = "jsonl"
		}
		sink.rej = newRejectWriter(opt.RejectedPath, rf)
	}
	var rows func(yield func(*row) error) error
	var preset string
	if format == "xml" {
		rows, preset, err = xmlProductRows(br, opt.Preset)
	} else {
		rows, preset, err = sink.csvProductRows(br, opt.Preset, base)
	}
	if err != nil {
		return nil, nil, err
	}
	rep.Preset = preset
	conv, finish := sink.converter(preset, currency, shop)
	err = rows(func(r *row) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		rep.Rows++
		if e := conv(r); e != nil {
			return sink.fail(r, e)
		}
		return nil
	})
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", base, err)
	}
	finish()
	if sink.rej != nil {
		closeErr = sink.rej.close()
		if sink.rej.n > 0 {
			rep.RejectedPath = opt.RejectedPath
		}
	}
	sort.SliceStable(rep.Errors, func(i, j int) bool { return rep.Errors[i].Line < rep.Errors[j].Line })
	if rep.Rejected > 0 && !opt.SkipBad {
		return nil, nil, fmt.Errorf("%w in %s: %d, nothing imported (--skip-bad imports the good ones); first: %v",
			ErrBadRows, base, rep.Rejected, rep.Errors[0])
	}
	return sink, closeErr, nil
}

// productsFormat is the products file's format: the one asked for, else xml for a .xml
// or .rss file or text starting with '<', else csv.
func productsFormat(format, base string, br *bufio.Reader) string {
	if format != "" {
		return format
	}
	lower := strings.TrimSuffix(strings.ToLower(base), ".gz")
	if strings.HasSuffix(lower, ".xml") || strings.HasSuffix(lower, ".rss") {
		return "xml"
	}
	if peek, _ := br.Peek(512); len(strings.TrimSpace(string(peek))) > 0 && strings.TrimSpace(string(peek))[0] == '<' {
		return "xml"
	}
	return "csv"
}

// rejectedProductsPath is where refused rows go with --skip-bad: the one asked for, else
// beside the input (NAME.rejected.csv, or .jsonl for a feed); none for stdin.
func rejectedProductsPath(opt Options, name, format string) string {
	if !opt.SkipBad || opt.RejectedPath != "" || name == "stdin" {
		return opt.RejectedPath
	}
	ext := ".rejected.csv"
	if format == "xml" {
		ext = ".rejected.jsonl"
	}
	stem := strings.TrimSuffix(name, ".gz")
	return strings.TrimSuffix(stem, filepath.Ext(stem)) + ext
}

// xmlProductRows reads an XML feed's items; an XML feed is a Google Merchant feed.
func xmlProductRows(br *bufio.Reader, preset string) (func(yield func(*row) error) error, string, error) {
	if preset == "" {
		preset = PresetGoogleMerchant
	}
	if preset != PresetGoogleMerchant {
		return nil, "", fmt.Errorf("an XML product feed is a Google Merchant feed: use --preset google-merchant")
	}
	return func(yield func(*row) error) error { return xmlItems(br, yield) }, preset, nil
}

// csvProductRows reads a CSV (or TSV) products file's rows under the header naming a
// product id, refusing rows with more values than the header has. Without a preset, a
// Handle column makes it a Shopify export, else a Google Merchant feed.
func (sink *productSink) csvProductRows(br *bufio.Reader, preset, base string) (func(yield func(*row) error) error, string, error) {
	isHeader := func(keys map[string]int) bool {
		for _, k := range []string{"handle", "id", "g_id", "product_id", "offer_id"} {
			if _, ok := keys[k]; ok {
				return true
			}
		}
		return false
	}
	src, err := newCSVSource(br, isHeader)
	if err != nil {
		return nil, "", fmt.Errorf("%s: %w", base, err)
	}
	if preset == "" {
		if _, ok := src.hdr.index["handle"]; ok {
			preset = PresetShopify
		} else {
			preset = PresetGoogleMerchant
		}
	}
	rows := func(yield func(*row) error) error {
		for {
			r, err := src.next()
			if errors.Is(err, io.EOF) {
				return nil
			}
			if err != nil {
				return err
			}
			if sink.rej != nil && sink.rej.hdr == nil {
				sink.rej.hdr = r.hdr
			}
			if e := extraFields(r); e != nil {
				sink.rep.Rows++
				if err := sink.fail(r, e); err != nil {
					return err
				}
				continue
			}
			if err := yield(r); err != nil {
				return err
			}
		}
	}
	return rows, preset, nil
}

// converter is the preset's row converter and what it does after the last row.
func (sink *productSink) converter(preset, currency, shop string) (func(r *row) *RowError, func()) {
	if preset == PresetShopify {
		sc := &shopifyProducts{sink: sink, currency: currency, shop: shop}
		return sc.add, sc.finish
	}
	mc := &merchantProducts{sink: sink, currency: currency}
	return mc.add, mc.finish
}

func isNoRows(err error) bool { return errors.Is(err, sql.ErrNoRows) }

// priceCell reads "15.00 USD", "15.00", "€15,00" into minor units and the currency.
func priceCell(s, currency string) (int64, string, error) {
	s = strings.TrimSpace(s)
	if f := strings.Fields(s); len(f) == 2 && len(f[1]) == 3 {
		c, err := money.NormalizeCurrency(f[1])
		if err != nil {
			return 0, "", err
		}
		s, currency = f[0], c
	}
	v, err := parseAmount(s, currency)
	return v, currency, err
}

func availability(s string) (string, bool) {
	switch strings.NewReplacer(" ", "_", "-", "_").Replace(strings.ToLower(strings.TrimSpace(s))) {
	case "", "in_stock", "instock", "available", "available_for_order", "https://schema.org/instock":
		return catalog.InStock, true
	case "out_of_stock", "outofstock", "sold_out", "discontinued", "https://schema.org/outofstock":
		return catalog.OutOfStock, true
	case "preorder", "pre_order":
		return catalog.Preorder, true
	case "backorder", "back_order":
		return catalog.Backorder, true
	}
	return "", false
}

// lastSegment is the most specific part of a category path ("Food > Bakery > Bread").
func lastSegment(s string) string {
	if i := strings.LastIndex(s, ">"); i >= 0 {
		s = s[i+1:]
	}
	return strings.TrimSpace(s)
}

// ---- Google Merchant Center ----

type merchantProducts struct {
	sink     *productSink
	currency string
	groups   map[string]*catalog.Product
	gorder   []string
}

func (m *merchantProducts) add(r *row) *RowError {
	get := func(f string) (string, string) { return r.get(merchantFields[f]...) }
	id, _ := get("id")
	if id == "" {
		return rowErr(r, "id", "no product id")
	}
	if store, _ := get("store"); store != "" {
		// A local inventory feed: store_code, id, quantity (and availability).
		q, col := get("quantity")
		n, err := parseCount(q)
		if q == "" || err != nil {
			return rowErr(r, col, "quantity %q is not a whole number", q)
		}
		m.sink.stock = append(m.sink.stock, catalog.Stock{ProductID: id, Location: store, Quantity: n})
		return nil
	}
	title, _ := get("title")
	if title == "" {
		return rowErr(r, "title", "product %s has no title", id)
	}
	cur := m.currency
	if c, col := get("currency"); c != "" {
		var err error
		if cur, err = normCurrency(c); err != nil {
			return rowErr(r, col, "%v", err)
		}
	}
	p := &catalog.Product{ID: id, Title: title, Origin: PresetGoogleMerchant, Currency: cur, Trusted: true}
	if v, col := get("price"); v != "" {
		price, c, err := priceCell(v, cur)
		if err != nil {
			return rowErr(r, col, "price %q: %v", v, err)
		}
		p.PriceMinor, p.Currency = price, c
	}
	if v, col := get("sale_price"); v != "" {
		price, _, err := priceCell(v, p.Currency)
		if err != nil {
			return rowErr(r, col, "sale price %q: %v", v, err)
		}
		p.PriceMinor = price
	}
	if v, col := get("cost"); v != "" {
		cost, _, err := priceCell(v, p.Currency)
		if err != nil {
			return rowErr(r, col, "cost %q: %v", v, err)
		}
		p.CostMinor = cost
	}
	if v, col := get("availability"); v != "" || col != "" {
		a, ok := availability(v)
		if !ok {
			return rowErr(r, col, "availability %q: want in_stock, out_of_stock, preorder or backorder", v)
		}
		p.Availability = a
	}
	p.URL, _ = get("link")
	p.ImageURL, _ = get("image")
	p.Brand, _ = get("brand")
	p.SKU, _ = get("sku")
	if v, _ := get("product_type"); v != "" {
		p.Category = lastSegment(v)
	} else if v, _ := get("google_cat"); v != "" {
		p.Category = lastSegment(v)
	}
	for _, u := range []*string{&p.URL, &p.ImageURL} {
		if *u != "" && !strings.HasPrefix(*u, "https://") && !strings.HasPrefix(*u, "http://") {
			return rowErr(r, "link", "%q is not an http(s) URL", *u)
		}
	}
	if g, _ := get("group"); g != "" && g != id {
		p.ParentID = g
		m.group(g, p)
	}
	m.sink.put(p)
	return nil
}

// group keeps a product for each item_group_id: the feed lists variants only.
func (m *merchantProducts) group(id string, v *catalog.Product) {
	if m.groups == nil {
		m.groups = map[string]*catalog.Product{}
	}
	g := m.groups[id]
	if g == nil {
		g = &catalog.Product{ID: id, Title: v.Title, Category: v.Category, Brand: v.Brand, PriceMinor: v.PriceMinor, CostMinor: v.CostMinor,
			Currency: v.Currency, URL: v.URL, ImageURL: v.ImageURL, Availability: catalog.OutOfStock, Origin: v.Origin, Trusted: true}
		m.groups[id] = g
		m.gorder = append(m.gorder, id)
	}
	if v.PriceMinor > 0 && (g.PriceMinor == 0 || v.PriceMinor < g.PriceMinor) {
		g.PriceMinor = v.PriceMinor
	}
	if v.Availability != catalog.OutOfStock {
		g.Availability = catalog.InStock
	}
}

func (m *merchantProducts) finish() {
	for _, id := range m.gorder {
		if _, listed := m.sink.products[id]; !listed {
			m.sink.put(m.groups[id])
		}
	}
}

// xmlItems reads an RSS 2.0 (or Atom) Google Merchant feed: each <item> (<entry>) is a
// row of its child elements, g: namespace or not, with the line it starts on.
func xmlItems(br *bufio.Reader, yield func(*row) error) error {
	dec := xml.NewDecoder(br)
	dec.Strict = false
	var cur map[string]string
	var keys []string
	var start int
	var field string
	var text strings.Builder
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			if cur != nil {
				return errors.New("the feed ends inside an item")
			}
			return nil
		}
		if err != nil {
			line, _ := dec.InputPos()
			return fmt.Errorf("line %d: %w", line, err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			switch {
			case cur == nil && (t.Name.Local == "item" || t.Name.Local == "entry"):
				cur, keys = map[string]string{}, nil
				start, _ = dec.InputPos()
			case cur != nil && field == "":
				field = t.Name.Local
				if t.Name.Local == "link" {
					for _, a := range t.Attr { // Atom: <link href="..."/>
						if a.Name.Local == "href" {
							text.WriteString(a.Value)
						}
					}
				}
			}
		case xml.CharData:
			if field != "" {
				text.Write(t)
			}
		case xml.EndElement:
			switch {
			case cur != nil && field != "" && t.Name.Local == field:
				k := normKey(field)
				if _, dup := cur[k]; !dup {
					keys = append(keys, k)
					cur[k] = strings.TrimSpace(text.String())
				}
				field = ""
				text.Reset()
			case cur != nil && field == "" && (t.Name.Local == "item" || t.Name.Local == "entry"):
				vals := make([]string, len(keys))
				for i, k := range keys {
					vals[i] = cur[k]
				}
				raw, _ := json.Marshal(cur)
				if err := yield(&row{line: start, hdr: newHeader(keys), vals: vals, raw: raw}); err != nil {
					return err
				}
				cur = nil
			}
		}
	}
}

// ---- Shopify ----

// shopifyProducts reads Shopify's products export (Products → Export): one row per
// variant, the product's own columns (Title, Type, Vendor, Status) on its first row only,
// and rows with only an image for further pictures. Products are known by Handle; their
// link is shop_url/products/HANDLE. The inventory export (Location, Available) gives
// stock per location.
type shopifyProducts struct {
	sink     *productSink
	currency string
	shop     string
	cur      *catalog.Product // the product of the current handle
	curLine  int
	variants []*catalog.Product
	defaultV bool // the only variant is Shopify's "Default Title"
}

func (s *shopifyProducts) add(r *row) *RowError {
	get := func(f string) (string, string) { return r.get(shopifyFields[f]...) }
	handle, col := get("handle")
	if handle == "" {
		return rowErr(r, col, "no Handle")
	}
	if loc, _ := get("location"); loc != "" {
		q, qcol := get("available")
		n, err := parseCount(q)
		if err != nil || q == "" {
			return rowErr(r, qcol, "available quantity %q is not a whole number", q)
		}
		sku, _ := get("sku")
		s.sink.skuStock = append(s.sink.skuStock, skuStock{sku: sku, handle: handle, location: loc, qty: n})
		return nil
	}
	if s.cur == nil || s.cur.ID != handle {
		s.flush()
		title, tcol := get("title")
		if title == "" {
			return rowErr(r, tcol, "the first row of %q has no Title", handle)
		}
		p := &catalog.Product{ID: handle, Title: title, Origin: PresetShopify, Currency: s.currency, Trusted: true, Availability: catalog.InStock}
		if t, _ := get("type"); t != "" {
			p.Category = t
		} else if c, _ := get("category"); c != "" {
			p.Category = lastSegment(c)
		}
		p.Brand, _ = get("vendor")
		p.ImageURL, _ = get("image")
		if s.shop != "" {
			p.URL = s.shop + "/products/" + handle
		}
		if st, _ := get("status"); st != "" && !strings.EqualFold(st, "active") {
			p.Availability = catalog.OutOfStock // draft or archived: not for sale
		} else if pub, _ := get("published"); strings.EqualFold(pub, "false") {
			p.Availability = catalog.OutOfStock
		}
		s.cur, s.curLine = p, r.line
	}
	price, pcol := get("price")
	sku, _ := get("sku")
	o1, _ := get("opt1")
	if price == "" && sku == "" && o1 == "" {
		if s.cur.ImageURL == "" {
			s.cur.ImageURL, _ = get("image")
		}
		return nil // an image row
	}
	v := &catalog.Product{ParentID: handle, SKU: sku, Title: s.cur.Title, Category: s.cur.Category, Brand: s.cur.Brand,
		Currency: s.currency, URL: s.cur.URL, Origin: PresetShopify, Trusted: true, Availability: s.cur.Availability}
	if price != "" {
		n, err := parseAmount(price, s.currency)
		if err != nil {
			return rowErr(r, pcol, "Variant Price: %v", err)
		}
		v.PriceMinor = n
	}
	if c, ccol := get("cost"); c != "" {
		n, err := parseAmount(c, s.currency)
		if err != nil {
			return rowErr(r, ccol, "Cost per item: %v", err)
		}
		v.CostMinor = n
	}
	var opts []string
	for _, k := range []string{"opt1", "opt2", "opt3"} {
		if o, _ := get(k); o != "" && o != "Default Title" {
			opts = append(opts, o)
		}
	}
	if len(opts) > 0 {
		v.Title += " (" + strings.Join(opts, " / ") + ")"
	}
	switch {
	case sku != "":
		v.ID = handle + "/" + sku
	case len(opts) > 0:
		v.ID = handle + "/" + strings.Join(opts, "/")
	default:
		v.ID = handle + "/" + strconv.Itoa(len(s.variants)+1)
	}
	if img, _ := get("variant_image"); img != "" {
		v.ImageURL = img
	} else {
		v.ImageURL = s.cur.ImageURL
	}
	tracker, _ := get("tracker")
	if q, qcol := get("qty"); q != "" && strings.EqualFold(tracker, "shopify") {
		n, err := parseCount(q)
		if err != nil {
			return rowErr(r, qcol, "Variant Inventory Qty %q is not a whole number", q)
		}
		pol, _ := get("policy")
		if n <= 0 && !strings.EqualFold(pol, "continue") {
			v.Availability = catalog.OutOfStock
		}
		v.Stock = map[string]int64{"web": n}
	}
	s.defaultV = len(s.variants) == 0 && len(opts) == 0
	s.variants = append(s.variants, v)
	return nil
}

// flush emits the current handle: the product, and its variants when it has several.
func (s *shopifyProducts) flush() {
	p := s.cur
	if p == nil {
		return
	}
	avail := false
	for i, v := range s.variants {
		if i == 0 || v.PriceMinor > 0 && v.PriceMinor < p.PriceMinor {
			p.PriceMinor = v.PriceMinor
		}
		if p.CostMinor == 0 {
			p.CostMinor = v.CostMinor
		}
		if v.Availability != catalog.OutOfStock {
			avail = true
		}
	}
	if len(s.variants) > 0 && !avail {
		p.Availability = catalog.OutOfStock
	}
	if len(s.variants) == 1 && s.defaultV {
		v := s.variants[0]
		p.SKU = v.SKU
		for loc, q := range v.Stock {
			s.sink.stock = append(s.sink.stock, catalog.Stock{ProductID: p.ID, Location: loc, Quantity: q})
		}
		s.sink.put(p)
	} else {
		s.sink.put(p)
		for _, v := range s.variants {
			for loc, q := range v.Stock {
				s.sink.stock = append(s.sink.stock, catalog.Stock{ProductID: v.ID, Location: loc, Quantity: q})
			}
			v.Stock = nil
			s.sink.put(v)
		}
	}
	s.cur, s.variants, s.defaultV = nil, nil, false
}

func (s *shopifyProducts) finish() { s.flush() }
