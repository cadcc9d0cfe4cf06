"""File transports: moving files to and from a partner (a fulfilment centre, a drop shipper) by FTP
or by URL, behind one small interface, with every failure raised as a typed Partner* error.

    async with FtpTransport(FtpSettings(host="ftp.fc.example", username="shop",
                                        password="...", tls=True,
                                        upload_folder="/in", download_folder="/out",
                                        archive_folder="/out/done")) as fc:
        await fc.send("orders-0042.csv", csv_bytes)      # STOR .orders-0042.csv.part, then RNFR/RNTO
        for file in await fc.receive():                  # every file in /out, downloaded
            import_statuses(file.data)
            await fc.acknowledge(file)                   # moved to /out/done: read once

    async with UrlTransport(UrlSettings(url="https://fc.example/api", token="...",
                                        send_path="/orders", receive_path="/statuses")) as fc:
        await fc.send("orders-0042.csv", csv_bytes)      # POST /orders, text/csv
        files = await fc.receive()                       # GET /statuses: one file

Both implement ``FileTransport`` (send, receive, acknowledge, close), so a fulfilment connector is
written once for either; each also has its own operations (FTP: upload, list, download, move,
delete; URL: post, get).

FTP runs on the standard library's ``ftplib`` (``FTP``, or ``FTP_TLS`` for explicit TLS: AUTH TLS,
then PBSZ 0 / PROT P so the data connections are encrypted too), one call at a time in a worker
thread (``asyncio.to_thread``). Why not ``aioftp``: it does offer explicit TLS
(``upgrade_to_tls``), but its client is passive-only, so the ``passive=False`` setting some partners
need could not be honoured, and it would be a new runtime dependency for what ``ftplib``, kept with
CPython, already does. Data connections resume the control connection's TLS session, which servers
such as vsftpd (``require_ssl_reuse``) and FileZilla Server demand. Every socket operation is bounded
by ``timeout_seconds``; a transfer that keeps trickling bytes is not cut short.

URL is the toolkit's ``PartnerHttp`` (pacing, retries, typed errors), with the partner's key sent
in a header.

Errors: refused connection, timeout, dropped connection, FTP 4xx replies (421 and others) ->
PartnerUnavailable; FTP 530 and HTTP 401/403 -> PartnerAuthError, as is a TLS certificate that is
not trusted or a server that refuses AUTH TLS (retrying will not help; the settings must change);
FTP 550 and other 5xx replies -> PartnerDataError with the server's message; a garbled reply ->
PartnerUnreadable. No ``ftplib``, ``ssl`` or socket exception escapes.
"""

from __future__ import annotations

import asyncio
import builtins
import fnmatch
import ftplib
import io
import json
import posixpath
import socket
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol, Self, TypeVar

from pydantic import BaseModel, Field, SecretStr, field_validator

from orderdeck.plugins.errors import (
    PartnerAuthError,
    PartnerDataError,
    PartnerError,
    PartnerUnavailable,
    PartnerUnreadable,
)
from orderdeck.plugins.toolkit import PartnerHttp, default_tls

T = TypeVar("T")


class FileTooLarge(PartnerDataError):
    """A download larger than ``max_file_bytes``, stopped at the limit. ``head`` holds the file's
    first ``limit + 1`` bytes (the same for the same file), e.g. to hash for a report of it."""

    def __init__(self, path: str, limit: int, head: bytes) -> None:
        super().__init__(f"download {path}: larger than {limit} bytes (the max_file_bytes setting)")
        self.path, self.limit, self.head = path, limit, head


@dataclass(frozen=True)
class RemoteFile:
    """A file in a partner's folder: its path, size in bytes and last change (when the server
    says)."""

    path: str
    size: int | None = None
    modified: datetime | None = None

    @property
    def name(self) -> str:
        """The file's name, without its folder."""
        return posixpath.basename(self.path)


@dataclass(frozen=True)
class PartnerFile:
    """A file received from a partner: its name, content, content type (over HTTP) and where it
    came from (an FTP path or a URL path)."""

    name: str
    data: bytes
    content_type: str = ""
    source: str = ""


