"""Whole experiments: ``sycl run`` (an experiment file) and ``sycl quickstart`` (embedded defaults).

``config`` (the experiment file), ``fingerprint`` (when a stage is current), ``runner`` (the
stages), ``quickstart`` (the built-in experiment), ``summary`` (what is printed at the end).
Import from the submodules; this package imports nothing heavy so the CLI starts fast.
"""
