# W1's latency distribution, netref against the raw TCP baseline: the share of calls
# (y) that took at most x microseconds. Data: "microseconds cumulative-fraction" lines
# written by netref_bench. Usage: gnuplot -e "dir='build/bench'" bench/w1_latency.gp
if (!exists("dir")) dir = "."
set terminal pngcairo size 900,560 font ",10"
set output dir."/w1_latency.png"
set title "W1 sync add(int64, int64) over loopback TCP: latency distribution"
set xlabel "round-trip latency (µs, log scale)"
set ylabel "fraction of calls at or below"
set logscale x
set xrange [*:*]
set yrange [0:1]
set ytics 0.1
set grid xtics ytics mxtics
set key bottom right
plot dir."/w1_raw.dat" using 1:2 with lines lw 2 title "raw TCP (blocking, TCP\\_NODELAY, length prefix)", \
     dir."/w1_netref.dat" using 1:2 with lines lw 2 title "netref root->attr(\"add\")->call(a, b)"
