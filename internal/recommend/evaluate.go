package recommend

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Metrics are the offline measures of one method at a cut-off k.
type Metrics struct {
	Recall   float64 `json:"recall_at_k"` // hits / min(k, products the customer bought after the split)
	NDCG     float64 `json:"ndcg_at_k"`   // binary relevance, ideal DCG over min(k, |test|)
	HitRate  float64 `json:"hit_rate"`    // customers with at least one hit
	Coverage float64 `json:"coverage"`    // distinct products recommended / products in the training period
}

// Evaluation compares a method with the popularity baseline on a time split.
type Evaluation struct {
	Model      Metrics `json:"model"`
	Popularity Metrics `json:"popularity"`
	Method     string  `json:"method"`
	K          int     `json:"k"`
	SplitDate  string  `json:"split_date"`
	// Customers is the number of test customers: bought before the split and bought a
	// product new to them on or after it.
	Customers     int `json:"test_customers"`
	TrainProducts int `json:"train_products"`
	TrainRows     int `json:"train_rows"`
	TestRows      int `json:"test_rows"`
}

// EvalOptions say what to evaluate.
type EvalOptions struct {
	Split  time.Time
	K      int
	Method string // ease (default) or knn
	// PopularWindow is the popularity baseline's window before the split (default 90 days,
	// the window the live "popular" list uses); negative: all of the training period.
	PopularWindow time.Duration
	KNN           KNNOptions
	EASELambda    float64 // default DefaultEASELambda
	EASEMaxItems  int     // default DefaultEASEMaxItems
}

// Methods Evaluate knows.
const (
	MethodKNN  = "knn"
	MethodEASE = "ease"
)

// DefaultKNN is the item-kNN configuration "for you" uses, chosen on Online Retail
// (docs/recommend.md, "Choosing the method").
var DefaultKNN = KNNOptions{K: 50, Alpha: 0.3, Shrink: 10, RowWeight: idfRowWeight}

// Defaults of EASE, the method "for you" uses (docs/recommend.md, "Choosing the method").
const (
	DefaultEASELambda   = 500
	DefaultEASEMaxItems = 3000
)

// Evaluate fits the method on the purchases before the split and measures how well its
// top k predicts the products each customer bought on or after the split that they had
// not bought before; the popularity baseline is measured on the same customers.
func Evaluate(txs []Interaction, opt EvalOptions) (Evaluation, error) {
	if opt.K <= 0 {
		opt.K = 10
	}
	if opt.Method == "" {
		opt.Method = MethodEASE
	}
	if opt.PopularWindow == 0 {
		opt.PopularWindow = 90 * 24 * time.Hour
	}
	if opt.KNN.K == 0 && opt.KNN.Shrink == 0 && opt.KNN.RowWeight == nil {
		opt.KNN = DefaultKNN
	}
	if opt.EASELambda == 0 {
		opt.EASELambda = DefaultEASELambda
	}
	if opt.EASEMaxItems == 0 {
		opt.EASEMaxItems = DefaultEASEMaxItems
	}
	ev := Evaluation{Method: opt.Method, K: opt.K, SplitDate: opt.Split.UTC().Format(time.DateOnly)}
	split := opt.Split.UnixMilli()
	train := newMatrix(txs, newIndex(), func(it *Interaction) bool { return it.Time < split })
	for i := range txs {
		if txs[i].Time < split {
			ev.TrainRows++
		} else {
			ev.TestRows++
		}
	}
	if train.users.len() == 0 {
		return ev, errors.New("no transactions before the split date")
	}
	if ev.TestRows == 0 {
		return ev, errors.New("no transactions on or after the split date")
	}
	ev.TrainProducts = train.items.len()
	// Test sets: products new to each training customer.
	test := map[int32]map[int32]bool{}
	for i := range txs {
		it := &txs[i]
		if it.Time < split {
			continue
		}
		u, ok := train.users.get(it.Customer)
		if !ok {
			continue
		}
		p, ok := train.items.get(it.Product)
		if !ok {
			continue // a product unknown before the split: no method can name it
		}
		if hasItem(train.userItems[u], p) {
			continue
		}
		if test[u] == nil {
			test[u] = map[int32]bool{}
		}
		test[u][p] = true
	}
	// Products never seen in training count in the denominator of recall: hits are
	// impossible for them for every method alike. Recount them here.
	unseen := map[int32]int{}
	for i := range txs {
		it := &txs[i]
		if it.Time < split {
			continue
		}
		if u, ok := train.users.get(it.Customer); ok {
			if _, known := train.items.get(it.Product); !known {
				unseen[u]++
			}
		}
	}
	users := make([]int32, 0, len(test))
	for u := range test {
		users = append(users, u)
	}
	sort.Slice(users, func(a, b int) bool { return users[a] < users[b] })
	ev.Customers = len(users)
	if len(users) == 0 {
		return ev, errors.New("no customer bought before the split and a new product after it")
	}

	pop := popularOrder(txs, train, split, opt.PopularWindow)
	var rec func(u int32) []int32
	switch opt.Method {
	case MethodKNN:
		nb := itemNeighbours(train, opt.KNN)
		n := train.items.len()
		acc, best, bestS := make([]float64, n), make([]int32, n), make([]float32, n)
		rec = func(u int32) []int32 {
			hist := train.userItems[u]
			s := scoreKNN(nb, hist, acc, best, bestS)
			return fillPopular(ids(topScored(s, opt.K, func(p int32) bool { return hasItem(hist, p) })), pop, hist, opt.K)
		}
	case MethodEASE:
		e, err := fitEASE(train, opt.EASELambda, opt.EASEMaxItems)
		if err != nil {
			return ev, err
		}
		rec = func(u int32) []int32 {
			hist := train.userItems[u]
			return fillPopular(ids(topScored(e.score(hist), opt.K, func(p int32) bool { return hasItem(hist, p) })), pop, hist, opt.K)
		}
	default:
		return ev, fmt.Errorf("unknown method %q (ease or knn)", opt.Method)
	}
	popRec := func(u int32) []int32 { return fillPopular(nil, pop, train.userItems[u], opt.K) }
	ev.Model = measure(users, test, unseen, rec, opt.K, train.items.len())
	ev.Popularity = measure(users, test, unseen, popRec, opt.K, train.items.len())
	return ev, nil
}