class FileTransport(Protocol):
    """What a fulfilment connector needs of a transport, whichever the partner uses."""

    async def send(self, name: str, data: bytes, content_type: str = "text/csv") -> None:
        """Hand a file (e.g. an order export) to the partner."""

    async def receive(self, source: str | None = None) -> list[PartnerFile]:
        """The files the partner has for us (in ``source``, else the configured folder or path)."""

    async def acknowledge(self, file: PartnerFile) -> None:
        """Mark a received file as handled, so it is not read again."""

    async def close(self) -> None:
        """Close the connection."""


class FtpSettings(BaseModel):
    """A partner's FTP server and its folders (paths as the server names them)."""

    host: str = Field(min_length=1, description="The FTP server's name or address")
    port: int = Field(21, ge=1, le=65535)
    username: str = Field(min_length=1)
    password: SecretStr
    tls: bool = Field(True, description="Explicit TLS (AUTH TLS, then PROT P for the data)")
    trusted_certificate: str | None = Field(
        None, description="A PEM certificate to trust instead of the public CAs (a self-signed server)"
    )
    passive: bool = Field(True, description="Passive mode (the client opens the data connections)")
    timeout_seconds: float = Field(30.0, gt=0, le=300, description="Longest wait for the server")
    upload_folder: str = Field("", description="Where files for the partner go ('' = the login folder)")
    download_folder: str = Field("", description="Where the partner leaves files for us")
    archive_folder: str | None = Field(None, description="Where read files are moved; none = delete them")
    max_file_bytes: int = Field(50 * 2**20, gt=0, description="Largest file downloaded")

    @field_validator("trusted_certificate")
    @classmethod
    def _pem(cls, value: str | None) -> str | None:
        if value:
            try:
                ssl.create_default_context(cadata=value)
            except (ssl.SSLError, ValueError):
                raise ValueError("must be a certificate in PEM form (-----BEGIN CERTIFICATE-----...)") from None
        return value or None


class _FtpTls(ftplib.FTP_TLS):
    """FTP_TLS whose data connections resume the control connection's TLS session."""

    def ntransfercmd(self, cmd: str, rest: int | str | None = None) -> tuple[socket.socket, int | None]:
        conn, size = ftplib.FTP.ntransfercmd(self, cmd, rest)
        if self._prot_p:  # type: ignore[attr-defined]
            session = getattr(self.sock, "session", None)
            conn = self.context.wrap_socket(conn, server_hostname=self.host, session=session)
        return conn, size


def _ftp_error(what: str, exc: BaseException, timeout: float) -> PartnerError:
    """The Partner* error for an exception of ftplib, ssl or a socket."""
    if isinstance(exc, ftplib.error_perm):
        code = str(exc)[:3]
        if code in ("530", "532"):
            return PartnerAuthError(f"{what}: login refused: {exc}")
        return PartnerDataError(f"{what}: {exc}")
    if isinstance(exc, ftplib.error_temp):
        return PartnerUnavailable(f"{what}: {exc}")
    if isinstance(exc, ftplib.error_reply | ftplib.error_proto):
        return PartnerUnreadable(f"{what}: unexpected reply: {exc}")
    if isinstance(exc, ssl.SSLCertVerificationError):
        return PartnerAuthError(f"{what}: the server's TLS certificate is not trusted: {exc.verify_message}")
    if isinstance(exc, TimeoutError):
        return PartnerUnavailable(f"{what}: no answer within {timeout:g} s")
    if isinstance(exc, ConnectionRefusedError):
        return PartnerUnavailable(f"{what}: connection refused")
    return PartnerUnavailable(f"{what}: connection lost: {type(exc).__name__}: {exc}")  # OSError, EOFError


def _check_name(name: str) -> str:
    if not name or name in (".", "..") or any(c in name for c in "/\r\n\0"):
        raise PartnerDataError(f"not a file name: {name!r}")
    return name


