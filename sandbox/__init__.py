"""rdsbox sandbox: runs the reference AWS database architecture locally with real servers."""

__version__ = "0.1.0"
