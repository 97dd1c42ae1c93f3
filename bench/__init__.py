"""Benchmarks: end-to-end throughput, the bare-Postgres limit, a naive baseline, latency and memory.

Run ``make bench`` (or ``.venv/bin/python -m bench.run --help``); results go to ``docs/performance.md``
and ``bench/results/<timestamp>.json``.
"""
