package journey

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"sort"

	"github.com/omniroi/omniroi/internal/event"
	"github.com/omniroi/omniroi/internal/identity"
	"github.com/omniroi/omniroi/internal/store"
)

// Reads for a whole batch at once: one statement per kind of fact (customers of the
// events, merges, open runs, past runs, profiles, consent, suppressions) instead of one
// per event or send.

type statKey struct {
	journey string
	cid     int64
	key     string
}

// runStat summarises a customer's runs of a journey for one entry key (re-entry rules).
type runStat struct {
	count, active, lastStart int64
}

type consentKey struct {
	cid              int64
	channel, purpose string
}

// customersOf resolves each event's customer (0: not derived yet): by userId first,
// then anonymousId, as the processor links them.
func (w *work) customersOf(ctx context.Context, evs []*event.Event) ([]int64, error) {
	byKind := map[string]map[string]int64{"user_id": {}, "anonymous_id": {}}
	for _, ev := range evs {
		if v := identity.NormalizeID(ev.UserID); v != "" {
			byKind["user_id"][v] = 0
		}
		if v := identity.NormalizeID(ev.AnonymousID); v != "" {
			byKind["anonymous_id"][v] = 0
		}
	}
	for _, kind := range []string{"user_id", "anonymous_id"} {
		m := byKind[kind]
		if len(m) == 0 {
			continue
		}
		vals := make([]string, 0, len(m))
		for v := range m {
			vals = append(vals, v)
		}
		cond, arg := store.InText(w.tx.Dialect, "value", vals)
		rows, err := w.q.Query(ctx, `SELECT value, customer_id FROM identities WHERE kind = '`+kind+`' AND `+cond, arg)
		if err != nil {
			return nil, fmt.Errorf("event customers: %w", err)
		}
		for rows.Next() {
			var v string
			var id int64
			if err := rows.Scan(&v, &id); err != nil {
				rows.Close()
				return nil, err
			}
			m[v] = id
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, err
		}
	}
	out := make([]int64, len(evs))
	for i, ev := range evs {
		if id := byKind["user_id"][identity.NormalizeID(ev.UserID)]; id != 0 {
			out[i] = id
		} else {
			out[i] = byKind["anonymous_id"][identity.NormalizeID(ev.AnonymousID)]
		}
	}
	return out, nil
}

