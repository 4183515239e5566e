package goals

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/omniroi/omniroi/internal/audit"
	"github.com/omniroi/omniroi/internal/mix"
	"github.com/omniroi/omniroi/internal/money"
	"github.com/omniroi/omniroi/internal/store"
	"github.com/omniroi/omniroi/internal/workspace"
)

// The metrics a goal can have: the store targets of the budget model (mix.LoadTarget),
// read the same way.
const (
	MetricRevenue      = mix.TargetRevenue      // net of refunds, business currency
	MetricOrders       = mix.TargetOrders       // orders placed
	MetricNewCustomers = mix.TargetNewCustomers // customers placing their first order
)

// Metrics lists the goal metrics.
var Metrics = []string{MetricRevenue, MetricOrders, MetricNewCustomers}

// MaxAhead is how far ahead a goal's date may be: beyond it a forecast says nothing.
const MaxAhead = 3 * 366

var (
	ErrNotFound = errors.New("no such goal")
	ErrExists   = errors.New("a goal of that name exists")
	nameRE      = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9 ._-]{0,63}$`)
)

// Goal is a metric to reach by a day. Days are the shop's calendar days, both included.
type Goal struct {
	Name   string `json:"name"`
	Metric string `json:"metric"`
	// Target is in minor units of Currency for revenue, a count otherwise.
	Target    int64     `json:"target_minor"`
	Currency  string    `json:"currency,omitempty"`
	From      time.Time `json:"-"`
	By        time.Time `json:"-"`
	CreatedAt time.Time `json:"created_at"`
}

// Money reports whether the goal's metric is an amount of money.
func (g Goal) Money() bool { return g.Metric == MetricRevenue }

// TargetValue is the target in major units (money) or as a count.
func (g Goal) TargetValue() float64 {
	if g.Money() {
		return money.Major(g.Target, g.Currency)
	}
	return float64(g.Target)
}

// Input is a goal as a user writes it.
type Input struct {
	Name   string `json:"name"`
	Metric string `json:"metric"`
	Target string `json:"target"` // "15000", "15000.50"; a count for orders and new customers
	From   string `json:"from"`   // YYYY-MM-DD; "" is today
	By     string `json:"by"`     // YYYY-MM-DD
}

// Parse checks in and makes the goal; revenue goals take the business currency. today
// is the shop's current calendar day.
func Parse(ctx context.Context, db *store.DB, in Input, today time.Time) (Goal, error) {
	g := Goal{Name: strings.TrimSpace(in.Name), Metric: strings.TrimSpace(in.Metric)}
	if !nameRE.MatchString(g.Name) {
		return g, fmt.Errorf("goal name %q: 1 to 64 letters, digits, spaces, dots, dashes or underscores, starting with a letter or digit", in.Name)
	}
	if g.Metric == "" {
		g.Metric = MetricRevenue
	}
	if !slices.Contains(Metrics, g.Metric) {
		return g, fmt.Errorf("metric %q: want one of %s", in.Metric, strings.Join(Metrics, ", "))
	}
	t := strings.TrimSpace(in.Target)
	if t == "" {
		return g, errors.New("a goal needs a target (--target AMOUNT)")
	}
	if g.Money() {
		cur, err := workspace.Currency(ctx, db)
		if err != nil {
			return g, err
		}
		g.Currency = cur
		if g.Target, err = money.ParseDecimal(strings.TrimPrefix(t, "+"), cur); err != nil {
			return g, fmt.Errorf("target %q: %w", t, err)
		}
	} else {
		n, err := strconv.ParseInt(strings.ReplaceAll(t, ",", ""), 10, 64)
		if err != nil {
			return g, fmt.Errorf("target %q: a whole number of %s", t, noun(g.Metric))
		}
		g.Target = n
	}
	if g.Target <= 0 {
		return g, fmt.Errorf("target %q: must be more than 0", t)
	}
	var err error
	if g.By, err = parseDay(in.By); err != nil {
		return g, fmt.Errorf("by: %w", err)
	}
	if g.By.IsZero() {
		return g, errors.New("a goal needs a date (--by YYYY-MM-DD)")
	}
	if g.From, err = parseDay(in.From); err != nil {
		return g, fmt.Errorf("from: %w", err)
	}
	if g.From.IsZero() {
		g.From = today
	}
	if g.By.Before(g.From) {
		return g, fmt.Errorf("the date %s is before the start %s", day(g.By), day(g.From))
	}
	if g.By.After(today.AddDate(0, 0, MaxAhead)) {
		return g, fmt.Errorf("the date %s is more than three years ahead: no forecast reaches that far", day(g.By))
	}
	return g, nil
}

func parseDay(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		return t, fmt.Errorf("%q: want YYYY-MM-DD", s)
	}
	return t, nil
}

func day(t time.Time) string { return t.Format(time.DateOnly) }

// Add stores g; a goal of the same name is ErrExists. The audit log records who.
func Add(ctx context.Context, db *store.DB, g Goal, actor string) error {
	if g.CreatedAt.IsZero() {
		g.CreatedAt = time.Now()
	}
	return db.Write(ctx, func(tx *store.Tx) error {
		var n int
		if err := tx.QueryRow(ctx, `SELECT COUNT(*) FROM goals WHERE name = ?`, g.Name).Scan(&n); err != nil {
			return fmt.Errorf("add goal: %w", err)
		}
		if n > 0 {
			return fmt.Errorf("%w: %s (remove it first)", ErrExists, g.Name)
		}
		if _, err := tx.Exec(ctx, `INSERT INTO goals (name, metric, target, currency, from_day, by_day, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)`,
			g.Name, g.Metric, g.Target, g.Currency, day(g.From), day(g.By), g.CreatedAt.UnixMilli()); err != nil {
			return fmt.Errorf("add goal: %w", err)
		}
		return audit.Record(ctx, tx, audit.Entry{Actor: actor, Action: "goal.add", Target: "goal:" + g.Name,
			Detail: map[string]any{"metric": g.Metric, "target": g.Target, "currency": g.Currency, "from": day(g.From), "by": day(g.By)}})
	})
}

// Remove deletes the goal named name (ErrNotFound when there is none).
func Remove(ctx context.Context, db *store.DB, name, actor string) error {
	return db.Write(ctx, func(tx *store.Tx) error {
		res, err := tx.Exec(ctx, `DELETE FROM goals WHERE name = ?`, name)
		if err != nil {
			return fmt.Errorf("remove goal: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return fmt.Errorf("%w: %s", ErrNotFound, name)
		}
		return audit.Record(ctx, tx, audit.Entry{Actor: actor, Action: "goal.remove", Target: "goal:" + name})
	})
}

// List returns the goals by date, then name.
func List(ctx context.Context, db *store.DB) ([]Goal, error) {
	rows, err := db.Query(ctx, `SELECT name, metric, target, currency, from_day, by_day, created_at FROM goals ORDER BY by_day, name`)
	if err != nil {
		return nil, fmt.Errorf("list goals: %w", err)
	}
	defer rows.Close()
	var out []Goal
	for rows.Next() {
		var g Goal
		var from, by string
		var created int64
		if err := rows.Scan(&g.Name, &g.Metric, &g.Target, &g.Currency, &from, &by, &created); err != nil {
			return nil, fmt.Errorf("list goals: %w", err)
		}
		g.From, _ = time.Parse(time.DateOnly, from)
		g.By, _ = time.Parse(time.DateOnly, by)
		g.CreatedAt = time.UnixMilli(created).UTC()
		out = append(out, g)
	}
	return out, rows.Err()
}

// Get returns the goal named name.
func Get(ctx context.Context, db *store.DB, name string) (Goal, error) {
	gs, err := List(ctx, db)
	if err != nil {
		return Goal{}, err
	}
	for _, g := range gs {
		if g.Name == name {
			return g, nil
		}
	}
	return Goal{}, fmt.Errorf("%w: %s", ErrNotFound, name)
}
