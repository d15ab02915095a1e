"""Benchmarks, not tests: `lth bench` (engine, protocol, paper), `lth class-bench` (classroom),
`lth cluster-bench` (cluster). Each prints ratios measured in one run."""
