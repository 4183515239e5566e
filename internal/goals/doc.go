// Package goals tracks the shop's goals (a metric, a target, a date) against a forecast
// with weekly seasonality, and measures its resilience: how its revenue is spread over
// channels, and how its email, SMS and conversion rates compare with public industry
// averages. docs/budget.md ("Goals") has the conventions and the reasons for them.
package goals
