"""Benchmarks of the hot loops: the kernel field (`field`), peak memory (`memory`), and training
and sampling throughput next to torchcfm and Meta's flow_matching (`train`)."""
