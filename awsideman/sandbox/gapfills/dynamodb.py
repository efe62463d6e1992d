"""DynamoDB as the shared state backend needs it from moto 5.2.5.

- moto's tables are not safe for concurrent requests (a query during a write raises "dictionary
  changed size during iteration"); the real service is. Requests are served one at a time.
- ``TransactWriteItems`` deep-copied every table it touches before each transaction (to roll back
  on failure), so a journal write cost time in proportion to the journal's size. Here, as in
  DynamoDB, every condition is checked against the state before the transaction, and the writes
  are made only when all of them pass: nothing to roll back.
"""

from __future__ import annotations

import threading
from typing import Any

_LOCK = threading.RLock()


def install() -> None:
    from moto.dynamodb.models import DynamoDBBackend
    from moto.dynamodb.responses import DynamoHandler

    original = DynamoHandler.call_action
    if getattr(original, "_awsideman_serialised", False):
        return

    def call_action(self: Any) -> Any:
        with _LOCK:
            return original(self)

    call_action._awsideman_serialised = True  # type: ignore[attr-defined]
    DynamoHandler.call_action = call_action  # type: ignore[method-assign]
    DynamoDBBackend.transact_write_items = _transact_write_items  # type: ignore[method-assign]


def _transact_write_items(self: Any, transact_items: list[dict[str, Any]]) -> None:
    from moto.dynamodb.comparisons import get_filter_expression
    from moto.dynamodb.exceptions import (
        MultipleTransactionsException,
        TooManyTransactionsException,
        TransactionCanceledException,
        TransactWriteSingleOpException,
    )

    if len(transact_items) > 100:
        raise TooManyTransactionsException()
    seen: set[tuple[str, str]] = set()
    checked: list[tuple[str, dict[str, Any], str, dict[str, Any]]] = []
    errors: list[Any] = []
    for entry in transact_items:
        if len(entry) > 1:
            raise TransactWriteSingleOpException
        op_type, op = next(iter(entry.items()))
        if op_type not in {"ConditionCheck", "Put", "Delete", "Update"}:
            raise ValueError("Unsupported transaction operation")
        table_name = op["TableName"]
        table = self.get_table(table_name)
        if op_type == "Put":
            attrs = op["Item"]
            key = {table.hash_key_attr: attrs[table.hash_key_attr]}
            if table.range_key_attr is not None:
                key[table.range_key_attr] = attrs[table.range_key_attr]
        else:
            key = op["Key"]
        identity = (str(table_name), str(dict(sorted(key.items()))))
        if identity in seen:
            raise MultipleTransactionsException()
        seen.add(identity)
        condition = op.get("ConditionExpression")
        passed = condition is None or get_filter_expression(
            condition, op.get("ExpressionAttributeNames"), op.get("ExpressionAttributeValues")
        ).expr(self.get_item(table_name, key))
        errors.append((None, None, None) if passed else ("ConditionalCheckFailed", "The conditional request failed",
                                                          None))
        checked.append((op_type, op, table_name, key))
    if any(code is not None for code, _, _ in errors):
        raise TransactionCanceledException(errors)
    for op_type, op, table_name, key in checked:
        names, values = op.get("ExpressionAttributeNames"), op.get("ExpressionAttributeValues")
        if op_type == "Put":
            self.put_item(table_name, op["Item"], expression_attribute_names=names,
                          expression_attribute_values=values)
        elif op_type == "Delete":
            self.delete_item(table_name, key, expression_attribute_names=names, expression_attribute_values=values)
        elif op_type == "Update":
            self.update_item(table_name, key, update_expression=op["UpdateExpression"],
                             expression_attribute_names=names, expression_attribute_values=values)
