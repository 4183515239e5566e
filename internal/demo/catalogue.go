package demo

import (
	"context"
	"strconv"
	"time"

	"github.com/omniroi/omniroi/internal/catalog"
	"github.com/omniroi/omniroi/internal/store"
)

// Catalogue is the demo bakery's product catalogue: every product of the shop counter,
// the web shop and the seasons, with a link and a picture on the demo site, a cost (about
// 35–45% of the price: ingredients and packaging) and stock per location.
func Catalogue() ([]catalog.Product, []catalog.Stock) {
	var ps []catalog.Product
	var st []catalog.Stock
	for i, p := range allProducts {
		cost := p.price * int64(35+i%3*5) / 100
		ps = append(ps, catalog.Product{ID: p.id, SKU: p.id, Title: p.name, Category: p.category, PriceMinor: p.price, CostMinor: cost,
			Currency: "EUR", URL: SiteURL + "/products/" + p.id, ImageURL: SiteURL + "/img/" + p.id + ".jpg",
			Availability: catalog.InStock, Brand: "Crumb & Co.", Origin: "demo", Trusted: true})
		// Counter products are baked daily for the shop; web products wait in the back.
		switch p.id[0] {
		case 'p':
			st = append(st, catalog.Stock{ProductID: p.id, Location: "store", Quantity: int64(12 + i*3%20)})
		case 'w':
			st = append(st, catalog.Stock{ProductID: p.id, Location: "web", Quantity: int64(4 + i%7)})
		default: // seasonal: both
			st = append(st, catalog.Stock{ProductID: p.id, Location: "store", Quantity: 10},
				catalog.Stock{ProductID: p.id, Location: "web", Quantity: int64(i % 4)}) // some sold out online
		}
	}
	return ps, st
}

// LoadCatalogue writes the demo catalogue and stock into db.
func LoadCatalogue(ctx context.Context, db *store.DB) (int, error) {
	ps, st := Catalogue()
	now := time.Now().UTC()
	err := db.Write(ctx, func(tx *store.Tx) error {
		if _, _, err := catalog.Upsert(ctx, tx, ps, now); err != nil {
			return err
		}
		_, err := catalog.SetStock(ctx, tx, st, now)
		return err
	})
	return len(ps), err
}

// Tastes returns the hidden taste group (an index of TasteNames) of every person of the
// world cfg builds, by each identifier their events carry: userId, both anonymous ids,
// the loyalty card and the newsletter id.
func Tastes(cfg Config) (map[string]int, error) {
	w, err := newWorld(cfg)
	if err != nil {
		return nil, err
	}
	out := make(map[string]int, 5*w.cfg.Customers)
	for id := uint32(0); id < uint32(w.cfg.Customers); id++ {
		t := w.taste(id)
		h := mix64(w.seedHash ^ uint64(id) ^ 0x8ebc6af09c88c6e3)
		for _, k := range []string{"anon-" + hex32(h), "anon-" + hex32(mix64(h+1)), "cus_" + strconv.FormatUint(uint64(id)+100000, 10),
			"loy_" + strconv.FormatUint(uint64(id)*7+500003, 10), "sub_" + strconv.FormatUint(uint64(id)+100000, 10)} {
			out[k] = t
		}
	}
	return out, nil
}

// TasteProducts lists the product ids of each taste group.
func TasteProducts() [][]string {
	out := make([][]string, len(tasteGroups))
	for i, g := range tasteGroups {
		for _, p := range g {
			out[i] = append(out[i], p.id)
		}
	}
	return out
}
