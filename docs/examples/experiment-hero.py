#!/usr/bin/env python3
"""A simulated A/B test with a known effect, for `omniroi experiment analyze`.

20,000 visitors alternate between control and B. 40 % are returning customers with a
pre-period spend (pre_value); they buy with probability 30 %, new visitors with 4 %. B
multiplies the chance to buy by 1.12, so its true lift in revenue per visitor is +12 %.
Deterministic (seed 7):  python3 experiment-hero.py > hero.csv
"""
import random

r = random.Random(7)
print("unit,variant,value,pre_value")
for i in range(20000):
    v = "control" if i % 2 == 0 else "B"
    pre = round(r.lognormvariate(3.5, 0.6), 2) if r.random() < 0.4 else 0.0
    p = (0.30 if pre else 0.04) * (1.12 if v == "B" else 1)
    val = round(0.8 * pre + r.lognormvariate(3.0, 0.5), 2) if r.random() < p else 0.0
    print(f"v{i},{v},{val},{pre}")