def _mlsd_time(value: str | None) -> datetime | None:
    """A time as MLSD's ``modify`` fact or an MDTM reply writes it (UTC, YYYYMMDDHHMMSS[.sss])."""
    try:
        return datetime.strptime(value.split(".")[0], "%Y%m%d%H%M%S").replace(tzinfo=UTC) if value else None
    except ValueError:
        return None


class FtpTransport:
    """A partner's FTP server (see the module docstring). One connection, opened at first use and
    reopened after a failure; calls on one transport run one at a time."""

    def __init__(self, settings: FtpSettings) -> None:
        self.settings = settings
        self._ftp: ftplib.FTP | None = None
        self._lock = asyncio.Lock()

    async def __aenter__(self) -> Self:
        await self.connect()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def connect(self) -> None:
        """Connect and log in (a connection test), unless connected already."""
        await self._run(f"connect to {self.settings.host}:{self.settings.port}", lambda ftp: None)

    async def close(self) -> None:
        """Say goodbye (QUIT) and close the connection."""
        async with self._lock:
            if self._ftp is not None:
                await asyncio.to_thread(self._quit)

    async def upload(self, name: str, data: bytes) -> str:
        """Store ``data`` as ``name`` in the upload folder, under a temporary name first (renamed
        when complete, so the partner never picks up half a file). Returns the file's path."""
        folder = self.settings.upload_folder
        final = posixpath.join(folder, _check_name(name))
        partial = posixpath.join(folder, f".{name}.part")

        def store(ftp: ftplib.FTP) -> str:
            try:
                ftp.storbinary(f"STOR {partial}", io.BytesIO(data))
                ftp.rename(partial, final)
            except ftplib.error_perm:
                _try(ftp.delete, partial)
                raise
            return final

        return await self._run(f"upload {final}", store)

    async def list(self, folder: str | None = None, pattern: str = "*") -> builtins.list[RemoteFile]:
        """The files (not folders) in ``folder`` (default: the download folder) whose names match
        ``pattern`` (shell-style, case-insensitive), by name."""
        folder = self.settings.download_folder if folder is None else folder

        def files(ftp: ftplib.FTP) -> builtins.list[RemoteFile]:
            try:
                found = [
                    RemoteFile(posixpath.join(folder, name), int(facts["size"]) if "size" in facts else None,
                               _mlsd_time(facts.get("modify")))
                    for name, facts in ftp.mlsd(folder, facts=["type", "size", "modify"])
                    if facts.get("type", "file") == "file"
                ]  # fmt: skip
            except ftplib.error_perm as exc:
                if str(exc)[:3] not in ("500", "501", "502", "504"):
                    raise
                found = _nlst_files(ftp, folder)  # a server without MLSD
            return sorted((f for f in found if fnmatch.fnmatch(f.name.lower(), pattern.lower())), key=lambda f: f.name)

        return await self._run(f"list {folder or '.'}", files)

    async def download(self, path: str) -> bytes:
        """The content of the file at ``path``; FileTooLarge (a PartnerDataError) when it is larger
        than ``max_file_bytes``."""
        limit = self.settings.max_file_bytes

        def retrieve(ftp: ftplib.FTP) -> bytes:
            chunks = bytearray()

            def take(chunk: bytes) -> None:
                chunks.extend(chunk)
                if len(chunks) > limit:
                    raise FileTooLarge(path, limit, bytes(chunks[: limit + 1]))

            ftp.retrbinary(f"RETR {path}", take)
            return bytes(chunks)

        return await self._run(f"download {path}", retrieve)

    async def move(self, path: str, folder: str, name: str | None = None) -> str:
        """Move the file at ``path`` into ``folder`` (as ``name``, default its own). Returns its new
        path."""
        target = posixpath.join(folder, _check_name(name or posixpath.basename(path)))
        await self._run(f"move {path} to {target}", lambda ftp: ftp.rename(path, target))
        return target

    async def delete(self, path: str) -> None:
        """Delete the file at ``path``."""
        await self._run(f"delete {path}", lambda ftp: ftp.delete(path))

    async def send(self, name: str, data: bytes, content_type: str = "text/csv") -> None:
        """Upload (see ``upload``); FTP has no content type."""
        await self.upload(name, data)

    async def receive(self, source: str | None = None) -> builtins.list[PartnerFile]:
        """Every file in ``source`` (default: the download folder) but hidden ones (.name),
        downloaded."""
        found = [f for f in await self.list(source) if not f.name.startswith(".")]
        return [PartnerFile(f.name, await self.download(f.path), source=f.path) for f in found]

    async def acknowledge(self, file: PartnerFile) -> None:
        """Move a received file to the archive folder, its name prefixed with the time
        (20260102T030405Z-status.csv, so a partner reusing one name keeps every copy), or delete
        it when there is no archive folder."""
        if self.settings.archive_folder is None:
            await self.delete(file.source)
        else:
            stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
            await self.move(file.source, self.settings.archive_folder, f"{stamp}-{file.name}")

    async def _run(self, what: str, action: Callable[[ftplib.FTP], T]) -> T:
        """Run ``action`` on the connection (opened if need be) in a worker thread, turning every
        failure into a Partner* error."""
        async with self._lock:
            return await asyncio.to_thread(self._call, what, action)

    def _call(self, what: str, action: Callable[[ftplib.FTP], T]) -> T:
        try:
            if self._ftp is None:
                self._ftp = self._open()
            return action(self._ftp)
        except ftplib.error_perm as exc:  # a refusal: the connection itself is fine
            raise _ftp_error(what, exc, self.settings.timeout_seconds) from exc
        except PartnerError:
            self._drop()
            raise
        except (ftplib.Error, OSError, EOFError) as exc:  # ssl.SSLError is an OSError
            self._drop()
            raise _ftp_error(what, exc, self.settings.timeout_seconds) from exc

    def _open(self) -> ftplib.FTP:
        """Connect, secure the connection (explicit TLS) and log in."""
        s = self.settings
        ftp: ftplib.FTP
        if s.tls:
            trusted = s.trusted_certificate
            context = ssl.create_default_context(cadata=trusted) if trusted else default_tls()
            ftp = _FtpTls(context=context, timeout=s.timeout_seconds)
        else:
            ftp = ftplib.FTP(timeout=s.timeout_seconds)
        try:
            ftp.connect(s.host, s.port, timeout=s.timeout_seconds)
            if isinstance(ftp, ftplib.FTP_TLS):
                try:
                    ftp.auth()
                except ftplib.error_perm as exc:
                    raise PartnerAuthError(f"{s.host} refuses explicit TLS (AUTH TLS): {exc}") from exc
            ftp.login(s.username, s.password.get_secret_value())
            if isinstance(ftp, ftplib.FTP_TLS):
                ftp.prot_p()
            ftp.set_pasv(s.passive)
        except BaseException:
            ftp.close()
            raise
        return ftp

    def _drop(self) -> None:
        """Forget a connection in an unknown state (the next call opens a new one)."""
        if self._ftp is not None:
            self._ftp.close()
            self._ftp = None

    def _quit(self) -> None:
        if self._ftp is not None:
            _try(self._ftp.quit)
            self._drop()


