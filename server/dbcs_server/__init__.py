"""A local implementation of the DBConvert Streams Connection API, in both of its dialects (v1 and 2.x)."""

__version__ = "0.2.0"
