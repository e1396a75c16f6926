"""Fetching feeds and article pages from the web, safely.

Every connection is checked where it is made: a host that resolves to a private, loopback,
link-local or otherwise non-public address is refused (unless ``allow_private``), for the
first request and for every redirect, so a feed cannot make the server call its own
network. Bodies are read up to ``max_bytes``, the whole fetch within ``timeout`` seconds, at
most ``max_redirects`` hops. Conditional GET (ETag, Last-Modified) and robots.txt are
honoured. Text is decoded from the BOM, the HTTP charset, the XML or HTML declaration, then
UTF-8, then windows-1256 (the Arabic code page most often left undeclared).
"""

from __future__ import annotations

import codecs
import ipaddress
import re
import socket
import time
from dataclasses import dataclass, field
from urllib.parse import urljoin, urlsplit
from urllib.robotparser import RobotFileParser

import httpcore
import httpx

from rag.errors import RagError

USER_AGENT = "rag-news/0.1 (+https://github.com/rag-news; feed reader)"
_REDIRECTS = (301, 302, 303, 307, 308)
_DECLARED = re.compile(rb"""(?:encoding|charset)\s*=\s*["']?\s*([A-Za-z0-9_.:-]+)""", re.I)


class FetchError(RagError):
    """A fetch that failed, with one line saying why (shown as a feed's last error)."""


@dataclass(frozen=True)
class Limits:
    timeout: float = 20.0
    max_bytes: int = 5_000_000
    max_redirects: int = 5
    allow_private: bool = False


@dataclass
class Fetched:
    url: str  # after redirects
    status: int  # 200, or 304 for "not modified"
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "").split(";")[0].strip().lower()

    def text(self) -> str:
        return decode(self.body, self.headers.get("content-type", ""))


class Fetcher:
    """One HTTP client for a watch cycle (connections and robots.txt answers reused)."""

    def __init__(self, limits: Limits | None = None):
        self.limits = limits or Limits()
        transport = httpx.HTTPTransport()
        transport._pool._network_backend = _GuardedBackend(self.limits.allow_private)
        self._client = httpx.Client(
            transport=transport,
            headers={"User-Agent": USER_AGENT, "Accept-Encoding": "gzip, deflate"},
            timeout=self.limits.timeout,
            follow_redirects=False,
            trust_env=False,  # a proxy would hide where connections really go
        )
        self._robots: dict[str, RobotFileParser | None] = {}

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> Fetcher:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def get(self, url: str, etag: str = "", last_modified: str = "") -> Fetched:
        """GET ``url`` within the limits; 304 when unchanged since ``etag``/``last_modified``."""
        headers = {}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        deadline = time.monotonic() + self.limits.timeout
        for _ in range(self.limits.max_redirects + 1):
            check_url(url)
            try:
                fetched = self._get_once(url, headers, deadline)
            except httpx.TimeoutException:
                raise FetchError(f"timed out after {self.limits.timeout:g} s") from None
            except httpx.HTTPError as err:
                raise FetchError(_describe(err)) from None
            except (httpx.InvalidURL, ValueError, UnicodeError) as err:  # a redirect's address
                raise FetchError(_unusable(url, _first_line(err))) from None
            if fetched.status not in _REDIRECTS:
                return fetched
            location = fetched.headers.get("location")
            if not location:
                raise FetchError(f"HTTP {fetched.status} without a Location")
            url = urljoin(url, location)
        raise FetchError(f"too many redirects (more than {self.limits.max_redirects})")

    def _get_once(self, url: str, headers: dict, deadline: float) -> Fetched:
        with self._client.stream("GET", url, headers=headers) as response:
            kept = {k.lower(): v for k, v in response.headers.items()}
            if response.status_code in _REDIRECTS or response.status_code == 304:
                return Fetched(str(response.url), response.status_code, b"", kept)
            if response.status_code != 200:
                raise FetchError(f"HTTP {response.status_code} from {_host(url)}")
            declared = int(kept.get("content-length") or 0)
            if declared > self.limits.max_bytes:
                raise FetchError(self._too_large())
            body = bytearray()
            for piece in response.iter_bytes():
                body += piece
                if len(body) > self.limits.max_bytes:
                    raise FetchError(self._too_large())
                if time.monotonic() > deadline:
                    raise FetchError(f"timed out after {self.limits.timeout:g} s")
            return Fetched(str(response.url), 200, bytes(body), kept)

    def _too_large(self) -> str:
        return f"the response is larger than {self.limits.max_bytes / 1e6:g} MB; not read"

    def allowed_by_robots(self, url: str) -> bool:
        """Whether the site's robots.txt lets this reader fetch ``url`` (no file: yes)."""
        parts = urlsplit(url)
        site = f"{parts.scheme}://{parts.netloc}"
        if site not in self._robots:
            self._robots[site] = self._read_robots(site)
        robots = self._robots[site]
        return robots is None or robots.can_fetch(USER_AGENT, url)

    def _read_robots(self, site: str) -> RobotFileParser | None:
        try:
            fetched = self.get(site + "/robots.txt")
        except FetchError:
            return None  # none, or unreadable: nothing forbids
        robots = RobotFileParser()
        robots.parse(fetched.text().splitlines())
        return robots


