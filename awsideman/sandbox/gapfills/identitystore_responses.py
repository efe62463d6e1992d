"""Response gap fills for moto's identitystore: UpdateUser/UpdateGroup and full user records."""

from __future__ import annotations

import json
from typing import Any

from moto.identitystore.responses import IdentityStoreResponse

from ._common import empty_answer, install_all
from .identitystore_models import EXTRA_USER_ATTRIBUTES


def _user_record(backend: Any, identity_store_id: str, user: Any) -> dict[str, Any]:
    """A user as the API returns it: every stored attribute, nothing that is unset."""
    record = user._asdict()
    record["Name"] = user.Name._asdict() if user.Name else None
    if record["Name"]:
        record["Name"] = {k: v for k, v in record["Name"].items() if v is not None}
    record.update(backend.user_extras(identity_store_id, user.UserId))
    return {k: v for k, v in record.items() if v is not None}


def create_user(self: IdentityStoreResponse) -> str:
    extras = {a: self._get_param(a) for a in EXTRA_USER_ATTRIBUTES}
    user_id, identity_store_id = self.identitystore_backend.create_user(
        self._get_param("IdentityStoreId"),
        self._get_param("UserName"),
        self._get_param("Name"),
        self._get_param("DisplayName"),
        self._get_param("NickName"),
        self._get_param("ProfileUrl"),
        self._get_param("Emails"),
        self._get_param("Addresses"),
        self._get_param("PhoneNumbers"),
        self._get_param("UserType"),
        self._get_param("Title"),
        self._get_param("PreferredLanguage"),
        self._get_param("Locale"),
        self._get_param("Timezone"),
        extras=extras,
    )
    return json.dumps({"UserId": user_id, "IdentityStoreId": identity_store_id})


def describe_user(self: IdentityStoreResponse) -> str:
    identity_store_id = self._get_param("IdentityStoreId")
    backend = self.identitystore_backend
    user = backend.describe_user(identity_store_id=identity_store_id, user_id=self._get_param("UserId"))
    return json.dumps(_user_record(backend, identity_store_id, user))


def list_users(self: IdentityStoreResponse) -> str:
    identity_store_id = self._get_param("IdentityStoreId")
    backend = self.identitystore_backend
    users, next_token = backend.list_users(
        identity_store_id=identity_store_id,
        max_results=self._get_param("MaxResults"),
        next_token=self._get_param("NextToken"),
        filters=self._get_param("Filters"),
    )
    store = backend._IdentityStoreBackend__get_identity_store(identity_store_id)
    records = [_user_record(backend, identity_store_id, store.users[u["UserId"]]) for u in users]
    body: dict[str, Any] = {"Users": records}
    if next_token:
        body["NextToken"] = next_token
    return json.dumps(body)


def update_user(self: IdentityStoreResponse) -> str:
    return empty_answer(self, self.identitystore_backend.update_user, "IdentityStoreId", "UserId", "Operations")


def update_group(self: IdentityStoreResponse) -> str:
    return empty_answer(self, self.identitystore_backend.update_group, "IdentityStoreId", "GroupId", "Operations")


def install_responses() -> None:
    """Put the wire handlers on IdentityStoreResponse (idempotent)."""
    install_all(IdentityStoreResponse, (create_user, describe_user, list_users, update_user, update_group))
