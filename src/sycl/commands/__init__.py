"""One module per ``sycl`` subcommand; each defines ``register(subparsers)``."""
