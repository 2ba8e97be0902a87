"""Why a connection to a Dask scheduler fails: its file, Dask's TLS settings, OpenSSL's errors.

Each diagnosis is one ``xent:`` line naming the setting to check (used by
:func:`xent_cli.pipeline.dask_engine._connect`). Dask is imported only inside the functions.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from xent_cli.errors import UsageError, option


def check_scheduler_file(path: str) -> str:
    """The scheduler's address from its file, or one ``xent:`` line saying why not."""
    import json

    try:
        with open(path, encoding="utf-8") as file:
            info = json.load(file)
    except OSError as exc:
        raise UsageError(f"{option('scheduler_file')} {path}: cannot read: {exc.strerror or exc}") from None
    except ValueError:
        info = None
    if not isinstance(info, dict) or not isinstance(info.get("address"), str):
        raise UsageError(
            f'{option("scheduler_file")} {path}: not a Dask scheduler file (JSON with an "address")',
            hint="dask scheduler --scheduler-file PATH writes one",
        )
    return str(info["address"])


# Dask's TLS settings, as a user sets them (``~/.config/dask/*.yaml`` or DASK_… variables).
TLS_SETTINGS_HINT = (
    "set distributed.comm.tls.ca-file, distributed.comm.tls.client.cert and "
    "distributed.comm.tls.client.key in ~/.config/dask/*.yaml, or the variables "
    "DASK_DISTRIBUTED__COMM__TLS__CA_FILE, DASK_DISTRIBUTED__COMM__TLS__CLIENT__CERT and "
    "DASK_DISTRIBUTED__COMM__TLS__CLIENT__KEY (PEM files)"
)
# OpenSSL's errors: "[SSL: CODE] words (_ssl.c:1006)", "[X509: CODE] …", "[SSL] words …".
_SSL_REASON = re.compile(r"\[(?:SSL|X509)(?:: (\w+))?\] ?([^(]*)")
_SSL_EOF = "EOF occurred in violation of protocol"


def scheme_of(address: str) -> str:
    scheme, sep, _ = address.partition("://")
    return scheme.lower() if sep else "tcp"


def security_for(address: str, what: str) -> Any:
    """The ``distributed.Security`` of Dask's configuration, checked for ``address``, or None.

    None leaves it to Dask: a ``distributed.client.security-loader`` is set,
    which makes the client's security itself. Otherwise a ``tls://`` address
    needs a CA file and a client certificate (Dask always authenticates both
    ends), and ``distributed.comm.require-encryption`` needs ``tls://`` or
    ``wss://``: each missing piece, unreadable file or certificate that does
    not load is one ``xent:`` line naming the setting, before any connection.
    """
    import ssl

    import dask
    from distributed import Security

    if dask.config.get("distributed.client.security-loader", None):
        return None
    security: Any = Security()  # its attributes are set from the configuration
    scheme = scheme_of(address)
    if security.require_encryption and scheme in ("tcp", "ws"):
        raise UsageError(
            f"{what}: Dask's configuration requires encryption (distributed.comm.require-encryption), "
            f"and {scheme}:// is not encrypted",
            hint="give the scheduler's tls:// address, or set distributed.comm.require-encryption to false",
        )
    if scheme != "tls":
        return security
    settings = {
        "distributed.comm.tls.ca-file": security.tls_ca_file,
        "distributed.comm.tls.client.cert": security.tls_client_cert,
        "distributed.comm.tls.client.key": security.tls_client_key,
    }
    missing = [name for name, value in list(settings.items())[:2] if not value]
    if missing:
        raise UsageError(
            f"{what}: a tls:// scheduler needs a CA file and a client certificate, and Dask's "
            f"configuration sets no {' and no '.join(missing)}",
            hint=TLS_SETTINGS_HINT,
        )
    for name, value in settings.items():
        if value and "\n" not in value:  # a path, not PEM text given inline
            try:
                with open(value, "rb"):
                    pass
            except OSError as exc:
                raise UsageError(
                    f"{what}: {name} {value}: cannot read: {exc.strerror or exc}", hint=TLS_SETTINGS_HINT
                ) from None
    try:
        security.get_connection_args("client")  # loads the CA and the certificate with its key
    except ssl.SSLError as exc:
        _, text = ssl_error(exc) or ("", str(exc))
        if getattr(exc, "library", None) == "X509":
            raise UsageError(
                f"{what}: distributed.comm.tls.ca-file {security.tls_ca_file}: "
                f"not a PEM CA certificate ({text})",
                hint=TLS_SETTINGS_HINT,
            ) from None
        key = security.tls_client_key or "none: expected in the certificate file"
        raise UsageError(
            f"{what}: cannot load the TLS client certificate {security.tls_client_cert} (key {key}): {text}",
            hint="distributed.comm.tls.client.cert must be a PEM certificate and "
            "distributed.comm.tls.client.key its private key (or append the key to the certificate file)",
        ) from None
    return security


