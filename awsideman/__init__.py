"""awsideman: back up and restore an AWS IAM Identity Center instance."""

__version__ = "0.1.0"