def _try(action: Callable[..., Any], *args: Any) -> None:
    """Best effort: ``action(*args)``, ignoring a refusal or a lost connection."""
    try:
        action(*args)
    except (ftplib.Error, OSError, EOFError):
        pass


def _nlst_files(ftp: ftplib.FTP, folder: str) -> list[RemoteFile]:
    """The files in ``folder`` by NLST, SIZE and MDTM (servers without MLSD); names SIZE refuses
    are folders and left out."""
    entries = ftp.nlst(folder)
    ftp.voidcmd("TYPE I")  # SIZE is refused in ASCII mode, which NLST leaves
    found = []
    for entry in entries:
        path = posixpath.join(folder, posixpath.basename(entry))
        try:
            size = ftp.size(path)
        except ftplib.error_perm:
            continue
        try:
            modified = _mlsd_time(ftp.voidcmd(f"MDTM {path}")[4:].strip())
        except ftplib.error_perm:
            modified = None
        found.append(RemoteFile(path, size, modified))
    return found


class UrlSettings(BaseModel):
    """A partner's HTTP(S) endpoint: its address, key and the paths files go to and come from."""

    url: str = Field(pattern=r"^https?://\S+$", description="The partner's address, e.g. https://fc.example/api")
    token: SecretStr | None = Field(None, description="The partner's key or token")
    auth_header: str = Field("Authorization", min_length=1, description="The header that carries the token")
    auth_prefix: str = Field("Bearer ", description="Written before the token, e.g. 'Bearer ' (or '' for an API key)")
    send_path: str = Field("", description="Where files for the partner are POSTed")
    receive_path: str = Field("", description="Where files for us are fetched (GET)")
    verify_tls: bool = Field(True, description="Check the partner's TLS certificate")
    timeout_seconds: float = Field(30.0, gt=0, le=300, description="Longest wait for one answer")
    requests_per_second: float = Field(2.0, gt=0, le=100)


