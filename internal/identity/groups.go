package identity

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/omniroi/omniroi/internal/store"
)

// Groups: a `group` call links the person to an account or company (its groupId), and
// its traits describe that group, never the person (Segment's meaning). Groups and
// memberships are derived like customers and rebuilt with them.

// group is the in-memory state of one groups row.
type group struct {
	id          string
	first, last int64
	traitsRaw   string
	traits      map[string]trait
	name        string
	dirty       bool
}

func (gr *group) traitMap() map[string]trait {
	if gr.traits == nil {
		gr.traits = map[string]trait{}
		if gr.traitsRaw != "" && gr.traitsRaw != "{}" {
			_ = json.Unmarshal([]byte(gr.traitsRaw), &gr.traits)
		}
	}
	return gr.traits
}

func (gr *group) traitsJSON() string {
	if gr.traits == nil {
		if gr.traitsRaw == "" {
			return "{}"
		}
		return gr.traitsRaw
	}
	b, _ := json.Marshal(gr.traits)
	gr.traitsRaw = string(b)
	return gr.traitsRaw
}

// membership is one group call's link of a customer to a group.
type membership struct {
	group   string
	cust    int64
	ts, seq int64
}

// applyGroup records a group call: its traits describe the group (an account or a
// company), never the person, and the person becomes one of its members.
func (p *Processor) applyGroup(b *batch, c *customer, groupID string, traits map[string]json.RawMessage, ts, seq int64) {
	groupID = strings.TrimSpace(groupID)
	if IsPlaceholder(groupID) {
		return
	}
	gr := p.g.groups[groupID]
	if gr == nil {
		gr = &group{id: groupID, first: ts, last: ts, traitsRaw: "{}"}
		p.g.groups[groupID] = gr
	}
	gr.first, gr.last = min(gr.first, ts), max(gr.last, ts)
	m := gr.traitMap()
	for k, v := range traits {
		nt := trait{V: v, T: ts, S: seq}
		if old, ok := m[k]; ok && !nt.newer(old) {
			continue
		}
		m[k] = nt
	}
	if t, ok := m["name"]; ok {
		var s string
		if json.Unmarshal(t.V, &s) == nil {
			gr.name = strings.TrimSpace(s)
		}
	}
	if !gr.dirty {
		gr.dirty = true
		b.groups = append(b.groups, gr)
	}
	b.members = append(b.members, membership{group: groupID, cust: c.id, ts: ts, seq: seq})
}

// groupID reads a group call's groupId (a string or a number).
func groupIDOf(raw json.RawMessage) string {
	return jsonText(bytes.TrimSpace(raw))
}

