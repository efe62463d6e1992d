"""The shared journal's table layout: keys, item encoding and the schema marker.

One DynamoDB table (on-demand capacity), string keys ``pk`` (partition) and ``sk`` (sort):

    pk              sk                  what
    META            #SCHEMA             app name and schema version (written by `state init`)
    OPS             OP#<operation id>   one operation: kind, status, owner, lease, summary...
    OP#<op id>      CH#<seq, 10 digits> one journaled change (INTENT/APPLIED/FAILED/COMPENSATED)
    OP#<op id>      CP#<step>           one checkpoint of a backup step
    OP#<op id>      ER#<n, 10 digits>   one analysed error
    LOCK#<instance> #LOCK               the instance's lease lock: holder, expiry, fencing counter

Operation ids start with their UTC start time, so one query of the ``OPS`` partition in
descending order lists operations newest first without an index. Values too large for an
item (DynamoDB's limit is 400 KB) live in S3 and the item keeps their key and SHA-256.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

SCHEMA_VERSION = 1
APP = "awsideman"
META_KEY = {"pk": {"S": "META"}, "sk": {"S": "#SCHEMA"}}
OPS = "OPS"
KEY_SCHEMA = [{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}]
ATTRIBUTES = [{"AttributeName": "pk", "AttributeType": "S"}, {"AttributeName": "sk", "AttributeType": "S"}]
# Larger values go to S3: an item holds at most 400 KB, and a transaction 4 MB.
INLINE_LIMIT = 64 * 1024


def key(pk: str, sk: str) -> dict[str, Any]:
    return {"pk": {"S": pk}, "sk": {"S": sk}}


def operation_key(operation_id: str) -> dict[str, Any]:
    return key(OPS, f"OP#{operation_id}")


def partition(operation_id: str) -> str:
    return f"OP#{operation_id}"


def change_key(operation_id: str, seq: int) -> dict[str, Any]:
    return key(partition(operation_id), f"CH#{seq:010d}")


def checkpoint_key(operation_id: str, step: str) -> dict[str, Any]:
    return key(partition(operation_id), f"CP#{step}")


def error_key(operation_id: str, number: int) -> dict[str, Any]:
    return key(partition(operation_id), f"ER#{number:010d}")


def lock_key(instance_arn: str) -> dict[str, Any]:
    return key(f"LOCK#{instance_arn}", "#LOCK")


def encode(value: Any) -> dict[str, Any]:
    """One attribute value in DynamoDB's typed JSON (only the types the journal writes)."""
    if value is None:
        return {"NULL": True}
    if isinstance(value, bool):
        return {"BOOL": value}
    if isinstance(value, (int, float)):
        return {"N": repr(value) if isinstance(value, float) else str(value)}
    return {"S": str(value)}


def encode_all(values: Mapping[str, Any]) -> dict[str, Any]:
    """Attributes for an item or expression values; ``None`` values are left out."""
    return {name: encode(value) for name, value in values.items() if value is not None}


def decode(item: Mapping[str, Any]) -> dict[str, Any]:
    """The plain values of an item (numbers come back as int when whole)."""
    plain: dict[str, Any] = {}
    for name, typed in item.items():
        kind, value = next(iter(typed.items()))
        if kind == "N":
            number = float(value)
            plain[name] = int(number) if number.is_integer() and "." not in value and "e" not in value else number
        elif kind == "NULL":
            plain[name] = None
        else:
            plain[name] = value
    return plain
