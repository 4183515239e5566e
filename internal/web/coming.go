package web

import "net/http"

// comingPage is a navigation entry whose data arrives with another package; the page
// says so instead of showing made-up numbers.
type comingPage struct {
	Path, Title, What, Package string
}

var comingPages = []comingPage{
	{"/attribution", "Attribution", "Which channels and campaigns earn the revenue: first touch, last touch, linear, time decay, position based, Markov and Shapley models side by side, with return on ad spend per channel.", "attribution"},
	{"/journeys", "Journeys", "The paths customers take across channels before they buy, as a flow chart and a funnel.", "attribution"},
	{"/segments", "Segments", "Customer groups by recency, frequency and spend (RFM), predicted lifetime value and churn risk, and cohorts by first purchase.", "value"},
}

func (s *server) coming(c comingPage) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		p := s.newPage(r, c.Path, c.Title)
		p.Data = c
		return s.respond(w, r, "coming", p)
	}
}
