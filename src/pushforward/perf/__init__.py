"""Benchmarks of the hot loops: the kernel field (`field`), training and sampling throughput
next to torchcfm and Meta's flow_matching (`train`), and how a call is timed and its peak
memory read (`measure`)."""
