"""Whole experiments: ``sycl run`` (an experiment file) and ``sycl quickstart`` (embedded defaults)."""
from sycl.pipeline.config import RunConfig, load_run_config
from sycl.pipeline.runner import Runner, split_holdout
from sycl.pipeline.summary import headline_table, print_summary

__all__ = ["RunConfig", "Runner", "load_run_config", "split_holdout", "headline_table", "print_summary"]
