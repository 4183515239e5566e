package recommend

import (
	"bytes"
	"math"
	"strings"
	"testing"
)

// FuzzReadTransactions: a transactions file for `omniroi recommend evaluate` is refused
// with a message, or read into interactions that each have a customer, a product and a
// positive, finite quantity, and whose counts add up to the rows read.
func FuzzReadTransactions(f *testing.F) {
	f.Add([]byte("customer_id,product_id,timestamp,quantity\nc1,p1,2024-01-02T10:00:00Z,2\nc2,p1,2024-01-03,1\n,p2,2024-01-03,1\nc1,p3,2024-01-04,-1\n"))
	f.Add([]byte("InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country\n536365,85123A,HEART,6,12/1/2010 8:26,2.55,17850,United Kingdom\n"))
	f.Add([]byte("customer_id,product_id,timestamp\nc1,\"p1,2024-01-02\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		out, st, err := ReadTransactions(bytes.NewReader(data), map[string]bool{"POST": true})
		if err != nil {
			if strings.TrimSpace(err.Error()) == "" {
				t.Fatal("a refused file gives an empty message")
			}
			return
		}
		if len(out)+st.NoCustomer+st.NotPositive+st.ExcludedProduct > st.Rows {
			t.Fatalf("%d interactions and %+v from %d rows", len(out), st, st.Rows)
		}
		for _, in := range out {
			if in.Customer == "" || in.Product == "" {
				t.Fatalf("interaction without a customer or product: %+v", in)
			}
			if !(in.Quantity > 0) || math.IsInf(in.Quantity, 0) {
				t.Fatalf("interaction with quantity %v", in.Quantity)
			}
		}
	})
}
