"""Model references (``name``, ``name:3``, ``name@alias``) and name validation, in one place."""

from __future__ import annotations

import re
from dataclasses import dataclass

from lakeml.errors import InvalidNameError, ModelNotFoundError

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_\-]{0,127}$")
_VERSION = re.compile(r"^[0-9]{1,18}$")  # ASCII digits only: str.isdigit() also accepts '²' and '٣'
_ALIAS = re.compile(r"^[A-Za-z_][A-Za-z0-9_\-]{0,63}$")


def validate_model_name(name: str) -> str:
    """Return ``name`` if it is a valid model name, else raise :class:`InvalidNameError`.

    Names are letters, digits, ``_`` and ``-`` (no dots, slashes or ``..``), so a name can never
    step outside ``_lakeml/models/``; they start with a letter or digit (names starting with ``_``
    are never listed, so they are refused).
    """
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise InvalidNameError(
            f"Invalid model name {name!r}.",
            hint="Use 1-128 letters, digits, '_' or '-', starting with a letter or digit (e.g. 'churn_model').",
        )
    return name


def validate_alias(alias: str) -> str:
    """Return ``alias`` if it is a valid alias (a name that does not start with a digit)."""
    if not isinstance(alias, str) or not _ALIAS.fullmatch(alias):
        raise InvalidNameError(
            f"Invalid alias {alias!r}.",
            hint="Use letters, digits, '_' or '-', starting with a letter or '_' (e.g. 'champion').",
        )
    return alias


@dataclass(frozen=True)
class ModelRef:
    """A parsed model reference.

    Exactly one of ``version`` and ``alias`` is set, or neither (the latest version).

    >>> ModelRef.parse("churn@champion")
    ModelRef(name='churn', version=None, alias='champion')
    """

    name: str
    version: int | None = None
    alias: str | None = None

    @classmethod
    def parse(cls, ref: str | ModelRef) -> ModelRef:
        """Parse ``name``, ``name:3`` or ``name@alias``.

        Raises:
            InvalidNameError: the text is not a valid reference.
        """
        if isinstance(ref, ModelRef):
            return ref
        if not isinstance(ref, str) or not ref.strip():
            raise InvalidNameError(
                f"Invalid model reference {ref!r}.",
                hint="Write 'name' (latest), 'name:3' (version 3) or 'name@champion' (an alias).",
            )
        text = ref.strip()
        if "@" in text:
            name, _, alias = text.partition("@")
            return cls(validate_model_name(name), alias=validate_alias(alias))
        if ":" in text:
            name, _, ver = text.partition(":")
            if not _VERSION.fullmatch(ver) or int(ver) < 1:
                raise InvalidNameError(
                    f"Invalid model version {ver!r} in reference {text!r}.",
                    hint="Versions are whole numbers from 1, e.g. 'churn:3'.",
                )
            return cls(validate_model_name(name), version=int(ver))
        return cls(validate_model_name(text))

    def __str__(self) -> str:
        if self.version is not None:
            return f"{self.name}:{self.version}"
        if self.alias is not None:
            return f"{self.name}@{self.alias}"
        return self.name


def not_found(ref: ModelRef, known: list[str], *, what: str = "model") -> ModelNotFoundError:
    """Build the error for a reference that does not resolve."""
    from lakeml.errors import choices_hint

    return ModelNotFoundError(f"No {what} {str(ref)!r} in the registry.",
                              hint=choices_hint(ref.name if what == "model" else str(ref), known, kind=what))