def exception_chain(error: BaseException) -> Iterator[BaseException]:
    """``error`` and the exceptions it was raised from or during, innermost last."""
    seen: list[BaseException] = []
    found: BaseException | None = error
    while found is not None and not any(found is s for s in seen):
        yield found
        seen.append(found)
        found = found.__cause__ or found.__context__


def ssl_error(error: BaseException) -> tuple[str, str] | None:
    """The OpenSSL reason code and words of a failed TLS connection, if it failed in TLS.

    Dask often keeps only the text of the ``ssl.SSLError`` (``… SSLError: [SSL: CODE] words``).
    An EOF during the handshake (code ``EOF``) is how a scheduler that refuses the client's
    certificate is often seen from the client, depending on timing.
    """
    for found in exception_chain(error):
        text = str(found)
        match = _SSL_REASON.search(text)
        if match is not None:
            verify = getattr(found, "verify_message", None)
            return match.group(1) or "", str(verify) if verify else match.group(2).strip() or match.group(0)
        if _SSL_EOF in text:
            return "EOF", _SSL_EOF
    return None


def spoke_first(error: BaseException) -> bool:
    """Whether tornado gave up on TLS because the peer spoke first, as a Dask scheduler without TLS does.

    Depending on timing, that peer's answer fails the handshake instead (``WRONG_VERSION_NUMBER``).
    """
    return isinstance(error, ValueError) and "convert to SSL" in str(error)


def tls_failure(what: str, error: BaseException, security: Any) -> UsageError:
    """One line for a TLS handshake that failed, with the setting to check."""
    code, text = ssl_error(error) or ("", "")
    ca = getattr(security, "tls_ca_file", None) or "?"
    cert = getattr(security, "tls_client_cert", None) or "?"
    if code == "CERTIFICATE_VERIFY_FAILED":
        return UsageError(
            f"{what}: cannot connect: the scheduler's TLS certificate fails verification ({text})",
            hint=f"distributed.comm.tls.ca-file ({ca}) must be the CA that signed the scheduler's "
            "certificate",
        )
    if code == "EOF" or ("ALERT" in code and ("CERTIFICATE" in code or "UNKNOWN_CA" in code)):
        return UsageError(
            f"{what}: cannot connect: the scheduler refused the TLS connection ({text})",
            hint=f"check that it trusts distributed.comm.tls.client.cert ({cert}): that certificate must "
            "be signed by the CA of the scheduler's --tls-ca-file",
        )
    if code == "WRONG_VERSION_NUMBER" or spoke_first(error):
        return UsageError(
            f"{what}: cannot connect: the peer does not answer with TLS",
            hint="if the scheduler listens without TLS, give its tcp:// address",
        )
    return UsageError(f"{what}: cannot connect: TLS failed ({text})", hint=TLS_SETTINGS_HINT)
