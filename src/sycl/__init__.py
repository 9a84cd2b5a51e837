"""SyCL: synthetic multi-level ranking contexts and list-wise training of dense retrievers."""

__version__ = "0.1.0"
