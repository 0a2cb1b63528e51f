"""What runlake can learn about a remote object without a cloud SDK: an s3:// object's ETag
and size, from an HTTP HEAD request (anonymous, so public objects; S3-compatible servers via
the standard AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL variables). Nothing is downloaded."""

from __future__ import annotations

import os
from urllib.parse import quote, urlparse

HEAD_TIMEOUT = 5.0  # seconds: an artifact reference must not hang on an unreachable host


def s3_head_url(uri: str) -> str:
    """The HTTPS (or endpoint) URL of an s3://bucket/key URI, path-style for an endpoint."""
    parsed = urlparse(uri)
    bucket, key = parsed.netloc, parsed.path.lstrip("/")
    if not bucket:
        raise ValueError(f"{uri!r} names no bucket: use s3://bucket/key")
    endpoint = os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL")
    if endpoint:
        return f"{endpoint.rstrip('/')}/{quote(bucket)}/{quote(key)}"
    return f"https://{quote(bucket)}.s3.amazonaws.com/{quote(key)}"


def s3_etag(uri: str) -> tuple[str | None, int | None, str | None]:
    """(ETag without quotes, size, None) if the object can be read, else (None, None, why)."""
    import requests  # imported here: only references need it

    try:
        resp = requests.head(s3_head_url(uri), timeout=HEAD_TIMEOUT, allow_redirects=True)
    except requests.RequestException as exc:
        return None, None, f"{type(exc).__name__}: {exc}"
    if resp.status_code != 200:
        return None, None, f"HTTP {resp.status_code}"
    etag = resp.headers.get("ETag", "").strip('"') or None
    size = resp.headers.get("Content-Length")
    return etag, int(size) if size and size.isdigit() else None, None