def check_url(url: str) -> None:
    """Refuse an address that is not http(s) or whose host or port is malformed (a numeric
    host out of range, an octal one, a host no name can have), naming what is wrong."""
    try:
        parts = urlsplit(url)
        port = parts.port  # ValueError when out of range
    except ValueError as err:
        raise FetchError(_unusable(url, str(err))) from None
    if parts.scheme not in ("http", "https"):
        raise FetchError(f"only http and https addresses can be fetched, not {url[:80]!r}")
    if not parts.hostname:
        raise FetchError(f"no host in {url[:80]!r}")
    try:
        host = httpx.URL(url).raw_host.decode("ascii")
    except (httpx.InvalidURL, ValueError, UnicodeError) as err:
        raise FetchError(_unusable(url, _first_line(err))) from None
    if not _HOST.fullmatch(host):
        raise FetchError(_unusable(url, "no such host name"))
    if port == 0:
        raise FetchError(_unusable(url, "port 0"))


# a host as it goes on the wire: IDNA-encoded labels of letters, digits and hyphens, or an
# IPv6 address; "a..b" and "exa mple.com" are no host
_HOST = re.compile(
    r"(?:[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?\.)*"
    r"[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?\.?|[0-9A-Fa-f:.]*:[0-9A-Fa-f:.%]*"
)


def _unusable(url: str, why: str) -> str:
    return f"not a usable address: {url[:80]!r} ({why})"


def _first_line(err: BaseException) -> str:
    return (str(err).strip().splitlines() or [type(err).__name__])[0][:120]


def check_address(address: str, allow_private: bool) -> None:
    """Refuse a connection to an address that is not on the public internet."""
    ip = ipaddress.ip_address(address.split("%")[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    if not allow_private and not ip.is_global:
        raise FetchError(
            f"refused: {address} is a private, loopback or link-local address "
            "(set feeds_allow_private to fetch from your own network)"
        )


class _GuardedBackend(httpcore.SyncBackend):
    """Connects only to public addresses: every address the host resolves to is checked,
    and so is the peer the socket is actually connected to (no DNS rebinding)."""

    def __init__(self, allow_private: bool):
        self.allow_private = allow_private

    def connect_tcp(self, host, port, timeout=None, local_address=None, socket_options=None):
        try:
            addresses = {
                info[4][0] for info in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
            }
        except socket.gaierror as err:
            raise httpcore.ConnectError(f"cannot resolve {host}: {err.strerror}") from None
        for address in addresses:
            _guard(address, self.allow_private)
        stream = super().connect_tcp(host, port, timeout, local_address, socket_options)
        _guard(stream.get_extra_info("socket").getpeername()[0], self.allow_private, stream)
        return stream


def _guard(address: str, allow_private: bool, stream=None) -> None:
    try:
        check_address(address, allow_private)
    except FetchError as err:
        if stream is not None:
            stream.close()
        raise httpcore.ConnectError(str(err)) from None


def decode(body: bytes, content_type: str = "") -> str:
    """Text of a fetched body in whatever encoding it came in (see the module's note)."""
    for bom, encoding in ((codecs.BOM_UTF8, "utf-8"), (codecs.BOM_UTF16_LE, "utf-16"),
                          (codecs.BOM_UTF16_BE, "utf-16")):  # fmt: skip
        if body.startswith(bom):
            return body.decode(encoding, errors="replace").lstrip("\ufeff")
    candidates = []
    header = _DECLARED.search(content_type.encode("latin-1", "replace"))
    if header:
        candidates.append(header.group(1).decode("ascii"))
    declared = _DECLARED.search(body[:2048])
    if declared:
        candidates.append(declared.group(1).decode("ascii"))
    for name in (*candidates, "utf-8"):
        try:
            return body.decode(_codec(name))
        except (LookupError, UnicodeDecodeError):
            continue
    return body.decode("windows-1256", errors="replace")


def _codec(name: str) -> str:
    name = name.lower()
    return {"iso-8859-6": "iso8859_6", "arabic": "iso8859_6", "x-mac-arabic": "mac_arabic"}.get(
        name, name
    )


def _host(url: str) -> str:
    return urlsplit(url).hostname or url


def _describe(err: httpx.HTTPError) -> str:
    text = str(err) or type(err).__name__
    if "refused:" in text:
        return text[text.index("refused:") :]
    return f"cannot fetch: {text.splitlines()[0][:200]}"
