"""The sanitiser: secrets never survive, ordinary ids and messages do."""

from __future__ import annotations

import json
import string
from typing import Any
from urllib.parse import quote

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from awsideman.core.sanitize import REDACTED, sanitize, sanitize_obj

B64 = string.ascii_letters + string.digits + "+/"
UPPER_DIGITS = string.ascii_uppercase + string.digits

SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
TOKEN = "IQoJb3JpZ2luX2VjEJr//////////wEaCXVzLWVhc3QtMSJHMEUCIQD6m2vH8yZ3t6o9/f1Q8hX5w5A+Ik9kz3Jc4bQ=="

KEEP = [
    "arn:aws:sso:::permissionSet/ssoins-722326ef1f5ee7b8/ps-2a1d5d6e1e9c7c8f",
    "arn:aws:iam::123456789012:role/aws-reserved/sso.amazonaws.com/eu-west-1/AWSReservedSSO_Admin_0123456789abcdef",
    "arn:aws:sts::123456789012:assumed-role/Ops/alice@example.com",
    "d-1234567890",
    "9067b2d4-1234-4e6a-9f3c-1a2b3c4d5e6f",
    "123456789012",
    "bk-20240131T120000Z-3f9a1c",
    "Error loading SSO Token: Token for https://example.awsapps.com/start does not exist",
    "The security token included in the request is expired",
    "Unable to locate credentials. Partial credentials found in env, missing: aws_secret_access_key",
    "An error occurred (ThrottlingException) when calling the ListUsers operation: Rate exceeded",
    "sha1 da39a3ee5e6b4b0d3255bfef95601890afd80709",
    "sha256 e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "https://identitystore.us-east-1.amazonaws.com/?Action=ListUsers&MaxResults=50",
    "s3://my-bucket/awsideman/backups/bk-20240131T120000Z-3f9a1c/manifest.json",
]


@pytest.mark.parametrize("text", KEEP)
def test_ordinary_text_survives(text):
    assert sanitize(text) == text


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        ("key AKIAIOSFODNN7EXAMPLE used", "AKIAIOSFODNN7EXAMPLE"),
        ("temporary ASIAY34FZKBOKMUTVV7A", "ASIAY34FZKBOKMUTVV7A"),
        (f"aws_secret_access_key = {SECRET}", SECRET),
        (f"AWS_SECRET_ACCESS_KEY={SECRET}", SECRET),
        (f'{{"SecretAccessKey": "{SECRET}"}}', SECRET),
        (f"secret {SECRET} in a sentence", SECRET),
        (f"aws_session_token={TOKEN}", TOKEN),
        (f"token {TOKEN} leaked", TOKEN),
        ("FwoGZXIvYXdzEBYaDHhBcFkOgMn6k8lQTyKGAZ0VxSr1d3Qxn", "FwoGZXIvYXdzEBYaDHhBcFkOgMn6k8lQTyKGAZ0VxSr1d3Qxn"),
        (f"https://b.s3.amazonaws.com/k?X-Amz-Security-Token={quote(TOKEN, safe='')}&X-Amz-Date=1",
         quote(TOKEN, safe="")),
        ("https://b.s3.amazonaws.com/k?X-Amz-Signature=fe5f80f77d5fa3beca038a248ff027d0",
         "fe5f80f77d5fa3beca038a248ff027d0"),
        ("?X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20240101%2Fus-east-1%2Fs3%2Faws4_request", "20240101%2Fus-east-1"),
        ("?AWSAccessKeyId=AKIDEXAMPLE&Signature=vjbyPxybdZaNmGa%2ByT272YEAiv4%3D", "vjbyPxybdZaNmGa"),
        ("Authorization: AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/iam/aws4_request, "
         "SignedHeaders=content-type;host;x-amz-date, "
         "Signature=5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7",
         "5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7"),
        ("Authorization: AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/iam/aws4_request", "AKIDEXAMPLE"),
        ("Authorization: Bearer abc.def.ghi", "abc.def.ghi"),
        ("password: hunter2", "hunter2"),
        ('{"token": "opaque-value-123"}', "opaque-value-123"),
    ],
)
def test_secrets_are_redacted(text, secret):
    result = sanitize(text)
    assert secret not in result
    assert REDACTED in result


def test_sanitize_is_idempotent_and_keeps_context():
    once = sanitize(f"aws_secret_access_key={SECRET} in region us-east-1")
    assert sanitize(once) == once
    assert once.startswith("aws_secret_access_key=") and once.endswith("in region us-east-1")


