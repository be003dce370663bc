"""A local implementation of the DBConvert Streams Connection API (see shared/API.md)."""

__version__ = "0.1.0"
