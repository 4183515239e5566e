package importer

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/omniroi/omniroi/internal/event"
)

// Converted is what ConvertRecords made of some records.
type Converted struct {
	Events  []event.Event
	Skipped int        // records deliberately not imported (an unpaid order)
	Errors  []RowError // bad records, by their position (1-based) as Line
}

// ConvertRecords turns records into the events an import of them would store, without
// storing them: each record is a JSON object keyed like a column of a file of kind
// opt.Kind and preset opt.Preset (an order's line items are records of the same order
// id, its own fields on the first). Connectors use it so that an order received by
// webhook becomes the same events, by the same rules, as the same order in an export.
// sourceID is the source the events belong to; now stands for the time they arrive.
func ConvertRecords(opt Options, sourceID int64, now time.Time, records []map[string]any) (Converted, error) {
	var out Converted
	conv, err := newConverter(opt)
	if err != nil {
		return out, err
	}
	conv.setup(sourceID, now)
	var buf bytes.Buffer
	for _, rec := range records {
		b, err := json.Marshal(rec)
		if err != nil {
			return out, fmt.Errorf("encode record: %w", err)
		}
		buf.Write(b)
		buf.WriteByte('\n')
	}
	src := &jsonlSource{br: bufio.NewReader(&buf), parse: conv.wantsObjects()}
	emit := func(u *unit) {
		switch {
		case u.skipped:
			out.Skipped++
		case u.err != nil:
			out.Errors = append(out.Errors, *u.err)
		default:
			out.Events = append(out.Events, u.events...)
		}
	}
	for {
		r, err := src.next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return out, err
		}
		conv.add(r, emit)
	}
	conv.flush(emit)
	return out, nil
}

// OrderMessageID is the messageId of an order's "Order Completed" event as the orders
// importer writes it, so a connector can find the order it converted.
func OrderMessageID(orderID string) string { return idFor("import-order-", orderID) }
