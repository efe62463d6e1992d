"""Edges of the system: the AWS gateway (only boto3 user), storage, crypto."""
