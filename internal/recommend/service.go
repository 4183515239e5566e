package recommend

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/omniroi/omniroi/internal/catalog"
	"github.com/omniroi/omniroi/internal/identity"
	"github.com/omniroi/omniroi/internal/store"
	"github.com/omniroi/omniroi/internal/workspace"
)

// Service keeps a model current: it is rebuilt when the data version changes (the
// processor's cursor, the product follower's, the catalogue, the rules and the
// settings), at most once per recommend.refresh, in the background, while requests are
// answered from the previous model. A full rebuild was measured cheaper than the
// bookkeeping of incremental updates at a small shop's size (docs/recommend.md).
type Service struct {
	db  *store.DB
	log *slog.Logger

	model   atomic.Pointer[Model]
	build   sync.Mutex // one build at a time
	lastTry atomic.Int64
	actions actionCache // next best actions of a model (actions.go)
	// savedAt is when the last stored model was built (guarded by build).
	savedAt time.Time
}

// The model is kept across restarts in the analysis_snapshots table (docs/decisions.md,
// "Results across restarts"): a service's first build reads the stored model and uses
// it when it was built at the current data version and product rules; a build writes
// its model, at most every storeEvery, unless an erasure committed meanwhile.
const (
	snapKey    = "recommend"
	storeEvery = 10 * time.Minute
)

// snapFormat names the stored model's encoding and form revision.
func snapFormat() string { return fmt.Sprintf("gob:recommend/%d", modelFormat) }

// NewService makes a service; the first Model call builds.
func NewService(db *store.DB, log *slog.Logger) *Service {
	if log == nil {
		log = slog.Default()
	}
	return &Service{db: db, log: log}
}

// DataVersion fingerprints everything a model depends on.
func DataVersion(ctx context.Context, db *store.DB) (string, error) {
	var parts []string
	for _, k := range []string{"processor.cursor", catalog.CursorSetting} {
		v, _, err := db.Setting(ctx, k)
		if err != nil {
			return "", err
		}
		parts = append(parts, v)
	}
	cv, err := catalog.Version(ctx, db)
	if err != nil {
		return "", err
	}
	parts = append(parts, cv)
	for _, k := range workspace.Keys() {
		if k.Group == "recommendations" || k.Name == workspace.ShopURLKey.Name || k.Name == workspace.LinkDomainsKey.Name {
			v, err := workspace.Get(ctx, db, k.Name)
			if err != nil {
				return "", err
			}
			parts = append(parts, v)
		}
	}
	return strings.Join(parts, "|"), nil
}

// BuildFromStore reads the products follower up to the end of the log, then builds.
func BuildFromStore(ctx context.Context, db *store.DB) (*Model, error) {
	if err := catalog.CatchUp(ctx, db); err != nil {
		return nil, err
	}
	v, err := DataVersion(ctx, db)
	if err != nil {
		return nil, err
	}
	d, err := LoadData(ctx, db)
	if err != nil {
		return nil, err
	}
	m, err := Build(d)
	if err != nil {
		return nil, err
	}
	m.Version = v
	return m, nil
}

// Model returns the current model, building the first one.
func (s *Service) Model(ctx context.Context) (*Model, error) {
	if m := s.model.Load(); m != nil {
		return m, nil
	}
	if err := s.Refresh(ctx, true); err != nil {
		return nil, err
	}
	return s.model.Load(), nil
}

// Refresh rebuilds the model when the data changed and the refresh interval has passed
// since the last build (force skips the interval).
func (s *Service) Refresh(ctx context.Context, force bool) error {
	s.build.Lock()
	defer s.build.Unlock()
	cur := s.model.Load()
	if cur != nil && !force {
		rules, err := LoadRules(ctx, s.db)
		if err != nil {
			return err
		}
		if time.Since(cur.Built) < rules.Refresh {
			return nil
		}
	}
	if err := catalog.CatchUp(ctx, s.db); err != nil {
		return err
	}
	v, err := DataVersion(ctx, s.db)
	if err != nil {
		return err
	}
	if cur != nil && cur.Version == v {
		return nil
	}
	pins, err := ListProductRules(ctx, s.db)
	if err != nil {
		return err
	}
	sv := storedVersion(v, pins)
	if cur == nil {
		if m, err := s.stored(ctx, v, sv); err != nil {
			s.log.Warn("recommendations: read stored model", "err", err)
		} else if m != nil {
			s.savedAt = m.Built
			s.model.Store(m)
			return nil
		}
	}
	// Read before the build reads the data: an erasure that commits after this keeps
	// the model out of the store (it may hold the erased person).
	guard, _, gerr := s.db.Setting(ctx, identity.EpochSetting)
	m, err := BuildFromStore(ctx, s.db)
	if err != nil {
		return err
	}
	s.model.Store(m)
	if gerr == nil && m.Version == v && m.Built.Sub(s.savedAt) >= storeEvery {
		s.savedAt = m.Built
		go s.save(m, sv, guard)
	}
	return nil
}

