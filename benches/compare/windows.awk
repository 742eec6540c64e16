# SPDX-License-Identifier: GPL-2.0
# `make compare`'s reader of /sys/kernel/tracing/trace_pipe (benches/compare/guest.sh):
# one CMP-WINDOW line per aggregation window, from the damon_aggregated tracepoint (same
# format on 6.12 and 7.3), which fires once per region at the end of every window: its
# end, its length, its region count and the observed access ratio that the intervals
# tuner scores (sum of size x nr_accesses over sum of size x 20 samples, in basis points;
# the tuner aims at 400) with both sums. With -v tune=1, also one CMP-TUNE line per
# damon_set_attrs() call, from the kprobe that trace_windows() sets.
# Variables: name (the scenario), tune.
/set_attrs:/ {
	if (!tune)
		next
	for (i = 1; i <= NF; i++) {
		if ($i ~ /^[0-9]+\.[0-9]+:$/) ts = substr($i, 1, length($i) - 1)
		if ($i ~ /^(sample|aggr)_us=/) { split($i, a, "="); v[a[1]] = a[2] }
	}
	printf "CMP-TUNE scenario=%s ts=%s sample_us=%s aggr_us=%s\n", name, ts, v["sample_us"], v["aggr_us"]
	fflush()
	next
}
/damon_aggregated:/ {
	for (i = 1; i <= NF; i++) {
		if ($i ~ /^nr_regions=/) { split($i, a, "="); n = a[2] }
		if ($i ~ /^[0-9]+-[0-9]+:$/) {
			split(substr($i, 1, length($i) - 1), r, "-")
			acc = $(i + 1)
		}
		if ($i ~ /^[0-9]+\.[0-9]+:$/) ts = substr($i, 1, length($i) - 1)
	}
	sz = r[2] - r[1]; tot += sz; ev += sz * acc; seen++
	if (seen == n) {
		printf "CMP-WINDOW scenario=%s ts=%s len_ms=%.1f regions=%d access_bp=%.1f events=%.0f bytes=%.0f\n", name, ts, last ? (ts - last) * 1000 : 0, n, tot ? ev * 10000 / (tot * 20) : 0, ev, tot
		fflush()
		last = ts; tot = 0; ev = 0; seen = 0
	}
}
