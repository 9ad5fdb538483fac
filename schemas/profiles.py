"""The user profile contract on the profiles topic.

One record per change, keyed by `user_id`, value one JSON object:
``{"op": "upsert", "user_id": …, "nickname": …, "phone_number": …, "updated_at": …}`` or
``{"op": "delete", "user_id": …}``. On an upsert, a field that is absent keeps its stored
value; `phone_number` must be E.164 (`+`, country code, number).
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, StringConstraints, ValidationError, field_validator

from directory.phones import PhoneNumberError, mask_digits_in_text, normalize_phone_number
from pipeline.errors import InvalidEventError
from schemas.events import USER_ID_PATTERN

Nickname = Annotated[str, StringConstraints(max_length=100, pattern=r"^[^\x00-\x1f\x7f-\x9f]*$")]


class ProfileChange(BaseModel):
    """One create, update or delete of a user profile."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    op: Literal["upsert", "delete"]
    user_id: Annotated[str, StringConstraints(pattern=USER_ID_PATTERN)]
    nickname: Nickname | None = None
    phone_number: str | None = None
    updated_at: AwareDatetime | None = None

    @field_validator("phone_number")
    @classmethod
    def _canonical_phone(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            return normalize_phone_number(value)
        except PhoneNumberError as exc:
            raise ValueError(exc.reason) from None


def parse_profile_change(value: bytes | None) -> ProfileChange:
    """Parse one profiles-topic record, or raise InvalidEventError with one sentence."""
    if not value:
        raise InvalidEventError("record value is empty; send one JSON object per profile change")

    try:
        return ProfileChange.model_validate_json(value)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        field = ".".join(str(part) for part in first["loc"]) or None
        if first["type"] in ("json_invalid", "json_type", "model_type"):
            # The preview is logged and dead-lettered, so a phone number in it is masked.
            preview = mask_digits_in_text(value[:80].decode("utf-8", errors="backslashreplace"))
            return_reason = f"record value is not a JSON object (starts with {preview!r})"
            raise InvalidEventError(return_reason) from exc
        if first["type"] == "missing":
            raise InvalidEventError(f"required field {field!r} is missing", field=field) from exc
        message = first["msg"].removeprefix("Value error, ")
        raise InvalidEventError(f"field {field!r} is invalid: {message}", field=field) from exc
