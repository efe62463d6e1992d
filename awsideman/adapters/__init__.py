"""Edges of the system: the AWS gateway (only boto3 user), storage, crypto."""

# Reading botocore's exceptions into the core's plain facts is registered with the analyser here,
# so every path that can meet a botocore exception (they all import an adapter) has it.
from awsideman.adapters import error_facts as _error_facts  # noqa: E402, F401
