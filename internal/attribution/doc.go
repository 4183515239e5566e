// Package attribution splits conversions and revenue over the marketing touches that
// preceded them.
//
// Input. A Path is one customer's ordered touches (oldest first) plus what happened at
// the end: Conversions, Value and Nulls (non-converting journeys with the same path; path
// files aggregate many journeys per row). Touch.Time and Path.ConvertedAt are zero when
// unknown (path files). A journey builder can either build []Path and call
// Model.Attribute, or append straight into the compact column form with a SetBuilder and
// call Model.AttributeSet, which is what the 10-million-journey benchmark does: channel and
// campaign names become small integer ids, touches live in flat slices, and no model
// allocates per touch.
//
// From the store. BuildJourneys turns the derived tables (activity, orders, refunds) into a
// Set, streaming customers in id ranges; AttributeStore runs models on it, ROI joins the
// credit with spend for a period and the one before, NewHTTPHandler serves both as JSON with
// a cache keyed by the data's state, and CompareGroundTruth scores models against the demo's
// ground_truth.json. The rules are in docs/attribution.md.
//
// Output. Every model returns a Result whose ByChannel credits sum to the attributed totals
// (conversions and value) and whose ByCampaign credits (keyed by channel and campaign) sum
// to each channel's credit. Value is credited in the same proportions as conversions: the
// rule-based models split each journey's Value with the same per-touch weights as its
// Conversions; markov, shapley and shapley_cr compute channel shares of conversions and
// give every channel that share of the total value. Campaign credit of markov, shapley and
// shapley_cr is the channel's credit split over its campaigns in proportion to their
// conversion-weighted touch counts.
//
// Models (names are stable; each model's one-paragraph convention lives in registry.go so
// CLI, API and dashboard show the same sentence): first_touch, last_touch,
// last_non_direct, linear, time_decay, position_based, w_shaped, custom, markov, shapley,
// shapley_cr. The heuristic conventions (first_touch, last_touch, linear with a channel
// touched twice getting two shares) match ChannelAttribution's heuristic_models exactly;
// markov matches its removal-effect normalisation but solves the absorbing chain exactly
// instead of simulating.
package attribution
