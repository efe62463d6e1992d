"""Publish a notification to an SNS topic through the gateway (one retried call)."""

from __future__ import annotations

from typing import Any

SUBJECT_MAX = 100  # SNS: ASCII, no line breaks, at most 100 characters


def publish(gateway: Any, topic_arn: str, message: str, *, subject: str, attributes: dict[str, str],
            dedup_id: str) -> str:
    """Send ``message`` to ``topic_arn``; returns the message id.

    ``attributes`` become string message attributes (a subscription's filter policy can pick
    statuses or severities); a FIFO topic needs a group and a deduplication id, which makes a
    repeated send of the same operation's message one message.
    """
    params: dict[str, Any] = {
        "TopicArn": topic_arn, "Message": message, "Subject": subject_line(subject),
        "MessageAttributes": {name: {"DataType": "String", "StringValue": value}
                              for name, value in attributes.items() if value},
    }
    fifo = topic_arn.endswith(".fifo")
    if fifo:
        params.update(MessageGroupId="awsideman", MessageDeduplicationId=dedup_id[:128])
    answer = gateway.call("sns", "Publish", idempotent=fifo, **params)
    return str(answer.get("MessageId") or "")


def subject_line(text: str) -> str:
    """``text`` as an SNS subject: printable ASCII on one line, cut to the limit."""
    plain = "".join(c if " " <= c <= "~" else " " for c in text)
    return " ".join(plain.split())[:SUBJECT_MAX] or "awsideman"
