package connect

import (
	"encoding/json"
	"strings"

	"github.com/omniroi/omniroi/internal/importer"
	"github.com/omniroi/omniroi/internal/money"
)

// WooCommerce's order webhooks carry the order as its REST API (wc/v3) returns it: money as
// decimal strings, GMT dates without a zone, the order attribution WooCommerce records
// (since 8.5) as meta data named _wc_order_attribution_*.

type wcOrder struct {
	ID              flex `json:"id"`
	Number          flex `json:"number"`
	Status          flex `json:"status"`
	Currency        flex `json:"currency"`
	CreatedVia      flex `json:"created_via"`
	DateCreatedGMT  flex `json:"date_created_gmt"`
	DatePaidGMT     flex `json:"date_paid_gmt"`
	DateModifiedGMT flex `json:"date_modified_gmt"`
	Total           flex `json:"total"`
	TotalTax        flex `json:"total_tax"`
	ShippingTotal   flex `json:"shipping_total"`
	DiscountTotal   flex `json:"discount_total"`
	CustomerID      flex `json:"customer_id"`
	CustomerAgent   flex `json:"customer_user_agent"`
	Billing         struct {
		Email   flex `json:"email"`
		Phone   flex `json:"phone"`
		Country flex `json:"country"`
	} `json:"billing"`
	LineItems []struct {
		ProductID flex `json:"product_id"`
		SKU       flex `json:"sku"`
		Name      flex `json:"name"`
		Quantity  flex `json:"quantity"`
		Price     flex `json:"price"`
	} `json:"line_items"`
	CouponLines []struct {
		Code flex `json:"code"`
	} `json:"coupon_lines"`
	MetaData []struct {
		Key   string          `json:"key"`
		Value json.RawMessage `json:"value"`
	} `json:"meta_data"`
	Refunds []struct {
		ID    flex `json:"id"`
		Total flex `json:"total"` // negative: "-5.00"
	} `json:"refunds"`
}

// meta reads the text of a meta_data entry ("" when absent or not text).
func (o *wcOrder) meta(key string) string {
	for _, m := range o.MetaData {
		if m.Key == key {
			var f flex
			if json.Unmarshal(m.Value, &f) == nil {
				return string(f)
			}
		}
	}
	return ""
}

// wcStatus maps an order status for the generic orders rules: processing and completed
// orders are paid (refunded ones too; their refunds arrive as refunds), the rest is
// not, or not yet.
func wcStatus(s string) string {
	switch strings.ToLower(s) {
	case "processing", "completed", "refunded":
		return "completed"
	case "pending", "on-hold":
		return "pending"
	case "cancelled", "failed":
		return "cancelled"
	}
	return "draft" // checkout-draft, trash and unknown statuses are not sales
}

// wcLocation says where an order was taken: by the checkout (web), typed in by staff
// (phone, as the Shopify preset reads draft orders), or by a point-of-sale plugin.
func wcLocation(createdVia, sourceType string) string {
	switch strings.ToLower(createdVia) {
	case "admin":
		return "phone"
	case "pos", "woocommerce-pos", "wc-pos", "square-pos":
		return "store"
	}
	if strings.EqualFold(sourceType, "mobile_app") {
		return "app"
	}
	return "web"
}

// wcUserID is how a registered WooCommerce customer is known in omniroi; guests (id 0)
// are known by their email, as imported orders are.
func wcUserID(id flex) string {
	if id == "" || id == "0" {
		return ""
	}
	return "wc-" + string(id)
}

// wcTime turns a GMT date without a zone ("2024-03-08T14:02:11") into RFC 3339.
func wcTime(s flex) string {
	t := string(s)
	if t == "" || strings.HasSuffix(t, "Z") || strings.ContainsAny(t[min(len(t), 19):], "+-") {
		return t
	}
	return t + "Z"
}

// orderRecords writes a WooCommerce order in the generic orders layout (docs/import.md),
// with the order attribution as utm_* columns, the landing page and the referrer.
func (o *wcOrder) orderRecords() []map[string]any {
	id := string(o.Number)
	if id == "" {
		id = string(o.ID)
	}
	st := o.meta("_wc_order_attribution_source_type")
	first := map[string]any{
		"order_id":     id,
		"customer_id":  wcUserID(o.CustomerID),
		"email":        string(o.Billing.Email),
		"phone":        string(o.Billing.Phone),
		"timestamp":    wcTime(o.DateCreatedGMT),
		"currency":     string(o.Currency),
		"total":        string(o.Total),
		"shipping":     string(o.ShippingTotal),
		"tax":          string(o.TotalTax),
		"discount":     string(o.DiscountTotal),
		"status":       wcStatus(string(o.Status)),
		"location":     wcLocation(string(o.CreatedVia), st),
		"country":      string(o.Billing.Country),
		"utm_source":   o.meta("_wc_order_attribution_utm_source"),
		"utm_medium":   o.meta("_wc_order_attribution_utm_medium"),
		"utm_campaign": o.meta("_wc_order_attribution_utm_campaign"),
		"utm_term":     o.meta("_wc_order_attribution_utm_term"),
		"utm_content":  o.meta("_wc_order_attribution_utm_content"),
		"landing_page": o.meta("_wc_order_attribution_session_entry"),
		"referrer":     o.meta("_wc_order_attribution_referrer"),
		"user_agent":   firstOf(flex(o.meta("_wc_order_attribution_user_agent")), o.CustomerAgent),
	}
	// WooCommerce records the medium of organic and referral visits as their source type.
	if first["utm_medium"] == "" && first["utm_source"] != "" {
		switch strings.ToLower(st) {
		case "organic":
			first["utm_medium"] = "organic"
		case "referral":
			first["utm_medium"] = "referral"
		}
	}
	if strings.EqualFold(st, "typein") {
		first["utm_source"], first["utm_medium"] = "", "" // "(direct)" as WooCommerce writes it
	}
	if len(o.CouponLines) > 0 {
		first["coupon"] = string(o.CouponLines[0].Code)
	}
	recs := []map[string]any{first}
	for i, li := range o.LineItems {
		r := first
		if i > 0 {
			r = map[string]any{"order_id": id}
			recs = append(recs, r)
		}
		r["product_id"] = string(li.ProductID)
		r["sku"] = string(li.SKU)
		r["product_name"] = string(li.Name)
		r["quantity"] = string(li.Quantity)
		r["price"] = string(li.Price)
	}
	for _, r := range recs {
		for k, v := range r {
			if v == "" {
				delete(r, k)
			}
		}
	}
	return recs
}

// refundAmount reads a refund's total (WooCommerce writes it negative); full when it is
// the order's whole total.
func wcRefundAmount(total, orderTotal, currency string) (amount string, full, ok bool) {
	n, err := money.ParseDecimal(strings.TrimPrefix(strings.TrimSpace(total), "-"), currency)
	if err != nil || n == 0 {
		return "", false, false
	}
	if t, err := money.ParseDecimal(orderTotal, currency); err == nil && t == n {
		return "", true, true
	}
	return money.Format(n, currency), false, true
}

var wcOrderOptions = importer.Options{Kind: importer.KindOrders}
