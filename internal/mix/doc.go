// Package mix is omniroi's marketing-mix model and budget planner: what each channel's
// spend really causes, with its uncertainty, and where the next unit of budget should go.
//
// Fit regresses a daily (or weekly) target on each channel's spend through geometric
// carryover (adstock) and Hill saturation, beside a baseline of trend, weekday, yearly
// seasons, holidays and controls, in an additive or a multiplicative form (the more
// likely one is kept). Coefficients are the exact maximum a posteriori of a ridge
// regression with non-negative media effects; the channel parameters are found on that
// profile by a grid and BFGS, deterministically. Intervals come from draws of a Laplace
// approximation with a Newey–West sandwich covariance; experiment results (Calibration)
// enter as priors on a channel's return. Diagnostics say, in words, when the history is
// too short or a channel cannot be told from another.
//
// Model.Plan allocates a budget over the same window with floors, ceilings, locks and an
// optional margin (profit), cautiously (mean minus one standard deviation of each
// channel's change), and words the moves; ResponseCurves and WhatIf serve the dashboard.
// LoadStore reads the series from the store; Service caches fitted models for the API
// (NewHTTPHandler) and the dashboard. docs/budget.md documents the conventions and
// docs/decisions.md ("Budget model") the choices.
package mix
