package connect

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/omniroi/omniroi/internal/catalog"
	"github.com/omniroi/omniroi/internal/importer"
	"github.com/omniroi/omniroi/internal/store"
	"github.com/omniroi/omniroi/internal/workspace"
)

// Product webhooks update the catalogue (internal/catalog) in the delivery's transaction;
// they add no events, since the catalogue is the shop's statement, as an import's is.
// Shopify's product becomes rows of its products export and goes through the importer's
// Shopify preset, so a webhook stores exactly what `omniroi import products --preset
// shopify` would. A deleted product is kept (orders and recommendations history name it)
// but marked out of stock with its variants, so nothing recommends it again.

// shopifyProduct is Shopify's REST Admin API Product resource.
type shopifyProduct struct {
	ID          flex `json:"id"`
	Title       flex `json:"title"`
	Handle      flex `json:"handle"`
	Vendor      flex `json:"vendor"`
	ProductType flex `json:"product_type"`
	Status      flex `json:"status"`
	PublishedAt flex `json:"published_at"`
	Variants    []struct {
		ID                  flex `json:"id"`
		Title               flex `json:"title"`
		Price               flex `json:"price"`
		SKU                 flex `json:"sku"`
		Option1             flex `json:"option1"`
		Option2             flex `json:"option2"`
		Option3             flex `json:"option3"`
		InventoryQuantity   flex `json:"inventory_quantity"`
		InventoryManagement flex `json:"inventory_management"`
		InventoryPolicy     flex `json:"inventory_policy"`
		ImageID             flex `json:"image_id"`
	} `json:"variants"`
	Image *struct {
		Src flex `json:"src"`
	} `json:"image"`
	Images []struct {
		ID  flex `json:"id"`
		Src flex `json:"src"`
	} `json:"images"`
}

// exportRows lays the product out as its products export does: one row per variant.
func (p *shopifyProduct) exportRows() []map[string]string {
	img := ""
	if p.Image != nil {
		img = string(p.Image.Src)
	} else if len(p.Images) > 0 {
		img = string(p.Images[0].Src)
	}
	images := map[string]string{}
	for _, im := range p.Images {
		images[string(im.ID)] = string(im.Src)
	}
	published := "true"
	if p.PublishedAt == "" {
		published = "false" // not on the online store
	}
	first := map[string]string{"Handle": string(p.Handle), "Title": string(p.Title), "Vendor": string(p.Vendor),
		"Type": string(p.ProductType), "Status": string(p.Status), "Published": published, "Image Src": img}
	if len(p.Variants) == 0 {
		return []map[string]string{first}
	}
	var rows []map[string]string
	for i, v := range p.Variants {
		r := map[string]string{"Handle": string(p.Handle)}
		if i == 0 {
			r = first
		}
		r["Option1 Value"], r["Option2 Value"], r["Option3 Value"] = string(v.Option1), string(v.Option2), string(v.Option3)
		r["Variant SKU"], r["Variant Price"] = string(v.SKU), string(v.Price)
		r["Variant Inventory Tracker"] = string(v.InventoryManagement)
		r["Variant Inventory Qty"] = string(v.InventoryQuantity)
		r["Variant Inventory Policy"] = string(v.InventoryPolicy)
		r["Variant Image"] = images[string(v.ImageID)]
		rows = append(rows, r)
	}
	return rows
}

// wcProduct is WooCommerce's REST API Product resource.
type wcProduct struct {
	ID            flex `json:"id"`
	Name          flex `json:"name"`
	Status        flex `json:"status"`
	Permalink     flex `json:"permalink"`
	SKU           flex `json:"sku"`
	Price         flex `json:"price"`
	ManageStock   flex `json:"manage_stock"`
	StockQuantity flex `json:"stock_quantity"`
	StockStatus   flex `json:"stock_status"`
	Categories    []struct {
		Name flex `json:"name"`
	} `json:"categories"`
	Images []struct {
		Src flex `json:"src"`
	} `json:"images"`
}

// product is the catalogue's product of a WooCommerce product: its id is WooCommerce's
// product id, the id its orders' line items carry.
func (p *wcProduct) product(currency string) (catalog.Product, []catalog.Stock, error) {
	c := catalog.Product{ID: string(p.ID), SKU: string(p.SKU), Title: string(p.Name), URL: string(p.Permalink),
		Currency: currency, Origin: KindWooCommerce, Trusted: true, Availability: catalog.InStock}
	if c.ID == "" || c.Title == "" {
		return c, nil, errors.New("a product without an id or a name")
	}
	if len(p.Categories) > 0 {
		c.Category = string(p.Categories[0].Name)
	}
	if len(p.Images) > 0 {
		c.ImageURL = string(p.Images[0].Src)
	}
	if p.Price != "" {
		n, err := importer.ParseAmount(string(p.Price), currency)
		if err != nil {
			return c, nil, fmt.Errorf("product %s: price %q: %w", c.ID, p.Price, err)
		}
		c.PriceMinor = n
	}
	switch string(p.StockStatus) {
	case "outofstock":
		c.Availability = catalog.OutOfStock
	case "onbackorder":
		c.Availability = catalog.Backorder
	}
	if st := string(p.Status); st != "" && st != "publish" {
		c.Availability = catalog.OutOfStock // draft, pending or private: not for sale
	}
	var stock []catalog.Stock
	if p.ManageStock == "true" && p.StockQuantity != "" {
		var q int64
		if _, err := fmt.Sscan(string(p.StockQuantity), &q); err != nil {
			return c, nil, fmt.Errorf("product %s: stock_quantity %q is not a whole number", c.ID, p.StockQuantity)
		}
		stock = append(stock, catalog.Stock{ProductID: c.ID, Location: "web", Quantity: q})
	}
	return c, stock, nil
}

