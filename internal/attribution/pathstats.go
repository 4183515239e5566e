package attribution

import (
	"sort"
	"strings"
)

// PathStat is one channel path and what the paths that followed it did.
type PathStat struct {
	Channels    []string `json:"channels"`
	Conversions float64  `json:"conversions"`
	Nulls       float64  `json:"nulls"`
	Value       float64  `json:"value"` // major units
}

// Key is the path as people read it: "Email → Paid Search".
func (p PathStat) Key() string { return strings.Join(p.Channels, " → ") }

// PathStats groups a set's paths by their channels, consecutive repeats collapsed
// (Email → Email → Paid Search is Email → Paid Search): a flow chart is about moving
// between channels, and repeats would split one route into many near-identical ones.
// Most followed first, then by name.
func PathStats(set *Set) []PathStat {
	if set == nil {
		return nil
	}
	byKey := map[string]*PathStat{}
	var buf []string
	var kb strings.Builder
	for i := range set.Len() {
		buf = buf[:0]
		for _, c := range set.Ch[set.Off[i]:set.Off[i+1]] {
			name := set.Channels[c]
			if len(buf) == 0 || buf[len(buf)-1] != name {
				buf = append(buf, name)
			}
		}
		if len(buf) == 0 {
			continue
		}
		kb.Reset()
		for j, n := range buf {
			if j > 0 {
				kb.WriteByte(0)
			}
			kb.WriteString(n)
		}
		ps := byKey[kb.String()]
		if ps == nil {
			ps = &PathStat{Channels: append([]string(nil), buf...)}
			byKey[kb.String()] = ps
		}
		ps.Conversions += set.Conv[i]
		ps.Nulls += set.Nulls[i]
		ps.Value += set.Value[i]
	}
	out := make([]PathStat, 0, len(byKey))
	for _, ps := range byKey {
		out = append(out, *ps)
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.Conversions+a.Nulls != b.Conversions+b.Nulls {
			return a.Conversions+a.Nulls > b.Conversions+b.Nulls
		}
		return a.Key() < b.Key()
	})
	return out
}
