#!/usr/bin/env python3
"""A simulated region test with a known effect, for `omniroi experiment analyze-geo`.

A shop's sales in 10 postcode areas over 16 weeks (from Monday 5 January 2026): each
area's level, a weekly pattern, a shop-wide factor that wanders from day to day, and the
area's own noise. An ad channel spends about a tenth of each area's sales and returns 2
per unit of spend. In the last 4 weeks (from 30 March) it is switched off in areas
75000-79000. The script prints the rows, and the true effect on stderr.
Deterministic (seed 1):  python3 geo-regions.py > regions.csv
"""
import datetime
import random
import sys

r = random.Random(1)
day0 = datetime.date(2026, 1, 5)
week = [0.85, 0.9, 0.95, 1.0, 1.1, 1.25, 0.95]
levels = [r.uniform(80, 160) for _ in range(10)]
common, lost, spent = 0.0, 0.0, 0.0
print("date,region,value,spend")
for d in range(112):
    day = day0 + datetime.timedelta(days=d)
    common = 0.6 * common + 0.05 * r.gauss(0, 1)
    for a in range(10):
        spend = levels[a] / 10 * r.uniform(0.8, 1.2)
        value = levels[a] * week[day.weekday()] * (1 + common + 0.12 * r.gauss(0, 1))
        if a < 5 and d >= 84:
            lost += 2 * spend
            spent += spend
            spend = 0.0
        value += 2 * spend
        print(f"{day},{75000 + 1000 * a},{value:.2f},{spend:.2f}")
print(f"true effect {-lost:.0f} over 28 days, spend not spent {spent:.0f}, ROAS 2", file=sys.stderr)
