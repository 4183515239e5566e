package importer

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/omniroi/omniroi/internal/catalog"
	"github.com/omniroi/omniroi/internal/store"
	"github.com/omniroi/omniroi/internal/store/storetest"
	"github.com/omniroi/omniroi/internal/workspace"
)

// A Shopify products export (Products → Export, "Plain CSV file"): its documented
// columns, one row per variant, the product's own columns on its first row, an extra
// image row.
const shopifyProductsCSV = `Handle,Title,Body (HTML),Vendor,Product Category,Type,Tags,Published,Option1 Name,Option1 Value,Option2 Name,Option2 Value,Option3 Name,Option3 Value,Variant SKU,Variant Grams,Variant Inventory Tracker,Variant Inventory Qty,Variant Inventory Policy,Variant Fulfillment Service,Variant Price,Variant Compare At Price,Variant Requires Shipping,Variant Taxable,Variant Barcode,Image Src,Image Position,Image Alt Text,Gift Card,SEO Title,SEO Description,Variant Image,Variant Weight Unit,Variant Tax Code,Cost per item,Status
sourdough-loaf,Sourdough Loaf,<p>Slow-fermented</p>,Crumb & Co.,"Food, Beverages & Tobacco > Food Items > Bakery > Breads & Buns",Bread,"bread, daily",true,Title,Default Title,,,,,SD-800,800,shopify,12,deny,manual,5.50,,true,true,,https://cdn.shopify.com/s/files/1/sourdough.jpg,1,,false,,,,g,,2.10,active
sourdough-loaf,,,,,,,,,,,,,,,,,,,,,,,,,https://cdn.shopify.com/s/files/1/sourdough-2.jpg,2,,,,,,,,,
celebration-cake,Celebration Cake,<p>Order two days ahead</p>,Crumb & Co.,"Food, Beverages & Tobacco > Food Items > Bakery > Cakes & Dessert Bars",Cake,,true,Size,Small,,,,,CAKE-S,900,shopify,0,deny,manual,32.00,,true,true,,https://cdn.shopify.com/s/files/1/cake.jpg,1,,false,,,,g,,14.00,active
celebration-cake,,,,,,,,,Large,,,,,CAKE-L,1500,shopify,3,deny,manual,48.00,,true,true,,,,,,,,,g,,21.00,
winter-stollen,Christmas Stollen,,Crumb & Co.,,Seasonal,,false,Title,Default Title,,,,,STOL-1,750,,,deny,manual,14.50,,true,true,,,,,false,,,,g,,,archived
`

