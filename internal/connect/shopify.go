package connect

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/omniroi/omniroi/internal/importer"
	"github.com/omniroi/omniroi/internal/money"
)

// Shopify's webhook payloads are its REST Admin API resources (Order, Refund, Customer):
// money as decimal strings ("49.00"), ids as numbers, absent values as null.

// flex reads a JSON string, number or boolean as text; null is "".
type flex string

func (f *flex) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	switch {
	case len(b) == 0 || string(b) == "null":
		*f = ""
	case b[0] == '"':
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*f = flex(strings.TrimSpace(s))
	case b[0] == '{' || b[0] == '[':
		return fmt.Errorf("want a string or a number, not %.20s", b)
	default:
		*f = flex(b)
	}
	return nil
}

func (f flex) String() string { return string(f) }

type shopifyMoneySet struct {
	ShopMoney struct {
		Amount       flex `json:"amount"`
		CurrencyCode flex `json:"currency_code"`
	} `json:"shop_money"`
}

type shopifyOrder struct {
	ID              flex `json:"id"`
	Name            flex `json:"name"`
	OrderNumber     flex `json:"order_number"`
	Email           flex `json:"email"`
	ContactEmail    flex `json:"contact_email"`
	Phone           flex `json:"phone"`
	CreatedAt       flex `json:"created_at"`
	ProcessedAt     flex `json:"processed_at"`
	CancelledAt     flex `json:"cancelled_at"`
	Currency        flex `json:"currency"`
	TotalPrice      flex `json:"total_price"`
	SubtotalPrice   flex `json:"subtotal_price"`
	TotalTax        flex `json:"total_tax"`
	TotalDiscounts  flex `json:"total_discounts"`
	FinancialStatus flex `json:"financial_status"`
	Test            flex `json:"test"`
	LandingSite     flex `json:"landing_site"`
	ReferringSite   flex `json:"referring_site"`
	SourceName      flex `json:"source_name"`
	LocationID      flex `json:"location_id"`
	ClientDetails   *struct {
		BrowserIP flex `json:"browser_ip"`
		UserAgent flex `json:"user_agent"`
	} `json:"client_details"`
	TotalShippingPriceSet *shopifyMoneySet `json:"total_shipping_price_set"`
	ShippingLines         []struct {
		Price flex `json:"price"`
	} `json:"shipping_lines"`
	DiscountCodes []struct {
		Code flex `json:"code"`
	} `json:"discount_codes"`
	Customer *struct {
		ID    flex `json:"id"`
		Email flex `json:"email"`
		Phone flex `json:"phone"`
	} `json:"customer"`
	BillingAddress *struct {
		CountryCode flex `json:"country_code"`
	} `json:"billing_address"`
	ShippingAddress *struct {
		CountryCode flex `json:"country_code"`
	} `json:"shipping_address"`
	LineItems []struct {
		ProductID flex `json:"product_id"`
		SKU       flex `json:"sku"`
		Name      flex `json:"name"`
		Title     flex `json:"title"`
		Quantity  flex `json:"quantity"`
		Price     flex `json:"price"`
	} `json:"line_items"`
	Refunds []shopifyRefund `json:"refunds"`
}

type shopifyRefund struct {
	ID           flex `json:"id"`
	OrderID      flex `json:"order_id"`
	CreatedAt    flex `json:"created_at"`
	ProcessedAt  flex `json:"processed_at"`
	Transactions []struct {
		Kind     flex `json:"kind"`
		Status   flex `json:"status"`
		Amount   flex `json:"amount"`
		Currency flex `json:"currency"`
	} `json:"transactions"`
	RefundLineItems []struct {
		Subtotal flex `json:"subtotal"`
	} `json:"refund_line_items"`
}

type shopifyCustomer struct {
	ID                    flex `json:"id"`
	Email                 flex `json:"email"`
	Phone                 flex `json:"phone"`
	FirstName             flex `json:"first_name"`
	LastName              flex `json:"last_name"`
	CreatedAt             flex `json:"created_at"`
	UpdatedAt             flex `json:"updated_at"`
	EmailMarketingConsent *struct {
		State flex `json:"state"`
	} `json:"email_marketing_consent"`
	SMSMarketingConsent *struct {
		State flex `json:"state"`
	} `json:"sms_marketing_consent"`
	DefaultAddress *struct {
		CountryCode flex `json:"country_code"`
	} `json:"default_address"`
}

// shopifyUserID is how a Shopify customer is known in omniroi: its id, prefixed so it
// cannot meet another system's numbering. A storefront's analytics.identify should use
// the same ("shopify-" + customer id), as the custom pixel on the Sources page does.
func shopifyUserID(id flex) string {
	if id == "" || id == "0" {
		return ""
	}
	return "shopify-" + string(id)
}

// shopifyStatus maps the financial status for the export's rules: refunded orders were
// paid (their refunds arrive as refunds of their own), the unpaid are skipped.
func shopifyStatus(s string) string {
	switch strings.ToLower(s) {
	case "", "paid", "partially_paid", "refunded", "partially_refunded":
		return "paid"
	}
	return strings.ToLower(s) // pending, authorized, voided, expired: skipped by the preset
}