// loadMerges reads the merge tree under each of cids (a few levels deep, as mergedInto walks).
func (w *work) loadMerges(ctx context.Context, cids []int64) error {
	if w.merges == nil {
		w.merges = map[int64][]int64{}
	}
	frontier := cids
	for level := 0; level < 16 && len(frontier) > 0; level++ {
		need := map[int64][]int64{}
		for _, id := range frontier {
			if _, ok := w.merges[id]; !ok {
				need[id] = nil
			}
		}
		if len(need) == 0 {
			return nil
		}
		cond, arg := store.InInt64(w.tx.Dialect, "survivor_id", sortedIDs(need))
		rows, err := w.q.Query(ctx, `SELECT survivor_id, merged_id FROM customer_merges WHERE `+cond, arg)
		if err != nil {
			return fmt.Errorf("customer merges: %w", err)
		}
		frontier = frontier[:0:0]
		for rows.Next() {
			var s, m int64
			if err := rows.Scan(&s, &m); err != nil {
				rows.Close()
				return err
			}
			need[s] = append(need[s], m)
			frontier = append(frontier, m)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		for id, ms := range need {
			w.merges[id] = ms
		}
	}
	return nil
}

// mergedInto lists cid and the customers merged into it (transitively, a few levels).
func (w *work) mergedInto(ctx context.Context, cid int64) ([]int64, error) {
	ids := []int64{cid}
	for i := 0; i < len(ids) && i < 16; i++ {
		ms, ok := w.merges[ids[i]]
		if !ok {
			if err := w.loadMerges(ctx, []int64{ids[i]}); err != nil {
				return nil, err
			}
			ms = w.merges[ids[i]]
		}
		ids = append(ids, ms...)
	}
	return ids, nil
}

const runCols = `id, journey, version, customer_id, entry_key, step, holdout, entry_props, started_at, entry_seq, status`

func scanRun(rows *sql.Rows) (*run, error) {
	r := &run{}
	var h int
	var pr string
	if err := rows.Scan(&r.ID, &r.Journey, &r.Version, &r.CustomerID, &r.Key, &r.Step, &h, &pr, &r.StartedAt, &r.EntrySeq, &r.status); err != nil {
		return nil, err
	}
	r.Holdout, r.Props = h == 1, json.RawMessage(pr)
	return r, nil
}

// loadOpen reads the active runs of customers not read yet in this batch.
func (w *work) loadOpen(ctx context.Context, cids []int64) error {
	if w.open == nil {
		w.open, w.openLoaded = map[int64][]*run{}, map[int64]bool{}
	}
	need := map[int64]bool{}
	for _, id := range cids {
		if !w.openLoaded[id] {
			need[id] = true
		}
	}
	if len(need) == 0 {
		return nil
	}
	cond, arg := store.InInt64(w.tx.Dialect, "customer_id", sortedIDs(need))
	rows, err := w.q.Query(ctx, `SELECT `+runCols+` FROM journey_runs WHERE status = 'active' AND `+cond+` ORDER BY id`, arg)
	if err != nil {
		return fmt.Errorf("open runs: %w", err)
	}
	defer rows.Close()
	for id := range need {
		w.openLoaded[id] = true
	}
	for rows.Next() {
		r, err := scanRun(rows)
		if err != nil {
			return err
		}
		w.open[r.CustomerID] = append(w.open[r.CustomerID], r)
	}
	return rows.Err()
}

func (w *work) openRuns(ctx context.Context, cid int64) ([]*run, error) {
	if !w.openLoaded[cid] {
		if err := w.loadOpen(ctx, []int64{cid}); err != nil {
			return nil, err
		}
	}
	return w.open[cid], nil
}

// loadStats reads, per journey and entry key, how many runs customers had, how many are
// active and when the last started.
func (w *work) loadStats(ctx context.Context, cids []int64) error {
	if w.stats == nil {
		w.stats, w.statsLoaded = map[statKey]*runStat{}, map[int64]bool{}
	}
	need := map[int64]bool{}
	for _, id := range cids {
		if !w.statsLoaded[id] {
			need[id] = true
		}
	}
	if len(need) == 0 {
		return nil
	}
	cond, arg := store.InInt64(w.tx.Dialect, "customer_id", sortedIDs(need))
	rows, err := w.q.Query(ctx, `SELECT journey, customer_id, entry_key, COUNT(*), COALESCE(SUM(CASE WHEN status = 'active' THEN 1 ELSE 0 END), 0), COALESCE(MAX(started_at), 0)
		FROM journey_runs WHERE `+cond+` GROUP BY journey, customer_id, entry_key`, arg)
	if err != nil {
		return fmt.Errorf("past runs: %w", err)
	}
	defer rows.Close()
	for id := range need {
		w.statsLoaded[id] = true
	}
	for rows.Next() {
		var k statKey
		st := &runStat{}
		if err := rows.Scan(&k.journey, &k.cid, &k.key, &st.count, &st.active, &st.lastStart); err != nil {
			return err
		}
		w.stats[k] = st
	}
	return rows.Err()
}

// loadProfiles reads the profiles of customers ids into w.profiles, as loadProfile
// would one by one. Customers gone (merged away) or not derived yet take loadProfile's
// own path.
func (w *work) loadProfiles(ctx context.Context, ids []int64) error {
	need := map[int64]bool{}
	for _, id := range ids {
		if _, ok := w.profiles[id]; !ok {
			need[id] = true
		}
	}
	if len(need) == 0 {
		return nil
	}
	d := w.tx.Dialect
	cond, arg := store.InInt64(d, "id", sortedIDs(need))
	rows, err := w.q.Query(ctx, `SELECT id, name, email, phone, traits, user_id FROM customers WHERE `+cond, arg)
	if err != nil {
		return fmt.Errorf("profiles: %w", err)
	}
	found := map[int64]*Profile{}
	var anon []int64
	for rows.Next() {
		p := &Profile{Traits: map[string]any{}}
		var traits string
		if err := rows.Scan(&p.ID, &p.Name, &p.Email, &p.Phone, &traits, &p.UserID); err != nil {
			rows.Close()
			return fmt.Errorf("profiles: %w", err)
		}
		p.fill(traits)
		if p.UserID == "" {
			anon = append(anon, p.ID)
		}
		found[p.ID] = p
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("profiles: %w", err)
	}
	if len(anon) > 0 {
		cond, arg := store.InInt64(d, "customer_id", anon)
		rows, err := w.q.Query(ctx, `SELECT customer_id, value FROM identities WHERE kind || '' = 'anonymous_id' AND `+cond+` ORDER BY customer_id, first_seen DESC`, arg)
		if err != nil {
			return fmt.Errorf("profiles: identities: %w", err)
		}
		for rows.Next() {
			var id int64
			var v string
			if err := rows.Scan(&id, &v); err != nil {
				rows.Close()
				return err
			}
			found[id].AnonymousID = v // the last row per customer is the first seen
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
	}
	if len(found) > 0 {
		cond, arg := store.InInt64(d, "customer_id", sortedIDs(found))
		rows, err := w.q.Query(ctx, `SELECT customer_id, segment FROM segment_changes WHERE id IN (SELECT MAX(id) FROM segment_changes WHERE `+cond+` GROUP BY customer_id)`, arg)
		if err != nil {
			return fmt.Errorf("profiles: segments: %w", err)
		}
		for rows.Next() {
			var id int64
			var seg string
			if err := rows.Scan(&id, &seg); err != nil {
				rows.Close()
				return err
			}
			found[id].Segment = seg
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
	}
	for id := range need {
		if p := found[id]; p != nil {
			w.profiles[id] = p
			continue
		}
		p, err := loadProfile(ctx, w.q, id)
		if err != nil {
			return err
		}
		w.profiles[id] = p
	}
	return nil
}

// loadConsent reads the journey_consent rows of customers ids.
func (w *work) loadConsent(ctx context.Context, ids []int64) error {
	if w.consent == nil {
		w.consent, w.consentFor = map[consentKey]bool{}, map[int64]bool{}
	}
	need := map[int64]bool{}
	for _, id := range ids {
		if !w.consentFor[id] {
			need[id] = true
		}
	}
	if len(need) == 0 {
		return nil
	}
	cond, arg := store.InInt64(w.tx.Dialect, "customer_id", sortedIDs(need))
	rows, err := w.q.Query(ctx, `SELECT customer_id, channel, purpose, granted FROM journey_consent WHERE `+cond, arg)
	if err != nil {
		return fmt.Errorf("read consent: %w", err)
	}
	defer rows.Close()
	for id := range need {
		w.consentFor[id] = true
	}
	for rows.Next() {
		var k consentKey
		var g int
		if err := rows.Scan(&k.cid, &k.channel, &k.purpose, &g); err != nil {
			return err
		}
		w.consent[k] = g == 1
	}
	return rows.Err()
}

// hasConsent is the package's hasConsent answered from the batch's consent rows.
func (w *work) hasConsent(ctx context.Context, p *Profile, channel, purpose string) (bool, error) {
	if !w.consentFor[p.ID] {
		return hasConsent(ctx, w.q, p, channel, purpose)
	}
	if g, ok := w.consent[consentKey{p.ID, channel, purpose}]; ok {
		return g, nil
	}
	if v, ok, _ := consentTrait(p, channel, purpose); ok {
		return v, nil
	}
	return purpose == "transactional", nil
}

// consentRow is the batch's journey_consent decision for p, if there is one.
func (w *work) consentRow(ctx context.Context, p *Profile, channel, purpose string) (granted, found bool, err error) {
	if !w.consentFor[p.ID] {
		if err := w.loadConsent(ctx, []int64{p.ID}); err != nil {
			return false, false, err
		}
	}
	g, ok := w.consent[consentKey{p.ID, channel, purpose}]
	return g, ok, nil
}

// loadSuppressions reads which of the (channel, normalised address) pairs are suppressed.
func (w *work) loadSuppressions(ctx context.Context, pairs [][2]string) error {
	if w.suppressed == nil {
		w.suppressed = map[[2]string]bool{}
	}
	if len(pairs) == 0 {
		return nil
	}
	addrs := map[string]bool{}
	for _, p := range pairs {
		addrs[p[1]] = true
	}
	list := make([]string, 0, len(addrs))
	for a := range addrs {
		list = append(list, a)
	}
	sort.Strings(list)
	cond, arg := store.InText(w.tx.Dialect, "address", list)
	rows, err := w.q.Query(ctx, `SELECT channel, address FROM journey_suppressions WHERE `+cond, arg)
	if err != nil {
		return fmt.Errorf("read suppressions: %w", err)
	}
	defer rows.Close()
	for _, p := range pairs {
		w.suppressed[p] = false
	}
	for rows.Next() {
		var k [2]string
		if err := rows.Scan(&k[0], &k[1]); err != nil {
			return err
		}
		w.suppressed[k] = true
	}
	return rows.Err()
}

// isSuppressed says whether address is on channel's suppression list.
func (w *work) isSuppressed(ctx context.Context, channel, addr string) (bool, error) {
	k := [2]string{channel, normAddr(channel, addr)}
	if v, ok := w.suppressed[k]; ok {
		return v, nil
	}
	var n int
	err := w.q.QueryRow(ctx, `SELECT COUNT(*) FROM journey_suppressions WHERE channel = ? AND address = ?`, k[0], k[1]).Scan(&n)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return false, err
	}
	return n > 0, nil
}

// readsProfiles says whether moving a run of pl along may read the customer's profile
// (conditions, smart sends), so a batch reads all its customers' profiles at once.
func readsProfiles(pl *Plan) bool {
	for i := range pl.Nodes {
		n := &pl.Nodes[i]
		if n.Kind == "condition" || n.Send != nil && (n.Send.Channel == "best" || n.Send.SendTime == "best") {
			return true
		}
		if n.Test != nil {
			for _, v := range n.Test.Variants {
				if v.Send.Channel == "best" || v.Send.SendTime == "best" {
					return true
				}
			}
		}
	}
	return false
}

// prefetchRuns reads the merges, and the profiles when a plan needs them, of the
// customers of runs about to move.
func (w *work) prefetchRuns(ctx context.Context, cids []int64, plans []*Plan) error {
	if len(cids) == 0 {
		return nil
	}
	if err := w.loadMerges(ctx, cids); err != nil {
		return err
	}
	for _, pl := range plans {
		if pl != nil && readsProfiles(pl) {
			return w.loadProfiles(ctx, cids)
		}
	}
	return nil
}
