"""Benchmarks of user-insights: `python -m benchmarks.run`, results in docs/benchmarks.md.

Every benchmark measures a baseline in the same run on the same machine, so each figure comes
with a ratio that shows how much of the cost is the project's own. Data comes from fixed
seeds. Nothing here asserts on time: a missed target is reported, not raised.
"""
