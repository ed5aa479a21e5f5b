"""Keeping secrets out of text: the one set of rules every message, log line and quoted URI goes through.

A URI's query string can hold a SAS token, so it is always shown as ``?***``. Besides, the values of
the secret fields of Azure connection strings (``AccountKey=``, ``SharedAccessSignature=``), SAS
signatures (``sig=``), storage option values (``account_key``, ``sas_token``, ...), bearer tokens,
the password of a URI's user info, and anything shaped like an Azure account key (88 characters of
base64) are replaced by ``***``. Known secret strings (a lake's own credentials) are replaced
wherever they appear. :class:`lakeml.errors.LakeMLError` applies this to every message and hint,
so no error can carry a secret even where a caller forgot to.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

MASK = "***"

_SCHEME = r"\b[A-Za-z][A-Za-z0-9+.\-]*://"
_RULES: tuple[tuple[re.Pattern[str], str], ...] = (
    # scheme://host/path?query#fragment -> scheme://host/path?***
    (re.compile(rf"({_SCHEME}[^\s'\"?#]*)[?#][^\s'\"]*"), rf"\1?{MASK}"),
    # scheme://user:password@host -> scheme://user:***@host
    (re.compile(rf"({_SCHEME}[^\s/'\"@:]+:)[^\s/'\"@]+@"), rf"\1{MASK}@"),
    (re.compile(r"(?i)(\b(?:AccountKey|SharedAccessSignature|SharedAccessKey)\s*=\s*)[^;\s'\"]+"), rf"\1{MASK}"),
    (re.compile(r"(?i)(\bsig=)[^&\s'\";]+"), rf"\1{MASK}"),
    (re.compile(r"(?i)(['\"]?\b(?:azure_storage_)?(?:account_key|access_key|sas_token|sas_key|connection_string"
                r"|bearer_token|client_secret)['\"]?\s*[:=]\s*)('[^']*'|\"[^\"]*\"|[^\s,;&}]+)"), rf"\1'{MASK}'"),
    (re.compile(r"(?i)(\bbearer\s+)[A-Za-z0-9\-._~+/]{20,}=*"), rf"\1{MASK}"),
    (re.compile(r"(?<![A-Za-z0-9+/])[A-Za-z0-9+/]{86}==(?![A-Za-z0-9+/=])"), MASK),
)


def redact_text(text: str, secrets: Iterable[str] = ()) -> str:
    """``text`` with every known secret and every secret-shaped value replaced by ``***``."""
    for secret in sorted({s for s in secrets if s and len(s) >= 4}, key=len, reverse=True):
        text = text.replace(secret, MASK)
    for pattern, replacement in _RULES:
        text = pattern.sub(replacement, text)
    return text
