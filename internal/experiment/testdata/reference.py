#!/usr/bin/env python3
"""Independent reference values for internal/experiment's statistics.

Run from this directory:  python3 reference.py > reference.json
Needs only Python 3 and mpmath (no numpy/scipy on the machine the values were made on).

Every figure is computed here by a different route than the Go code takes:
  - Student's t and chi-square tails from mpmath's regularized incomplete beta/gamma
    functions (Go: gonum), quantiles by root finding;
  - CUPED's slope by ordinary least squares with one intercept per arm, solved as a
    linear system (Go: pooled within-arm covariance by Welford updates);
  - Beta posteriors compared by Evan Miller's closed-form sum for integer parameters
    (Go: a one-dimensional Simpson rule over the variant's posterior density);
  - the normal posterior's expected loss by integrating the density (Go: closed form);
  - the mixture SPRT's p-value by integrating the likelihood ratio over the mixing
    normal, and its interval by solving Lambda(theta0) = 1/alpha (Go: closed forms).
"""
import json
import math
import random
import statistics

import mpmath as mp

mp.mp.dps = 30


def t_sf(t, df):
    """P(T > t) for t >= 0."""
    t = mp.mpf(t)
    x = df / (df + t * t)
    return mp.betainc(df / 2, mp.mpf(1) / 2, 0, x, regularized=True) / 2


def t_two_sided(t, df):
    return 2 * t_sf(abs(t), df)


def t_quantile(p, df):
    # p > 0.5: solve P(T > q) = 1 - p
    return mp.findroot(lambda q: t_sf(q, df) - (1 - mp.mpf(p)), 2)


def norm_cdf(x):
    return mp.ncdf(x)


def norm_quantile(p):
    return mp.findroot(lambda q: mp.ncdf(q) - mp.mpf(p), 0)


def chi2_sf(x, k):
    return mp.gammainc(mp.mpf(k) / 2, mp.mpf(x) / 2, mp.inf, regularized=True)


def mean_var(xs):
    m = mp.fsum(mp.mpf(x) for x in xs) / len(xs)
    v = mp.fsum((mp.mpf(x) - m) ** 2 for x in xs) / (len(xs) - 1)
    return m, v


def welch(a, b, alpha=0.05):
    ma, va = mean_var(a)
    mb, vb = mean_var(b)
    na, nb = len(a), len(b)
    sa, sb = va / na, vb / nb
    se = mp.sqrt(sa + sb)
    df = (sa + sb) ** 2 / (sa ** 2 / (na - 1) + sb ** 2 / (nb - 1))
    d = mb - ma
    q = t_quantile(1 - alpha / 2, df)
    # relative lift: delta method on log(mb/ma), mapped back with exp
    la = vb / (nb * mb ** 2)
    lb = va / (na * ma ** 2)
    lse = mp.sqrt(la + lb)
    ldf = (la + lb) ** 2 / (la ** 2 / (nb - 1) + lb ** 2 / (na - 1))
    lq = t_quantile(1 - alpha / 2, ldf)
    lift = mb / ma - 1
    llog = mp.log(mb / ma)
    return {
        "diff": float(d), "se": float(se), "df": float(df),
        "p": float(t_two_sided(d / se, df)),
        "diff_low": float(d - q * se), "diff_high": float(d + q * se),
        "lift": float(lift), "log_lift_se": float(lse),
        "lift_low": float(mp.exp(llog - lq * lse) - 1), "lift_high": float(mp.exp(llog + lq * lse) - 1),
    }


def solve(A, y):
    return mp.lu_solve(mp.matrix(A), mp.matrix(y))