// storedVersion is what a stored model must have been built at to be used: the data
// version and the product rules (pins and blocks are read at the build and are not in
// DataVersion).
func storedVersion(v string, pins []ProductRule) string {
	var b strings.Builder
	b.WriteString(v)
	b.WriteString("#rules:")
	for _, p := range pins {
		fmt.Fprintf(&b, "%q,%q,%q;", p.ProductID, p.Placement, p.Rule)
	}
	return b.String()
}

// stored is the stored model of version sv, with the catalogue and rules of the store
// (which v, its data version, covers); nil when there is none.
func (s *Service) stored(ctx context.Context, v, sv string) (*Model, error) {
	row, ok, err := s.db.LoadSnapshot(ctx, snapKey)
	if err != nil || !ok || row.Format != snapFormat() || row.Version != sv {
		return nil, err
	}
	cat, err := catalog.Load(ctx, s.db)
	if err != nil {
		return nil, err
	}
	rules, err := LoadRules(ctx, s.db)
	if err != nil {
		return nil, err
	}
	m, err := UnmarshalModel(row.Body, cat, rules)
	if err != nil || m.Version != v {
		return nil, err
	}
	return m, nil
}

// save writes m as the stored model, when the guard read before its build still holds.
func (s *Service) save(m *Model, sv, guard string) {
	body, err := m.MarshalBinary()
	if err != nil {
		s.log.Warn("recommendations: store model", "err", err)
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	err = s.db.SaveSnapshot(ctx, store.AnalysisSnapshot{Key: snapKey, Version: sv, Format: snapFormat(), At: m.Built, Body: body}, identity.EpochSetting, guard)
	if err != nil && !errors.Is(err, store.ErrGuardMoved) {
		s.log.Warn("recommendations: store model", "err", err)
	}
}

// Run refreshes the model in the background until ctx ends.
func (s *Service) Run(ctx context.Context, every time.Duration) {
	if every <= 0 {
		every = 5 * time.Second
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		if err := s.Refresh(ctx, false); err != nil && ctx.Err() == nil {
			s.log.Warn("recommendations: refresh", "err", err)
		}
		if err := s.refreshActions(ctx); err != nil && ctx.Err() == nil {
			s.log.Warn("next best actions: refresh", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// ForCustomer recommends for a known customer (0: nobody known), applying the
// personalisation consent.
func (s *Service) ForCustomer(ctx context.Context, customerID int64, req Request) ([]Recommendation, error) {
	m, err := s.Model(ctx)
	if err != nil {
		return nil, err
	}
	req.CustomerID = customerID
	return s.ForCustomerWith(ctx, m, req)
}

// ForCustomerWith is ForCustomer with a given model (req.CustomerID names the customer).
func (s *Service) ForCustomerWith(ctx context.Context, m *Model, req Request) ([]Recommendation, error) {
	var err error
	if req.CustomerID != 0 {
		if req.Personalised, err = CustomerPersonalised(ctx, s.db, req.CustomerID, m.rules.DefaultConsent); err != nil {
			return nil, err
		}
	}
	return m.Recommend(req), nil
}

// ShopHosts are the shop's own domains: links.allowed_domains, else shop_url's host.
func ShopHosts(ctx context.Context, db *store.DB) ([]string, error) {
	v, err := workspace.Get(ctx, db, workspace.LinkDomainsKey.Name)
	if err != nil {
		return nil, err
	}
	hosts := workspace.SplitList(v)
	shop, err := workspace.ShopURL(ctx, db)
	if err != nil {
		return nil, err
	}
	if h := hostOf(shop); h != "" {
		hosts = append(hosts, h)
	}
	return hosts, nil
}

func hostOf(raw string) string {
	i := strings.Index(raw, "://")
	if i < 0 {
		return ""
	}
	h := raw[i+3:]
	if j := strings.IndexAny(h, "/?#"); j >= 0 {
		h = h[:j]
	}
	if j := strings.LastIndex(h, ":"); j >= 0 && !strings.Contains(h[j:], "]") {
		h = h[:j]
	}
	return strings.ToLower(strings.TrimSuffix(h, "."))
}

// customerRef is a person a web request names.
type customerRef struct {
	id           int64
	personalised bool
	shared       bool
}

// resolve finds the customer behind an identifier (kind user_id or anonymous_id).
func resolve(ctx context.Context, db *store.DB, kind, value string, def bool) (customerRef, error) {
	var ref customerRef
	var shared int
	var traits string
	err := db.QueryRow(ctx, `SELECT i.customer_id, i.shared, c.traits FROM identities i JOIN customers c ON c.id = i.customer_id
		WHERE i.kind = ? AND i.value = ?`, kind, value).Scan(&ref.id, &shared, &traits)
	if err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return customerRef{}, nil
		}
		return ref, fmt.Errorf("look up %s: %w", kind, err)
	}
	ref.shared = shared != 0
	ref.personalised = !ref.shared && Personalised(traits, def)
	return ref, nil
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
