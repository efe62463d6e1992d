"""Errors rendered as each protocol's real service sends them, for either transport.

The in-process transport and the served one both answer a `Fault` with `error_response()`,
so a client cannot tell the two modes apart.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from awsideman.sandbox.injector import Fault

# Services whose wire protocol is not JSON; everything else here speaks JSON 1.1.
PROTOCOLS = {"s3": "rest-xml", "sts": "query", "iam": "query"}
# Implementation note: the codes below are what each protocol's real service sends, so that
# botocore's parsers produce the same `Error.Code` the product code will meet in production.
_STATUS = {"throttle": 400, "server_error": 500, "error": 400}
_QUERY_CODES = {"ThrottlingException": "Throttling", "InternalServerException": "InternalFailure",
                "AccessDeniedException": "AccessDenied", "ExpiredTokenException": "ExpiredToken"}
_S3_CODES = {"ThrottlingException": ("SlowDown", 503), "InternalServerException": ("InternalError", 500),
             "AccessDeniedException": ("AccessDenied", 403), "ExpiredTokenException": ("ExpiredToken", 400)}
_KMS_CODES = {"InternalServerException": "KMSInternalException"}


def error_response(fault: Fault) -> tuple[int, dict[str, str], bytes]:
    """(status, headers, body) of the real-shaped error for `fault` (not for resets/lost responses)."""
    request_id = str(uuid.uuid4())
    status = _STATUS[fault.kind]
    protocol = PROTOCOLS.get(fault.service, "json")
    if protocol == "rest-xml":
        code, status = _S3_CODES.get(fault.code, (fault.code, status))
        body = (f"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{code}</Code>"
                f"<Message>{_xml(fault.message)}</Message><RequestId>{request_id}</RequestId></Error>")
        return status, {"Content-Type": "application/xml", "x-amz-request-id": request_id}, body.encode()
    if protocol == "query":
        code = _QUERY_CODES.get(fault.code, fault.code)
        if code == "AccessDenied":
            status = 403
        side = "Receiver" if status >= 500 else "Sender"
        body = (f"<ErrorResponse><Error><Type>{side}</Type><Code>{code}</Code><Message>{_xml(fault.message)}"
                f"</Message></Error><RequestId>{request_id}</RequestId></ErrorResponse>")
        return status, {"Content-Type": "text/xml", "x-amzn-RequestId": request_id}, body.encode()
    code = _KMS_CODES.get(fault.code, fault.code) if fault.service == "kms" else fault.code
    document: dict[str, Any] = {"__type": code, "message": fault.message}
    if fault.service == "identitystore":  # its errors model RequestId and RetryAfterSeconds
        document["RequestId"] = request_id
        if fault.retry_after is not None:
            document["RetryAfterSeconds"] = fault.retry_after
    headers = {"Content-Type": "application/x-amz-json-1.1", "x-amzn-RequestId": request_id,
               "x-amzn-ErrorType": code}
    if fault.retry_after is not None and fault.kind == "throttle":
        headers["Retry-After"] = str(fault.retry_after)
    return status, headers, json.dumps(document).encode()


def _xml(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