// shopCurrencyURL are the workspace's currency and shop URL, as an import reads them; the
// shop's own domain stands in for an unset URL.
func (h *Handler) shopCurrencyURL(ctx context.Context, domain string) (string, string, error) {
	cur, err := workspace.Currency(ctx, h.db)
	if err != nil {
		return "", "", err
	}
	shop, err := workspace.ShopURL(ctx, h.db)
	if err != nil {
		return "", "", err
	}
	if shop == "" && domain != "" {
		shop = "https://" + strings.TrimSuffix(domain, "/")
	}
	return cur, shop, nil
}

// storeProducts writes products and stock, remembering which platform id each came from.
func storeProducts(ctx context.Context, tx *store.Tx, d *delivery, external string, ps []catalog.Product, stock []catalog.Stock) error {
	changed, _, err := catalog.Upsert(ctx, tx, ps, d.received)
	if err != nil {
		return err
	}
	sch, err := catalog.SetStock(ctx, tx, stock, d.received)
	if err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, `INSERT INTO connector_products (source_id, external_id, product_id) VALUES (?, ?, ?)
		ON CONFLICT (source_id, external_id) DO UPDATE SET product_id = excluded.product_id`, d.src.ID, external, ps[0].ID); err != nil {
		return fmt.Errorf("link product: %w", err)
	}
	if changed+sch == 0 {
		d.say("product %s unchanged", ps[0].ID)
	} else {
		d.say("product %s: %d catalogue rows and %d stock rows changed", ps[0].ID, changed, sch)
	}
	return nil
}

// deleteProduct marks the product stored for a platform id, and its variants, out of
// stock; a product never received is noted, not refused.
func deleteProduct(ctx context.Context, tx *store.Tx, d *delivery, external string) error {
	var id string
	err := tx.QueryRow(ctx, `SELECT product_id FROM connector_products WHERE source_id = ? AND external_id = ?`, d.src.ID, external).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		d.say("product %s was deleted, but was never received: nothing to change", external)
		return nil
	}
	if err != nil {
		return err
	}
	res, err := tx.Exec(ctx, `UPDATE catalogue_products SET availability = ?, updated_at = ? WHERE (product_id = ? OR parent_id = ?) AND availability <> ?`,
		catalog.OutOfStock, d.received.UnixMilli(), id, id, catalog.OutOfStock)
	if err != nil {
		return fmt.Errorf("delete product %s: %w", id, err)
	}
	n, _ := res.RowsAffected()
	d.say("product %s deleted: %d catalogue rows marked out of stock (kept for history)", id, n)
	return nil
}

func (h *Handler) shopifyProductDelivery(ctx context.Context, tx *store.Tx, d *delivery) error {
	var p shopifyProduct
	if !decodeInto(d, &p) {
		return nil
	}
	if p.ID == "" {
		d.reject("a product without an id")
		return nil
	}
	if d.topic == "products/delete" {
		return deleteProduct(ctx, tx, d, string(p.ID))
	}
	if p.Handle == "" || p.Title == "" {
		d.reject(fmt.Sprintf("product %s without a handle or a title", p.ID))
		return nil
	}
	cur, shop, err := h.shopCurrencyURL(ctx, d.shop)
	if err != nil {
		return err
	}
	ps, stock, err := importer.ShopifyProductRecords(p.exportRows(), cur, shop)
	if err != nil {
		d.reject(fmt.Sprintf("product %s: %v", p.ID, err))
		return nil
	}
	if len(ps) == 0 {
		d.reject(fmt.Sprintf("product %s: nothing to store", p.ID))
		return nil
	}
	return storeProducts(ctx, tx, d, string(p.ID), ps, stock)
}

func (h *Handler) wcProductDelivery(ctx context.Context, tx *store.Tx, d *delivery) error {
	var p wcProduct
	if !decodeInto(d, &p) {
		return nil
	}
	if p.ID == "" {
		d.reject("a product without an id")
		return nil
	}
	if d.topic == "product.deleted" {
		return deleteProduct(ctx, tx, d, string(p.ID))
	}
	cur, _, err := h.shopCurrencyURL(ctx, "")
	if err != nil {
		return err
	}
	c, stock, err := p.product(cur)
	if err != nil {
		d.reject(err.Error())
		return nil
	}
	return storeProducts(ctx, tx, d, string(p.ID), []catalog.Product{c}, stock)
}