func TestProductsShopify(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		if _, err := workspace.Set(ctx, db, "test", "shop_url", "https://crumb.example"); err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(t.TempDir(), "products_export.csv")
		os.WriteFile(path, []byte(shopifyProductsCSV), 0o644)
		rep, err := ImportFile(ctx, db, path, Options{Kind: KindProducts, Preset: PresetShopify})
		if err != nil {
			t.Fatalf("%v %+v", err, rep)
		}
		// sourdough (1 product, stock), cake + 2 variants (+ 2 stock rows), stollen.
		if rep.Rows != 5 || rep.Imported != 8 || rep.Rejected != 0 {
			t.Fatalf("report %+v", rep)
		}
		cat, err := catalog.Load(ctx, db)
		if err != nil {
			t.Fatal(err)
		}
		sd := cat.Get("SD-800") // by SKU
		if sd == nil || sd.ID != "sourdough-loaf" || sd.Title != "Sourdough Loaf" || sd.PriceMinor != 550 || sd.CostMinor != 210 ||
			sd.Category != "Bread" || sd.URL != "https://crumb.example/products/sourdough-loaf" ||
			sd.ImageURL != "https://cdn.shopify.com/s/files/1/sourdough.jpg" || sd.Stock["web"] != 12 || !sd.Available("web") {
			t.Fatalf("sourdough: %+v", sd)
		}
		cake := cat.Get("CAKE-L") // a variant resolves to its product
		if cake == nil || cake.ID != "celebration-cake" || cake.PriceMinor != 3200 || len(cake.Variants) != 2 || cake.Stock["web"] != 3 || !cake.Available("web") {
			t.Fatalf("cake: %+v", cake)
		}
		if small := cat.Get("celebration-cake/CAKE-S"); small == nil || small.ID != "celebration-cake" {
			t.Fatalf("variant lookup: %+v", small)
		}
		if st := cat.Get("winter-stollen"); st == nil || st.Available("") {
			t.Fatalf("an archived product is not for sale: %+v", st)
		}
		// Importing the same file again changes nothing.
		rep, err = ImportFile(ctx, db, path, Options{Kind: KindProducts, Preset: PresetShopify})
		if err != nil || rep.Imported != 0 || rep.Duplicates != 8 {
			t.Fatalf("again: %+v %v", rep, err)
		}

		// Shopify's inventory export: stock per location, by SKU.
		inv := "Handle,Title,Option1 Name,Option1 Value,SKU,Location,Incoming,Unavailable,Committed,Available,On hand\n" +
			"celebration-cake,Celebration Cake,Size,Large,CAKE-L,Main Street,0,0,0,2,2\n" +
			"sourdough-loaf,Sourdough Loaf,Title,Default Title,SD-800,Main Street,0,0,0,0,0\n"
		if _, err := Import(ctx, db, strings.NewReader(inv), "inventory_export.csv", Options{Kind: KindProducts, Preset: PresetShopify}); err != nil {
			t.Fatal(err)
		}
		cat, _ = catalog.Load(ctx, db)
		if sd := cat.Get("sourdough-loaf"); sd.Available("Main Street") || !sd.Available("web") {
			t.Fatalf("sourdough is sold out at Main Street only: %+v", sd.Stock)
		}
		if c := cat.Get("celebration-cake"); c.Stock["Main Street"] != 2 {
			t.Fatalf("cake stock %+v", c.Stock)
		}
	})
}

func TestProductsBadRowsNameTheirLine(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		bad := strings.Replace(shopifyProductsCSV, "48.00", "48,00,-", 1)
		bad = strings.Replace(bad, "48,00,-", `"48.0x"`, 1)
		_, err := Import(ctx, db, strings.NewReader(bad), "products_export.csv", Options{Kind: KindProducts, Preset: PresetShopify})
		if !errors.Is(err, ErrBadRows) || !strings.Contains(err.Error(), `line 5, column "Variant Price"`) {
			t.Fatalf("error %v", err)
		}
		var n int
		db.QueryRow(ctx, `SELECT COUNT(*) FROM catalogue_products`).Scan(&n)
		if n != 0 {
			t.Fatalf("%d products imported from a bad file", n)
		}
		// --skip-bad imports the others and writes the bad row beside the file.
		path := filepath.Join(t.TempDir(), "products.csv")
		os.WriteFile(path, []byte(bad), 0o644)
		rep, err := ImportFile(ctx, db, path, Options{Kind: KindProducts, Preset: PresetShopify, SkipBad: true})
		if err != nil || rep.Rejected != 1 || rep.RejectedPath == "" {
			t.Fatalf("skip-bad: %+v %v", rep, err)
		}
		rej, _ := os.ReadFile(rep.RejectedPath)
		if !strings.Contains(string(rej), "CAKE-L") || !strings.Contains(string(rej), "Variant Price") {
			t.Fatalf("rejected file: %s", rej)
		}
	})
}

