"""funnx benchmarks: each measurement runs its baseline in the same process, and reports ratios."""
