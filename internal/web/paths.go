package web

import (
	"errors"
	"fmt"
	"net/http"
	"sort"

	"github.com/omniroi/omniroi/internal/attribution"
)

type pathsData struct {
	Ready    bool
	Stages   []attribution.FunnelStage
	Journeys int64
	Paths    int
	TopN     int
	Steps    int
}

const (
	sankeyPaths = 12 // converting paths in the flow chart
	sankeySteps = 5  // touches shown per path; longer paths keep their last ones
	pathRows    = 15
)

// paths is the Paths page: the funnel and the customers' paths to purchase (attribution
// touch sequences; "journeys" are the automations).
func (s *server) paths(w http.ResponseWriter, r *http.Request) error {
	r = s.withWaitBudget(r)
	ctx := r.Context()
	p := s.newPage(r, "/paths", "Paths")
	d := &pathsData{Stages: attribution.FunnelStages[:], TopN: sankeyPaths, Steps: sankeySteps}
	p.Data = d
	if ok, err := s.hasTable(ctx, "orders"); err != nil || !ok {
		return errors.Join(err, s.respond(w, r, "paths", p))
	}
	cur := p.Currency
	a, at, err := s.attrFor(ctx, p.Range, cur)
	if err := p.computed(at, err); err != nil || p.Computing {
		return errors.Join(err, s.respond(w, r, "paths", p))
	}
	d.Ready = true
	if err := s.withCoverage(r, p); err != nil {
		return err
	}
	pc := a.Cur
	d.Journeys = pc.Summary.Conversions + pc.Summary.NullPaths
	d.Paths = len(pc.Paths)

	// Funnel with drop-off.
	if len(pc.Funnel) > 0 && pc.Funnel[0].Customers > 0 {
		fc := &Chart{ID: "funnel", Kind: "funnel", Title: "Customers reaching each stage"}
		ft := &Table{ID: "funnel", Caption: "Funnel by stage", Hidden: true, Cols: []Col{{Label: "Stage"}, {Label: "Customers", Num: true}, {Label: "Of previous stage", Num: true}, {Label: "Drop-off", Num: true}, {Label: "Of first stage", Num: true}, {Label: "On to the next stage", Num: true}}}
		vals := []float64{}
		for i, st := range pc.Funnel {
			fc.X = append(fc.X, st.Stage)
			vals = append(vals, float64(st.Customers))
			// Each stage is labelled with its number and the share that reaches the next.
			label, next := st.Stage+": "+formatInt(st.Customers), Cell{Text: "–"}
			if i+1 < len(pc.Funnel) {
				if r := ratioP(float64(pc.Funnel[i+1].Customers), float64(st.Customers)); r != nil {
					next = pctCell(r)
					label += " · " + next.Text + " on to the next stage"
				}
			}
			fc.Labels = append(fc.Labels, label)
			keep, drop := Cell{Text: "–"}, Cell{Text: "–"}
			if i > 0 {
				kp := ratioP(float64(st.Customers), float64(pc.Funnel[i-1].Customers))
				keep = pctCell(kp)
				if kp != nil {
					dv := 1 - *kp
					drop = pctCell(&dv)
				}
			}
			ft.Rows = append(ft.Rows, []Cell{txt(st.Stage), num(st.Customers), keep, drop, pctCell(ratioP(float64(st.Customers), float64(pc.Funnel[0].Customers))), next})
		}
		fc.Series = []Series{{Name: "Customers", Data: vals}}
		fc.Table = ft
		p.addChart(fc)
	}

	// Sankey of the most common converting paths, channels by step.
	// Only paths through two channels or more: single-channel paths (a walk-in with no
	// tracked touch, one ad click) are in the path tables below and would flatten the flows.
	var conv []attribution.PathStat
	for _, ps := range pc.Paths {
		if ps.Conversions > 0 && len(ps.Channels) > 1 {
			conv = append(conv, ps)
		}
	}
	sort.SliceStable(conv, func(i, j int) bool { return conv[i].Conversions > conv[j].Conversions })
	if len(conv) > 0 {
		top := conv[:min(sankeyPaths, len(conv))]
		links := map[[2]string]float64{}
		var order [][2]string
		nodes := []string{}
		seen := map[string]bool{}
		node := func(n string) string {
			if !seen[n] {
				seen[n] = true
				nodes = append(nodes, n)
			}
			return n
		}
		st := &Table{ID: "top-paths", Caption: fmt.Sprintf("The %d most common cross-channel paths to purchase", len(top)), Hidden: true,
			Cols: []Col{{Label: "Path"}, {Label: "Orders", Num: true}, {Label: "Revenue", Num: true}}}
		for _, ps := range top {
			chs := ps.Channels
			if len(chs) > sankeySteps {
				chs = chs[len(chs)-sankeySteps:]
			}
			prev := ""
			for i, ch := range chs {
				n := node(fmt.Sprintf("%d. %s", i+1, ch))
				if prev != "" {
					k := [2]string{prev, n}
					if _, ok := links[k]; !ok {
						order = append(order, k)
					}
					links[k] += ps.Conversions
				}
				prev = n
			}
			k := [2]string{prev, node("Purchase")}
			if _, ok := links[k]; !ok {
				order = append(order, k)
			}
			links[k] += ps.Conversions
			label := ps.Key()
			if len(ps.Channels) > sankeySteps {
				label += fmt.Sprintf(" (%d steps; the chart shows the last %d)", len(ps.Channels), sankeySteps)
			}
			st.Rows = append(st.Rows, []Cell{txt(label), countCell(ps.Conversions), amountF(ps.Value*pow10f(cur), cur)})
		}
		sc := &Chart{ID: "paths", Kind: "sankey", Title: "How customers move between channels before buying (most common cross-channel paths)", Nodes: nodes, Table: st}
		for _, k := range order {
			sc.Links = append(sc.Links, Link{Source: k[0], Target: k[1], Value: links[k]})
		}
		p.addChart(sc)
	}

	// Best converting and dead-end paths, among paths with enough journeys to mean something.
	const minJourneys = 20
	var sized []attribution.PathStat
	for _, ps := range pc.Paths {
		if ps.Conversions+ps.Nulls >= minJourneys {
			sized = append(sized, ps)
		}
	}
	rate := func(ps attribution.PathStat) float64 { return ps.Conversions / (ps.Conversions + ps.Nulls) }
	cols := []Col{{Label: "Path"}, {Label: "Journeys", Num: true}, {Label: "Orders", Num: true}, {Label: "Conversion rate", Num: true}, {Label: "Revenue", Num: true}}
	row := func(ps attribution.PathStat) []Cell {
		cr := rate(ps)
		return []Cell{txt(ps.Key()), countCell(ps.Conversions + ps.Nulls), countCell(ps.Conversions), pctCell(&cr), amountF(ps.Value*pow10f(cur), cur)}
	}
	best := append([]attribution.PathStat(nil), sized...)
	sort.SliceStable(best, func(i, j int) bool { return rate(best[i]) > rate(best[j]) })
	bt := p.addTable(&Table{ID: "converting-paths", Caption: fmt.Sprintf("Top converting paths (at least %d journeys)", minJourneys), Cols: cols, Empty: "No path has enough journeys yet."})
	for _, ps := range best[:min(pathRows, len(best))] {
		bt.Rows = append(bt.Rows, row(ps))
	}
	dead := []attribution.PathStat{}
	for _, ps := range pc.Paths {
		if ps.Nulls > 0 {
			dead = append(dead, ps)
		}
	}
	sort.SliceStable(dead, func(i, j int) bool { return dead[i].Nulls > dead[j].Nulls })
	dt := p.addTable(&Table{ID: "dead-end-paths", Caption: "Top dead-end paths (journeys that ended without an order)",
		Cols: []Col{{Label: "Path"}, {Label: "Journeys without an order", Num: true}, {Label: "Orders", Num: true}, {Label: "Conversion rate", Num: true}}, Empty: "Every journey ended in an order."})
	for _, ps := range dead[:min(pathRows, len(dead))] {
		cr := rate(ps)
		dt.Rows = append(dt.Rows, []Cell{txt(ps.Key()), countCell(ps.Nulls), countCell(ps.Conversions), pctCell(&cr)})
	}
	return s.respond(w, r, "paths", p)
}

func pow10f(cur string) float64 { return float64(pow10(cur)) }

// journeysRedirect sends the page's former address, /journeys, on to /paths for good,
// keeping the query (period, model).
func (s *server) journeysRedirect(w http.ResponseWriter, r *http.Request) error {
	u := "/paths"
	if r.URL.RawQuery != "" {
		u += "?" + r.URL.RawQuery
	}
	http.Redirect(w, r, u, http.StatusMovedPermanently)
	return nil
}