class UrlTransport:
    """A partner's HTTP(S) endpoint (see the module docstring); ``http_options`` go to PartnerHttp
    (e.g. ``retries``)."""

    def __init__(self, settings: UrlSettings, **http_options: Any) -> None:
        self.settings = settings
        headers = dict(http_options.pop("headers", {}))
        if settings.token is not None:
            headers[settings.auth_header] = settings.auth_prefix + settings.token.get_secret_value()
        options: dict[str, Any] = {"rate": settings.requests_per_second, "timeout": settings.timeout_seconds,
                                   "verify": settings.verify_tls, "headers": headers}  # fmt: skip
        self.http = PartnerHttp(settings.url.rstrip("/"), **(options | http_options))

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        """Close the connections."""
        await self.http.close()

    async def post(
        self, path: str, body: bytes | str | dict[str, Any] | builtins.list[Any], content_type: str | None = None,
        headers: dict[str, str] | None = None, operation: str = "",
    ) -> PartnerFile:  # fmt: skip
        """POST ``body``: bytes or text as they are (``content_type`` default
        application/octet-stream or text/plain), a dict or list as JSON. Returns the partner's
        answer. ``operation`` paces the call in that operation's own bucket (PartnerHttp)."""
        if isinstance(body, dict | list):
            content, default_type = json.dumps(body, default=str).encode(), "application/json"
        elif isinstance(body, str):
            content, default_type = body.encode(), "text/plain; charset=utf-8"
        else:
            content, default_type = body, "application/octet-stream"
        sent = {"content-type": content_type or default_type, **(headers or {})}
        response = await self.http.request("POST", path, content=content, headers=sent, operation=operation)
        return PartnerFile(posixpath.basename(path), response.content, response.headers.get("content-type", ""), path)

    async def get(self, path: str, params: dict[str, Any] | None = None, expect: str | None = None,
                  operation: str = "") -> PartnerFile:  # fmt: skip
        """GET ``path`` with query ``params``: the answer's bytes and content type. With ``expect``
        (e.g. "text/csv"), an answer of another type (often a proxy's HTML page) raises
        PartnerUnreadable. ``operation`` as for ``post``."""
        response = await self.http.request("GET", path, params=params, operation=operation)
        content_type = response.headers.get("content-type", "")
        if expect and content_type.split(";")[0].strip().lower() != expect.lower():
            got = content_type or "no content type"
            raise PartnerUnreadable(f"GET {path}: expected {expect}, got {got}: {response.text[:200]!r}")
        return PartnerFile(posixpath.basename(path), response.content, content_type, path)

    async def send(self, name: str, data: bytes, content_type: str = "text/csv") -> None:
        """POST the file to the send path, named in a Content-Disposition header."""
        disposition = {"content-disposition": f'attachment; filename="{_check_name(name)}"'}
        await self.post(self.settings.send_path, data, content_type, headers=disposition)

    async def receive(self, source: str | None = None) -> builtins.list[PartnerFile]:
        """The answer of a GET of ``source`` (default: the receive path) as one file; none if it
        is empty."""
        file = await self.get(self.settings.receive_path if source is None else source)
        return [file] if file.data.strip() else []

    async def acknowledge(self, file: PartnerFile) -> None:
        """Nothing to do: a URL answers what is current, there is no file to take away."""
