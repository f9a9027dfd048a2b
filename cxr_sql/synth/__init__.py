"""Generator of MIMIC-shaped sources, for the demo, the tests and the benchmarks."""
