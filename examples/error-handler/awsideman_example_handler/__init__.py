"""Example awsideman error handler.

awsideman calls ``handle(facts)`` for each failed write of a restore; ``facts`` is a read-only
``awsideman.core.recovery.ErrorFacts`` (category, code, message, resource, address, ...). The
answer is None (no opinion: the ``recovery:`` rules and the built-in table decide) or a mapping
with ``action`` (``retry``, ``fail``, ``skip`` or ``pause``) and/or ``category``, and an optional
``reason`` that the report shows. It must not keep state: it may be asked more than once.
"""


def handle(facts):
    if facts.resource == "assignment" and facts.code == "ConflictException":
        return {"action": "skip", "reason": "an assignment the service calls conflicting is left for a person"}
    return None
