"""Moved to awsideman/adapters/state_blobs.py; this name stays while bench/state.py imports it."""

from awsideman.adapters.state_blobs import BlobStore

__all__ = ["BlobStore"]
