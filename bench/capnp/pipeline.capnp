# The counter service of bench/pipeline.cpp, in Cap'n Proto's terms, for bench_capnp_pipeline
# (bench/capnp/capnp_pipeline.cpp): a chain is makeCounter(10), then fork(1) on each result,
# add(1) last.
@0xcaf89bd8024830cc;

using Cxx = import "/capnp/c++.capnp";
$Cxx.namespace("capnp_pipeline");

interface Counter {
  # A new Counter holding this one's value plus n (so that calls chain).
  fork @0 (n :Int64) -> (counter :Counter);
  # Adds n to this counter; returns the new value.
  add @1 (n :Int64) -> (value :Int64);
}

# The bootstrap capability.
interface Root {
  makeCounter @0 (start :Int64) -> (counter :Counter);
}
