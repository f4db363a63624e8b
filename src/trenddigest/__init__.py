"""trenddigest: monthly arXiv research-trend digests for curated topics."""

__version__ = "0.1.0"