def test_sanitize_obj_redacts_sensitive_keys_recursively():
    data: Any = {
        "Credentials": {"AccessKeyId": "ASIAY34FZKBOKMUTVV7A", "SecretAccessKey": SECRET},
        "headers": {"Authorization": "AWS4-HMAC-SHA256 ...", "X-Amz-Security-Token": "short"},
        "items": [{"password": "p@ss"}, {"note": "key AKIAIOSFODNN7EXAMPLE"}, ("token", 1)],
        "UserId": "9067b2d4-1234-4e6a-9f3c-1a2b3c4d5e6f",
        "NextToken": None,
        "count": 3,
    }
    clean: Any = sanitize_obj(data)
    dumped = json.dumps(clean)
    for secret in (SECRET, "ASIAY34FZKBOKMUTVV7A", "AWS4-HMAC", "short", "p@ss", "AKIAIOSFODNN7EXAMPLE"):
        assert secret not in dumped
    assert clean["UserId"] == data["UserId"]
    assert clean["count"] == 3
    assert clean["items"][2] == ("token", 1)
    assert data["Credentials"]["SecretAccessKey"] == SECRET  # the input is not modified


# -- property: generated secrets never survive, wherever they are embedded ---------------------
access_key_ids = st.builds(lambda p, s: p + s, st.sampled_from(["AKIA", "ASIA"]),
                           st.text(UPPER_DIGITS, min_size=16, max_size=16))
secret_keys = st.text(B64, min_size=40, max_size=40)
session_tokens = st.builds(lambda p, s: p + s,
                           st.sampled_from(["FwoGZXIvYXdz", "IQoJb3JpZ2lu", "FQoGZXIvYXdz"]),
                           st.text(B64, min_size=100, max_size=400))
signatures = st.text("0123456789abcdef", min_size=64, max_size=64)
surrounding = st.text(max_size=40)  # any text (the default alphabet already excludes surrogates)


def _mixed(value: str) -> bool:
    return any(c.isupper() for c in value) and any(c.islower() for c in value) and any(c.isdigit() for c in value)


EMBEDDINGS = {
    "access_key": [
        "{p}{s}{q}", "{p} aws_access_key_id = {s}\n{q}", '{p}{{"AccessKeyId": "{s}"}}{q}',
        "{p}https://x.amazonaws.com/?X-Amz-Credential={s}%2F20240101%2Fus-east-1%2Fs3%2Faws4_request&{q}",
        "{p}Authorization: AWS4-HMAC-SHA256 Credential={s}/20240101/us-east-1/sso/aws4_request, "
        "SignedHeaders=host, Signature=00{q}",
    ],
    "secret_key": [
        "{p} aws_secret_access_key = {s}\n{q}", '{p}{{"SecretAccessKey": "{s}", "x": 1}}{q}',
        "{p}AWS_SECRET_ACCESS_KEY={s} {q}", "{p}secret_access_key: '{s}'{q}",
    ],
    "token": [
        "{p}{s}{q}", "{p} aws_session_token={s}\n{q}", '{p}{{"SessionToken": "{s}"}}{q}',
        "{p}?X-Amz-Security-Token={u}&X-Amz-Date=20240101T000000Z{q}", "{p}X-Amz-Security-Token: {s}\n{q}",
    ],
    "signature": [
        "{p}?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Signature={s}{q}",
        "{p}Authorization: AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20240101/us-east-1/sso/aws4_request, "
        "SignedHeaders=host;x-amz-date, Signature={s}\n{q}",
        "{p}&Signature={s}&Expires=1{q}",
    ],
}
STRATEGIES = {"access_key": access_key_ids, "secret_key": secret_keys, "token": session_tokens,
              "signature": signatures}


@st.composite
def embedded_secret(draw):
    kind = draw(st.sampled_from(sorted(EMBEDDINGS)))
    secret = draw(STRATEGIES[kind])
    template = draw(st.sampled_from(EMBEDDINGS[kind]))
    prefix, suffix = draw(surrounding), draw(surrounding)
    text = template.format(p=prefix, q=suffix, s=secret, u=quote(secret, safe=""))
    return kind, secret, prefix, suffix, text


@settings(max_examples=400, deadline=None)
@given(embedded_secret())
def test_property_embedded_secrets_never_survive(case):
    kind, secret, prefix, suffix, text = case
    assume(secret not in prefix and secret not in suffix)
    result = sanitize(text)
    assert secret not in result
    assert quote(secret, safe="") not in result


@settings(max_examples=200, deadline=None)
@given(secret_keys.filter(_mixed), surrounding, surrounding)
def test_property_bare_secret_keys_between_words(secret, prefix, suffix):
    assume(secret not in prefix + suffix)
    assert secret not in sanitize(f"{prefix} {secret} {suffix}")


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.sampled_from(["SecretAccessKey", "SessionToken", "aws_secret_access_key",
                                        "Authorization", "X-Amz-Security-Token", "X-Amz-Signature",
                                        "Credential", "password", "token"]),
                       st.text(min_size=1, max_size=30).filter(lambda s: s.strip() and "*" not in s),
                       min_size=1))
def test_property_values_of_sensitive_keys_never_survive(data):
    dumped = json.dumps(sanitize_obj({"outer": [data]}))
    for value in data.values():
        if value in (*data, "outer"):  # a value equal to a key name is visible as that key
            continue
        assert json.dumps(value) not in dumped


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=200))
def test_property_idempotent(text):
    once = sanitize(text)
    assert sanitize(once) == once
