"""Benchmarks: this client (``protocol``) against nats-py, same process, same server.

Run with ``python -m bench [--quick] [--only NAME ...] [--json PATH]`` (``make bench``).
Suites register themselves in ``bench.common.SUITES`` when their module is imported; see
``bench/common.py`` for how to add one. Results are ratios (ours / nats-py): the machine is shared
and absolute numbers are noisy.
"""
