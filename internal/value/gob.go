package value

import (
	"bytes"
	"encoding/gob"
	"time"
)

// storeDataGob is StoreData as gob writes it: a *time.Location has no exported fields,
// so the time zone travels by name.
type storeDataGob struct {
	Transactions                                                []Transaction
	Currency, Zone                                              string
	Orders, Refunds, SkippedOrders, SkippedRefunds, Implausible int
}

// GobEncode writes d with its time zone by name (the dashboard stores snapshots).
func (d StoreData) GobEncode() ([]byte, error) {
	w := storeDataGob{Transactions: d.Transactions, Currency: d.Currency, Orders: d.Orders, Refunds: d.Refunds,
		SkippedOrders: d.SkippedOrders, SkippedRefunds: d.SkippedRefunds, Implausible: d.Implausible}
	if d.Location != nil {
		w.Zone = d.Location.String()
	}
	var buf bytes.Buffer
	err := gob.NewEncoder(&buf).Encode(w)
	return buf.Bytes(), err
}

// GobDecode reads what GobEncode wrote.
func (d *StoreData) GobDecode(b []byte) error {
	var w storeDataGob
	if err := gob.NewDecoder(bytes.NewReader(b)).Decode(&w); err != nil {
		return err
	}
	*d = StoreData{Transactions: w.Transactions, Currency: w.Currency, Orders: w.Orders, Refunds: w.Refunds,
		SkippedOrders: w.SkippedOrders, SkippedRefunds: w.SkippedRefunds, Implausible: w.Implausible}
	if w.Zone != "" {
		loc, err := time.LoadLocation(w.Zone)
		if err != nil {
			return err
		}
		d.Location = loc
	}
	return nil
}
