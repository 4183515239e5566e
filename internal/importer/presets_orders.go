package importer

import "strings"

// shopifyOrders reads Shopify's admin orders export (Orders → Export → CSV). An order
// with several line items repeats its Name on one row per item, with the order's own
// columns filled on the first row only.
var shopifyOrders = &orderPreset{
	name: "shopify",
	fields: map[string][]string{
		"order_id":      {"name"},
		"email":         {"email"},
		"phone":         {"phone", "billing_phone", "shipping_phone"},
		"timestamp":     {"created_at", "paid_at"},
		"currency":      {"currency"},
		"total":         {"total"},
		"subtotal":      {"subtotal"},
		"shipping":      {"shipping"},
		"tax":           {"taxes"},
		"discount":      {"discount_amount"},
		"coupon":        {"discount_code"},
		"status":        {"financial_status"},
		"refund_amount": {"refunded_amount"},
		"location":      {"source"},
		"store":         {"location"},
		"country":       {"billing_country", "shipping_country"},
		// Not in the admin export; the Shopify connector's order records carry them.
		"customer_id":  {"customer_id"},
		"landing_page": {"landing_site"},
		"referrer":     {"referring_site"},
		"user_agent":   {"user_agent"},
	},
	items: map[string][]string{
		"name":     {"lineitem_name"},
		"sku":      {"lineitem_sku"},
		"quantity": {"lineitem_quantity"},
		"price":    {"lineitem_price"},
	},
	status:   shopifyStatus,
	location: shopifyLocation,
}

// shopifyStatus maps Financial Status. Pending, authorized-but-uncaptured and voided
// orders were not (or not yet) paid: they are skipped.
func shopifyStatus(s string) string {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "paid", "partially_paid", "":
		return "completed"
	case "refunded":
		return "refunded"
	case "partially_refunded":
		return "partially_refunded"
	case "pending", "authorized", "voided", "expired":
		return "skip"
	}
	return ""
}

// shopifyLocation maps the Source column (the sales channel) to where the order happened.
// Draft orders are typed in by staff, most often for a phone or email order.
func shopifyLocation(src string) string {
	switch strings.ToLower(strings.TrimSpace(src)) {
	case "pos":
		return "store"
	case "shopify_draft_order":
		return "phone"
	case "", "web", "android", "iphone", "checkout", "buy_button":
		return "web"
	}
	return "web" // numeric app ids (marketplaces, sales-channel apps) sell online
}

// onlineRetailOrders reads the UCI Online Retail dataset (InvoiceNo, StockCode,
// Description, Quantity, InvoiceDate, UnitPrice, CustomerID, Country): one row per
// invoice line; an InvoiceNo starting with "C" is a cancellation; prices are GBP.
var onlineRetailOrders = &orderPreset{
	name: "online-retail",
	fields: map[string][]string{
		"order_id":    {"invoiceno", "invoice"},
		"customer_id": {"customerid", "customer_id"},
		"timestamp":   {"invoicedate"},
		"country":     {"country"},
		"currency":    {"currency"},
	},
	items: map[string][]string{
		"product_id": {"stockcode"},
		"name":       {"description"},
		"quantity":   {"quantity"},
		"price":      {"unitprice", "price"},
	},
	currency: "GBP",
	status:   func(string) string { return "completed" },
	location: func(string) string { return "web" },
	cRefunds: true,
	nonProducts: map[string]string{
		"POST": "shipping", "DOT": "shipping", "C2": "shipping",
		"M": "fee", "D": "fee", "BANK CHARGES": "fee", "AMAZONFEE": "fee", "CRUK": "fee",
		"PADS": "fee", "S": "fee", "B": "fee",
	},
}
