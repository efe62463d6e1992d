"""Gap fills that make moto 5.2.5's sso-admin and identitystore behave like the real services.

Each submodule exposes ``install()``; :func:`awsideman.sandbox.patches.apply` calls them once.
"""