// loadGroups reads the groups rows into the graph.
func loadGroups(ctx context.Context, db *store.DB, g *graph) error {
	rows, err := db.Query(ctx, `SELECT group_id, name, traits, first_seen, last_seen FROM groups`)
	if err != nil {
		return fmt.Errorf("load groups: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		gr := &group{}
		if err := rows.Scan(&gr.id, &gr.name, &gr.traitsRaw, &gr.first, &gr.last); err != nil {
			return fmt.Errorf("load groups: %w", err)
		}
		g.groups[gr.id] = gr
	}
	return rows.Err()
}

// buildGroups adds the batch's groups and memberships to job j. A customer's repeated
// calls to one group keep the earliest (by event time, then seq), as the database does.
func (p *Processor) buildGroups(b *batch, j *job) {
	for _, gr := range b.groups {
		gr.dirty = false
		j.groups = append(j.groups, gr.id, gr.name, gr.traitsJSON(), gr.first, gr.last)
	}
	type key struct {
		group string
		cust  int64
	}
	seen := map[key]int{}
	var ms []membership
	for _, m := range b.members {
		m.cust = b.final(m.cust)
		k := key{m.group, m.cust}
		if i, ok := seen[k]; ok {
			if o := ms[i]; m.ts < o.ts || m.ts == o.ts && m.seq < o.seq {
				ms[i] = m
			}
			continue
		}
		seen[k] = len(ms)
		ms = append(ms, m)
	}
	for _, m := range ms {
		j.members = append(j.members, m.group, m.cust, m.ts, m.seq)
	}
}

// earlierMember keeps the earlier of two memberships of one customer in one group.
const earlierMember = ` ON CONFLICT (group_id, customer_id) DO UPDATE SET first_seen = excluded.first_seen, seq = excluded.seq
	WHERE excluded.first_seen < group_members.first_seen OR (excluded.first_seen = group_members.first_seen AND excluded.seq < group_members.seq)`

// moveGroupMembers gives merged customers' memberships to their survivors: cases and
// in are the "WHEN old THEN new" list and the ids of moves, as write builds them.
func moveGroupMembers(ctx context.Context, tx *store.Tx, cases, in string, args []any, n int) error {
	// One row per (group, survivor): PostgreSQL refuses to update a row twice in one
	// statement, which two merged members of one group would otherwise ask for.
	sel := `SELECT group_id, CASE customer_id` + cases + ` END AS cid, first_seen, seq FROM group_members WHERE customer_id IN (` + in + `)`
	if tx.Dialect == store.Postgres {
		sel = `SELECT DISTINCT ON (group_id, cid) group_id, cid, first_seen, seq FROM (` + sel + `) x ORDER BY group_id, cid, first_seen, seq`
	} else {
		sel = `SELECT group_id, cid, first_seen, seq FROM (` + sel + `) x WHERE true ORDER BY first_seen DESC, seq DESC`
	}
	if _, err := tx.Exec(ctx, `INSERT INTO group_members (group_id, customer_id, first_seen, seq) `+sel+earlierMember, args...); err != nil {
		return fmt.Errorf("merge customers: move group members: %w", err)
	}
	if _, err := tx.Exec(ctx, `DELETE FROM group_members WHERE customer_id IN (`+in+`)`, args[2*n:]...); err != nil {
		return fmt.Errorf("merge customers: move group members: %w", err)
	}
	return nil
}

// Group is an account or company people belong to.
type Group struct {
	ID        string                     `json:"id"`
	Name      string                     `json:"name,omitempty"`
	Traits    map[string]json.RawMessage `json:"traits,omitempty"`
	FirstSeen time.Time                  `json:"first_seen"`
	LastSeen  time.Time                  `json:"last_seen"`
	Since     time.Time                  `json:"member_since"` // the customer's first group call
}

// CustomerGroups lists the groups a customer belongs to, by name.
func CustomerGroups(ctx context.Context, db *store.DB, customerID int64) ([]Group, error) {
	rows, err := db.Query(ctx, `SELECT g.group_id, g.name, g.traits, g.first_seen, g.last_seen, m.first_seen
		FROM group_members m JOIN groups g ON g.group_id = m.group_id WHERE m.customer_id = ? ORDER BY g.name, g.group_id`, customerID)
	if err != nil {
		return nil, fmt.Errorf("read groups: %w", err)
	}
	defer rows.Close()
	var out []Group
	for rows.Next() {
		var g Group
		var traits string
		var first, last, since int64
		if err := rows.Scan(&g.ID, &g.Name, &traits, &first, &last, &since); err != nil {
			return nil, fmt.Errorf("read groups: %w", err)
		}
		var tm map[string]trait
		if json.Unmarshal([]byte(traits), &tm) == nil && len(tm) > 0 {
			g.Traits = make(map[string]json.RawMessage, len(tm))
			for k, v := range tm {
				g.Traits[k] = v.V
			}
		}
		g.FirstSeen, g.LastSeen, g.Since = time.UnixMilli(first).UTC(), time.UnixMilli(last).UTC(), time.UnixMilli(since).UTC()
		out = append(out, g)
	}
	return out, rows.Err()
}

// Label is how a group is named to people: its name, else its id.
func (g Group) Label() string {
	if g.Name != "" {
		return g.Name
	}
	return g.ID
}