func ids(s []scored) []int32 {
	out := make([]int32, len(s))
	for i, x := range s {
		out[i] = x.item
	}
	return out
}

func hasItem(sorted []int32, p int32) bool {
	i := sort.Search(len(sorted), func(i int) bool { return sorted[i] >= p })
	return i < len(sorted) && sorted[i] == p
}

// fillPopular tops a list up to k with popular products the customer has not bought:
// the cold-start fallback every live list uses too.
func fillPopular(list, pop, hist []int32, k int) []int32 {
	if len(list) >= k {
		return list
	}
	seen := map[int32]bool{}
	for _, p := range list {
		seen[p] = true
	}
	for _, p := range pop {
		if len(list) == k {
			break
		}
		if !seen[p] && !hasItem(hist, p) {
			list = append(list, p)
			seen[p] = true
		}
	}
	return list
}

// popularOrder ranks the training products by distinct customers in the window before
// split (ties: all-time customers, then id order).
func popularOrder(txs []Interaction, train *matrix, split int64, window time.Duration) []int32 {
	from := int64(math.MinInt64)
	if window > 0 {
		from = split - window.Milliseconds()
	}
	recent := make([]map[int32]bool, train.items.len())
	for i := range txs {
		it := &txs[i]
		if it.Time >= split || it.Time < from {
			continue
		}
		p, _ := train.items.get(it.Product)
		u, _ := train.users.get(it.Customer)
		if recent[p] == nil {
			recent[p] = map[int32]bool{}
		}
		recent[p][u] = true
	}
	order := make([]int32, train.items.len())
	for i := range order {
		order[i] = int32(i)
	}
	sort.Slice(order, func(a, b int) bool {
		pa, pb := order[a], order[b]
		if len(recent[pa]) != len(recent[pb]) {
			return len(recent[pa]) > len(recent[pb])
		}
		if len(train.itemUsers[pa]) != len(train.itemUsers[pb]) {
			return len(train.itemUsers[pa]) > len(train.itemUsers[pb])
		}
		return pa < pb
	})
	return order
}

func measure(users []int32, test map[int32]map[int32]bool, unseen map[int32]int, rec func(int32) []int32, k, catalogue int) Metrics {
	var m Metrics
	covered := map[int32]bool{}
	for _, u := range users {
		list := rec(u)
		t := test[u]
		relevant := len(t) + unseen[u]
		hits, dcg := 0, 0.0
		for i, p := range list {
			covered[p] = true
			if t[p] {
				hits++
				dcg += 1 / math.Log2(float64(i+2))
			}
		}
		idcg := 0.0
		for i := 0; i < min(k, relevant); i++ {
			idcg += 1 / math.Log2(float64(i+2))
		}
		m.Recall += float64(hits) / float64(min(k, relevant))
		m.NDCG += dcg / idcg
		if hits > 0 {
			m.HitRate++
		}
	}
	n := float64(len(users))
	m.Recall /= n
	m.NDCG /= n
	m.HitRate /= n
	m.Coverage = float64(len(covered)) / float64(catalogue)
	return m
}