def cuped(arms, alpha=0.05):
    """arms: list of (ys, xs). OLS of y on arm dummies and x: the slope is theta."""
    k = len(arms)
    rows, ys = [], []
    for i, (y, x) in enumerate(arms):
        for yy, xx in zip(y, x):
            r = [mp.mpf(0)] * k + [mp.mpf(xx)]
            r[i] = mp.mpf(1)
            rows.append(r)
            ys.append(mp.mpf(yy))
    p = k + 1
    XtX = [[mp.fsum(r[i] * r[j] for r in rows) for j in range(p)] for i in range(p)]
    Xty = [mp.fsum(r[i] * yy for r, yy in zip(rows, ys)) for i in range(p)]
    beta = solve(XtX, Xty)
    theta = beta[k]
    allx = [mp.mpf(xx) for _, x in arms for xx in x]
    xbar = mp.fsum(allx) / len(allx)
    adj = []
    ss_raw = ss_adj = 0
    for y, x in arms:
        a = [mp.mpf(yy) - theta * (mp.mpf(xx) - xbar) for yy, xx in zip(y, x)]
        adj.append(a)
        ss_raw += mean_var(y)[1] * (len(y) - 1)
        ss_adj += mean_var(a)[1] * (len(a) - 1)
    w = welch(adj[0], adj[1], alpha)
    return {"theta": float(theta), "variance_reduction": float(1 - ss_adj / ss_raw),
            "diff": w["diff"], "diff_low": w["diff_low"], "diff_high": w["diff_high"],
            "lift": w["lift"], "lift_low": w["lift_low"], "lift_high": w["lift_high"], "p": w["p"]}


def beta_gt(a, b, c, d):
    """P(X > Y) for X ~ Beta(a, b), Y ~ Beta(c, d), integer a: the closed-form sum
    (Evan Miller, "Formulas for Bayesian A/B testing"), term by term in log space."""
    lbcd = mp.log(mp.beta(c, d))
    total = mp.mpf(0)
    for i in range(int(a)):
        total += mp.exp(mp.log(mp.beta(c + i, b + d)) - mp.log(b + i) - mp.log(mp.beta(1 + i, b)) - lbcd)
    return total


def bayes_beta(ka, na, kb, nb):
    """Control A ~ Beta(1+ka, 1+na-ka), variant B likewise. P(B > A), and
    E[max(A - B, 0)] = mu_A P(A' > B) - mu_B P(A > B') with A' ~ Beta(aa+1, ba) and
    B' ~ Beta(ab+1, bb) (size-biased draws), divided by mu_A."""
    aa, ba, ab, bb = 1 + ka, 1 + na - ka, 1 + kb, 1 + nb - kb
    ma, mb = mp.mpf(aa) / (aa + ba), mp.mpf(ab) / (ab + bb)
    p = beta_gt(ab, bb, aa, ba)
    loss = ma * beta_gt(aa + 1, ba, ab, bb) - mb * beta_gt(aa, ba, ab + 1, bb)
    return {"ka": ka, "na": na, "kb": kb, "nb": nb, "prob": float(p), "loss_rel": float(loss / ma)}


def bayes_normal(d, se, cm):
    p = norm_cdf(mp.mpf(d) / se)
    loss = mp.quad(lambda x: -x * mp.npdf(x, d, se), [-mp.inf, 0])
    return {"d": d, "se": se, "control_mean": cm, "prob": float(p), "loss_rel": float(loss / cm)}


def msprt(est, se, n, nstar, alpha):
    """Normal-mixture SPRT: Lambda(theta0) = integral of N(est; theta, V)/N(est; theta0, V)
    over theta ~ N(theta0, tau^2), tau^2 = rho^2 n V, rho from nstar."""
    est, se = mp.mpf(est), mp.mpf(se)
    V = se * se
    l = -2 * mp.log(alpha)
    rho2 = (l + mp.log(l + 1)) / nstar
    tau2 = rho2 * n * V
    def lam(theta0):
        f = lambda th: mp.exp(-(est - th) ** 2 / (2 * V) + (est - theta0) ** 2 / (2 * V)) * mp.npdf(th, theta0, mp.sqrt(tau2))
        s = mp.sqrt(tau2)
        return mp.quad(f, [theta0 - 40 * s, theta0 - 5 * s, theta0, est, theta0 + 5 * s, theta0 + 40 * s])
    p = min(mp.mpf(1), 1 / lam(0))
    # interval ends: Lambda(theta0) = 1/alpha on each side of est
    g = lambda t0: mp.log(lam(t0)) - mp.log(1 / mp.mpf(alpha))
    width0 = se * mp.sqrt(2 * mp.log(1 / mp.mpf(alpha)))
    lo = mp.findroot(g, (est - 4 * width0, est - 0.5 * width0), solver="anderson")
    hi = mp.findroot(g, (est + 0.5 * width0, est + 4 * width0), solver="anderson")
    return {"est": float(est), "se": float(se), "n": n, "nstar": nstar, "alpha": alpha,
            "p": float(p), "low": float(lo), "high": float(hi)}