// Google Merchant Center: the tab-separated primary feed with its attribute names, the
// RSS 2.0 XML feed with the g: namespace, and a local inventory feed.
func TestProductsGoogleMerchant(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		tsv := "id\ttitle\tdescription\tlink\timage_link\tavailability\tprice\tsale_price\tbrand\tgoogle_product_category\tproduct_type\titem_group_id\tcost_of_goods_sold\n" +
			"BOX-6\tPastry box (6)\tSix pastries\thttps://crumb.example/box\thttps://crumb.example/img/box.jpg\tin stock\t18.00 EUR\t\tCrumb\tFood Items > Bakery\tBoxes > Pastry boxes\t\t7.20 EUR\n" +
			"TIN-S\tCookie tin (small)\t\thttps://crumb.example/tin\thttps://crumb.example/img/tin.jpg\tout of stock\t14.50 EUR\t12.00 EUR\tCrumb\t\tGifts\tTIN\t\n" +
			"TIN-L\tCookie tin (large)\t\thttps://crumb.example/tin\thttps://crumb.example/img/tin.jpg\tin_stock\t24.50 EUR\t\tCrumb\t\tGifts\tTIN\t\n"
		rep, err := Import(ctx, db, strings.NewReader(tsv), "feed.tsv", Options{Kind: KindProducts, Preset: PresetGoogleMerchant})
		if err != nil || rep.Imported != 4 { // two products, two variants grouped under TIN
			t.Fatalf("%+v %v", rep, err)
		}
		xmlFeed := `<?xml version="1.0"?>
<rss xmlns:g="http://base.google.com/ns/1.0" version="2.0">
<channel>
<title>Crumb &amp; Co.</title>
<item>
<g:id>RYE-1</g:id>
<g:title>Rye &amp; caraway loaf</g:title>
<g:link>https://crumb.example/rye</g:link>
<g:image_link>https://crumb.example/img/rye.jpg</g:image_link>
<g:availability>in_stock</g:availability>
<g:price>4.80 EUR</g:price>
<g:product_type>Bread &gt; Rye</g:product_type>
</item>
<item>
<g:id>BAD-1</g:id>
<g:title>Broken</g:title>
<g:availability>maybe</g:availability>
<g:price>1.00 EUR</g:price>
</item>
</channel>
</rss>
`
		_, err = Import(ctx, db, strings.NewReader(xmlFeed), "feed.xml", Options{Kind: KindProducts, Preset: PresetGoogleMerchant})
		if !errors.Is(err, ErrBadRows) || !strings.Contains(err.Error(), `line 14, column "availability"`) {
			t.Fatalf("XML error %v", err)
		}
		fixed := strings.Replace(xmlFeed, "maybe", "out_of_stock", 1)
		if rep, err = Import(ctx, db, strings.NewReader(fixed), "feed.xml", Options{Kind: KindProducts}); err != nil || rep.Imported != 2 || rep.Preset != PresetGoogleMerchant {
			t.Fatalf("XML: %+v %v", rep, err)
		}
		local := "store_code\tid\tquantity\tavailability\nMAIN\tBOX-6\t0\tout of stock\nMAIN\tRYE-1\t4\tin stock\n"
		if _, err = Import(ctx, db, strings.NewReader(local), "local.tsv", Options{Kind: KindProducts, Preset: PresetGoogleMerchant}); err != nil {
			t.Fatal(err)
		}
		cat, err := catalog.Load(ctx, db)
		if err != nil {
			t.Fatal(err)
		}
		box := cat.Get("BOX-6")
		if box.PriceMinor != 1800 || box.CostMinor != 720 || box.Category != "Pastry boxes" || box.Available("MAIN") || !box.Available("web") {
			t.Fatalf("box: %+v", box)
		}
		tin := cat.Get("TIN-S")
		if tin.ID != "TIN" || tin.PriceMinor != 1200 || !tin.Available("") || len(tin.Variants) != 2 {
			t.Fatalf("tin group: %+v", tin)
		}
		if rye := cat.Get("RYE-1"); rye.Title != "Rye & caraway loaf" || rye.Category != "Rye" || rye.PriceMinor != 480 || !rye.Available("MAIN") {
			t.Fatalf("rye: %+v", rye)
		}
		if b := cat.Get("BAD-1"); b == nil || b.Available("") {
			t.Fatalf("out of stock XML item: %+v", b)
		}
	})
}