// orderRecords writes a Shopify order in the layout of Shopify's orders export (one record
// per line item, the order's fields on the first), which the importer's shopify preset
// turns into events; shopDomain makes a relative landing_site a full URL.
func (o *shopifyOrder) orderRecords(shopDomain string) []map[string]any {
	first := map[string]any{
		"name":             o.orderID(),
		"email":            firstOf(o.Email, o.ContactEmail, custField(o, "email")),
		"phone":            firstOf(o.Phone, custField(o, "phone")),
		"created_at":       firstOf(o.ProcessedAt, o.CreatedAt),
		"currency":         string(o.Currency),
		"total":            string(o.TotalPrice),
		"subtotal":         string(o.SubtotalPrice),
		"taxes":            string(o.TotalTax),
		"discount_amount":  string(o.TotalDiscounts),
		"financial_status": shopifyStatus(string(o.FinancialStatus)),
		"source":           o.salesChannel(),
		"customer_id":      shopifyUserID(custField(o, "id")),
	}
	if ship := o.shipping(); ship != "" {
		first["shipping"] = ship
	}
	if len(o.DiscountCodes) > 0 {
		first["discount_code"] = string(o.DiscountCodes[0].Code)
	}
	if o.LocationID != "" {
		first["location"] = "location " + string(o.LocationID)
	}
	if o.BillingAddress != nil && o.BillingAddress.CountryCode != "" {
		first["billing_country"] = string(o.BillingAddress.CountryCode)
	} else if o.ShippingAddress != nil && o.ShippingAddress.CountryCode != "" {
		first["billing_country"] = string(o.ShippingAddress.CountryCode)
	}
	if o.LandingSite != "" {
		first["landing_site"] = absURL(string(o.LandingSite), shopDomain)
	}
	if o.ReferringSite != "" {
		first["referring_site"] = string(o.ReferringSite)
	}
	if o.ClientDetails != nil && o.ClientDetails.UserAgent != "" {
		first["user_agent"] = string(o.ClientDetails.UserAgent)
	}
	recs := []map[string]any{first}
	for i, li := range o.LineItems {
		r := first
		if i > 0 {
			r = map[string]any{"name": o.orderID()}
			recs = append(recs, r)
		}
		r["lineitem_name"] = firstOf(li.Name, li.Title)
		r["lineitem_sku"] = string(li.SKU)
		r["lineitem_quantity"] = string(li.Quantity)
		r["lineitem_price"] = string(li.Price)
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

// orderID is the order's name ("#1001"), as the orders export and the admin show it.
func (o *shopifyOrder) orderID() string {
	if o.Name != "" {
		return string(o.Name)
	}
	if o.OrderNumber != "" {
		return "#" + string(o.OrderNumber)
	}
	return string(o.ID)
}

// salesChannel is the order's source_name (web, pos, shopify_draft_order, an app id),
// or web when a browser placed it.
func (o *shopifyOrder) salesChannel() string {
	if o.SourceName != "" {
		return string(o.SourceName)
	}
	if o.ClientDetails != nil && (o.ClientDetails.BrowserIP != "" || o.ClientDetails.UserAgent != "") {
		return "web"
	}
	return ""
}

func (o *shopifyOrder) shipping() string {
	if o.TotalShippingPriceSet != nil && o.TotalShippingPriceSet.ShopMoney.Amount != "" {
		return string(o.TotalShippingPriceSet.ShopMoney.Amount)
	}
	if len(o.ShippingLines) == 0 {
		return ""
	}
	var sum int64
	for _, l := range o.ShippingLines {
		n, err := money.ParseDecimal(string(l.Price), string(o.Currency))
		if err != nil {
			return ""
		}
		sum += n
	}
	return money.Format(sum, string(o.Currency))
}

func custField(o *shopifyOrder, f string) flex {
	if o.Customer == nil {
		return ""
	}
	switch f {
	case "id":
		return o.Customer.ID
	case "email":
		return o.Customer.Email
	case "phone":
		return o.Customer.Phone
	}
	return ""
}

func firstOf(vs ...flex) string {
	for _, v := range vs {
		if v != "" {
			return string(v)
		}
	}
	return ""
}

// absURL makes Shopify's landing_site (a path such as "/?utm_source=...") a URL on the
// shop's domain, so that the page host is the shop's own.
func absURL(u, domain string) string {
	if strings.Contains(u, "://") || domain == "" {
		return u
	}
	if !strings.HasPrefix(u, "/") {
		u = "/" + u
	}
	return "https://" + domain + u
}

// refundAmount is what a refund gives back, in the order's terms: the order's revenue
// (full) when the refund returns the order's whole total, else the refunded line items'
// subtotals (revenue excludes tax and shipping), else the money refunded. ok is false when
// no money moved (a restock only).
func (r *shopifyRefund) refundAmount(orderTotal, currency string) (amount string, full bool, cur string, ok bool) {
	cur = currency
	var paid int64
	moved := false
	for _, t := range r.Transactions {
		if strings.ToLower(string(t.Kind)) != "refund" || (t.Status != "" && strings.ToLower(string(t.Status)) != "success") {
			continue
		}
		if t.Currency != "" {
			cur = strings.ToUpper(string(t.Currency))
		}
		n, err := money.ParseDecimal(string(t.Amount), cur)
		if err != nil {
			continue
		}
		paid += n
		moved = true
	}
	if !moved || paid == 0 {
		return "", false, cur, false
	}
	if orderTotal != "" && cur == currency {
		if tot, err := money.ParseDecimal(orderTotal, cur); err == nil && tot == paid {
			return "", true, cur, true
		}
	}
	var lines int64
	for _, l := range r.RefundLineItems {
		n, err := money.ParseDecimal(string(l.Subtotal), cur)
		if err != nil {
			lines = 0
			break
		}
		lines += n
	}
	if lines > 0 && lines <= paid {
		return money.Format(lines, cur), false, cur, true
	}
	return money.Format(paid, cur), false, cur, true
}

func (r *shopifyRefund) when() string { return firstOf(r.ProcessedAt, r.CreatedAt) }

// shopifyOrderOptions are the importer options for a Shopify order record.
var shopifyOrderOptions = importer.Options{Kind: importer.KindOrders, Preset: "shopify"}