def main():
    rng = random.Random(20240514)
    out = {}

    # Welch and delta-method lift on small samples and on skewed revenue-like data.
    small_a = [round(rng.gauss(20, 4), 2) for _ in range(12)]
    small_b = [round(rng.gauss(23, 7), 2) for _ in range(15)]
    rev_a = [round(rng.lognormvariate(3.2, 0.9), 2) if rng.random() < 0.3 else 0.0 for _ in range(400)]
    rev_b = [round(rng.lognormvariate(3.3, 0.9), 2) if rng.random() < 0.33 else 0.0 for _ in range(380)]
    out["welch"] = [
        dict(a=small_a, b=small_b, alpha=0.05, **welch(small_a, small_b, 0.05)),
        dict(a=rev_a, b=rev_b, alpha=0.05, **welch(rev_a, rev_b, 0.05)),
        dict(a=rev_a, b=rev_b, alpha=0.025, **welch(rev_a, rev_b, 0.025)),
    ]

    # CUPED with a correlated pre-period.
    arms = []
    for shift in (0.0, 1.5):
        xs, ys = [], []
        for _ in range(300):
            x = max(0.0, rng.gauss(30, 10))
            y = max(0.0, 0.8 * x + rng.gauss(5 + shift, 6))
            xs.append(round(x, 2))
            ys.append(round(y, 2))
        arms.append((ys, xs))
    out["cuped"] = dict(control_y=arms[0][0], control_x=arms[0][1], variant_y=arms[1][0], variant_x=arms[1][1],
                        **cuped(arms))

    # Sample-ratio mismatch.
    out["srm"] = []
    for obs, w in (([1210, 1020], [1, 1]), ([500, 480, 560], [1, 1, 1]), ([100, 300], [1, 3]),
                   ([5012, 4988], [50, 50]), ([260, 200, 140], [2, 2, 1])):
        k = len(obs)
        tot, ws = sum(obs), sum(w)
        chi2 = sum((o - tot * wi / ws) ** 2 / (tot * wi / ws) for o, wi in zip(obs, w))
        out["srm"].append({"observed": obs, "weights": w, "p": float(chi2_sf(chi2, k - 1))})

    # Bayesian, proportions (Beta(1,1) priors) and means (flat prior, normal posterior).
    out["bayes_beta"] = [bayes_beta(*c) for c in ((40, 500, 55, 510), (3, 40, 8, 45), (0, 150, 2, 150), (2000, 40000, 2150, 40000), (120, 1000, 95, 1000))]
    out["bayes_normal"] = [bayes_normal(*c) for c in ((0.8, 0.5, 10.0), (-0.3, 0.4, 12.0), (0.0, 1.0, 20.0))]

    # Normal quantiles and t quantiles.
    out["quantiles"] = [{"p": p, "df": df, "t": float(t_quantile(p, df)), "z": float(norm_quantile(p))}
                        for p, df in ((0.975, 3.0), (0.975, 29.5), (0.9875, 120.0), (0.995, 1000.0))]

    # Sequential (mixture SPRT).
    out["msprt"] = [msprt(*c) for c in ((0.04, 0.015, 2000, 5000, 0.05), (-1.2, 0.9, 400, 5000, 0.05),
                                          (3.0, 1.0, 10000, 2000, 0.05), (0.5, 0.2, 800, 800, 0.025))]

    # Power: units per arm to detect a relative MDE (fixed horizon).
    out["power"] = []
    for mean, sd, mde, alpha, power, arms_n in ((0.05, math.sqrt(0.05 * 0.95), 0.10, 0.05, 0.8, 2),
                                                (12.0, 30.0, 0.10, 0.05, 0.8, 2),
                                                (12.0, 30.0, 0.20, 0.05, 0.9, 3)):
        a = alpha / (arms_n - 1)
        z = norm_quantile(1 - a / 2) + norm_quantile(power)
        n = 2 * z ** 2 * sd ** 2 / (mde * mean) ** 2
        out["power"].append({"mean": mean, "sd": sd, "mde": mde, "alpha": alpha, "power": power, "arms": arms_n, "n": float(n)})

    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
