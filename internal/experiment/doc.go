// Package experiment runs A/B tests a small shop can trust: stored experiments (name,
// hypothesis, unit, weighted variants, a primary metric and guardrails), deterministic
// assignment for websites, and the statistics that turn each arm's numbers into a verdict
// in plain words.
//
// The statistics follow GrowthBook's stats engine where it has one (its defaults: at
// least 150 units per arm and 3 days before a verdict, the sample-ratio check from 8
// units) and are written out, with formulas and references, in docs/experiments.md:
//
//   - frequentist: difference in means with a Welch interval and test; relative lift with
//     a delta-method interval; Bonferroni correction across variants;
//   - CUPED: a pre-period covariate removes the part of the metric it predicts;
//   - sequential: mixture-SPRT / asymptotic confidence sequences, so a test may be looked
//     at every day without raising the false-positive rate;
//   - Bayesian: probability to beat control and expected loss, with the priors named;
//   - sample-ratio mismatch: a chi-square test that blocks the verdict;
//   - power: how many units, and so how many days of the shop's traffic, a test needs.
package experiment
