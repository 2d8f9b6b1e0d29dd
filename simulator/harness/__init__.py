"""The benchmark harness: suites (a TOML grid of workloads x parameters x strategies x
threads x seeds x cost models), the resumable sweep that runs them into a results
directory, and the report that turns a results directory into charts and tables.

    suite.py   load and validate a suite file (bench/suites/*.toml)
    sweep.py   run a suite: results.jsonl, meta.json, timelines/
    report.py  charts (PNG + SVG), report.md and report.html
"""
