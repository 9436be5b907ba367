#!/usr/bin/env python3
"""Deterministic orders from the BG/NBD + Gamma-Gamma process, for the churn benchmark.

Usage: churn_gen.py CUSTOMERS [SEED] > orders.csv
Writes CSV lines "customer,seconds,amount": seconds since 2024-01-01 00:00 UTC.
Each customer makes a first purchase uniformly in the first 12 weeks; then,
with a purchase rate lambda ~ Gamma(r, alpha) per week and a dropout
probability p ~ Beta(a, b) after each repeat purchase (Fader, Hardie & Lee
2005), repeat purchases arrive as a Poisson process until dropout or the end of
week 39.  Each purchase is worth z ~ Gamma(p_gg, nu), nu ~ Gamma(q, gamma).
The parameters are those of the CDNOW fits.  Python's random module with a
fixed seed makes the output the same on every run.
"""
import random
import sys

R, ALPHA, A, B = 0.243, 4.414, 0.793, 2.426
P_GG, Q_GG, GAMMA_GG = 6.25, 3.74, 15.44
WEEK = 7 * 86400
END_WEEKS = 39.0


def main():
    n = int(sys.argv[1])
    rng = random.Random(int(sys.argv[2]) if len(sys.argv) > 2 else 20240101)
    out = sys.stdout
    buf = []
    for c in range(1, n + 1):
        lam = rng.gammavariate(R, 1.0 / ALPHA)
        p = rng.betavariate(A, B)
        nu = rng.gammavariate(Q_GG, 1.0 / GAMMA_GG)
        first = rng.uniform(0.0, 12.0)
        horizon = END_WEEKS - first
        buf.append("%d,%d,%.2f\n" % (c, int(first * WEEK), rng.gammavariate(P_GG, 1.0 / nu)))
        t = 0.0
        if lam > 0.0:
            while True:
                t += rng.expovariate(lam)
                if t > horizon:
                    break
                buf.append("%d,%d,%.2f\n" % (c, int((first + t) * WEEK), rng.gammavariate(P_GG, 1.0 / nu)))
                if rng.random() < p:
                    break
        if len(buf) > 100000:
            out.write("".join(buf))
            buf = []
    out.write("".join(buf))


if __name__ == "__main__":
    main()