// TransactionStats say what ReadTransactions skipped.
type TransactionStats struct {
	Rows            int // data rows read
	NoCustomer      int // rows without a customer id (anonymous sales)
	NotPositive     int // rows with quantity <= 0 (returns, cancellations)
	ExcludedProduct int // rows of a product in the exclude list
}

// ReadTransactions reads a CSV of customer_id,product_id,timestamp[,quantity] (any column
// order, by header; the UCI Online Retail names CustomerID, StockCode, InvoiceDate,
// Quantity are accepted too). Rows with an empty customer or a quantity <= 0 are skipped
// and counted; a bad timestamp or quantity is an error naming its line. Purchases made
// by one customer at one timestamp form one basket.
func ReadTransactions(r io.Reader, exclude map[string]bool) ([]Interaction, TransactionStats, error) {
	var st TransactionStats
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	cr.ReuseRecord = true
	cr.LazyQuotes = true
	hdr, err := cr.Read()
	if err != nil {
		if errors.Is(err, io.EOF) {
			return nil, st, errors.New("the file is empty")
		}
		return nil, st, fmt.Errorf("read header: %w", err)
	}
	col := map[string]int{}
	for i, h := range hdr {
		k := strings.ToLower(strings.TrimSpace(strings.TrimPrefix(h, "\ufeff")))
		k = strings.NewReplacer(" ", "_", "-", "_").Replace(k)
		if _, dup := col[k]; !dup {
			col[k] = i
		}
	}
	find := func(names ...string) int {
		for _, n := range names {
			if i, ok := col[n]; ok {
				return i
			}
		}
		return -1
	}
	ci := find("customer_id", "customerid", "customer")
	pi := find("product_id", "productid", "stockcode", "stock_code", "sku")
	ti := find("timestamp", "invoicedate", "invoice_date", "date", "time")
	qi := find("quantity", "qty")
	if ci < 0 || pi < 0 || ti < 0 {
		return nil, st, fmt.Errorf("line 1: the header needs customer_id, product_id and timestamp (got %q)", strings.Join(hdr, ","))
	}
	var out []Interaction
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		line, _ := cr.FieldPos(0)
		if err != nil {
			return nil, st, fmt.Errorf("line %d: %w", line, err)
		}
		if len(rec) == 1 && strings.TrimSpace(rec[0]) == "" {
			continue
		}
		st.Rows++
		field := func(i int) string {
			if i < 0 || i >= len(rec) {
				return ""
			}
			return strings.TrimSpace(rec[i])
		}
		cust, prod := field(ci), field(pi)
		if prod == "" {
			return nil, st, fmt.Errorf("line %d: empty product_id", line)
		}
		q := 1.0
		if s := field(qi); s != "" {
			if q, err = strconv.ParseFloat(s, 64); err != nil {
				return nil, st, fmt.Errorf("line %d, column quantity: %q is not a number", line, s)
			}
		}
		ts, err := parseTimestamp(field(ti))
		if err != nil {
			return nil, st, fmt.Errorf("line %d, column timestamp: %w", line, err)
		}
		switch {
		case cust == "":
			st.NoCustomer++
			continue
		case q <= 0:
			st.NotPositive++
			continue
		case exclude[prod]:
			st.ExcludedProduct++
			continue
		}
		ms := ts.UnixMilli()
		out = append(out, Interaction{Customer: cust, Product: prod, Time: ms, Quantity: q,
			Basket: cust + "\x00" + strconv.FormatInt(ms, 10), Kind: Purchase})
	}
	return out, st, nil
}

var tsLayouts = []string{time.RFC3339Nano, "2006-01-02 15:04:05", "2006-01-02T15:04:05", "2006-01-02 15:04", "2006-01-02"}

func parseTimestamp(s string) (time.Time, error) {
	for _, l := range tsLayouts {
		if t, err := time.Parse(l, s); err == nil {
			return t.UTC(), nil
		}
	}
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		if n > 1e12 {
			return time.UnixMilli(n).UTC(), nil
		}
		return time.Unix(n, 0).UTC(), nil
	}
	return time.Time{}, fmt.Errorf("%q is not a timestamp (ISO 8601 like 2011-09-01T10:30:00Z, or unix seconds)", s)
}
