#!/usr/bin/python3
"""regindexer's test-data tool.

Starts Debian's docker-registry on loopback and fills it through the Registry
HTTP API v2 with OCI and Docker images, OCI indexes and Docker manifest lists,
labels, annotations and data-URI icons. The test suite, the demo (dev/demo)
and the benchmark all use it, so what they index was pushed the way any
client pushes.

  ri_testdata.py registry [--schema1] DIR [PORT [NOTIFY_URL]]
                                         run a registry storing in DIR, print its URL;
                                         with NOTIFY_URL, it posts its notifications there;
                                         --schema1 switches on its schema 1 compatibility
                                         (config "compatibility: schema1: enabled: true"),
                                         without which it refuses schema 1 pushes
  ri_testdata.py push URL SPEC.json      push what SPEC describes, print the digests
  ri_testdata.py sample URL              push the sample Flatpak-style apps
  ri_testdata.py bulk URL N M            push N repositories x M tags
  ri_testdata.py attach URL REPO TAG     push a cosign-style signature and attestation
                                         (sha256-HEX.sig, .att tags) of REPO:TAG
  ri_testdata.py content URL             push what registries hold besides images (see
                                         push_content: signatures, attestations, SBOMs,
                                         OCI 1.1 artifacts, a referrers index, Helm, WASM,
                                         buildx attestations, an index of indexes, Windows
                                         and arm/v7, zstd, odd and unusable configs, a
                                         deleted child, escapes, a schema 1 manifest); the
                                         registry needs --schema1 for the last; prints
                                         what an index of every tag must hold
  ri_testdata.py push-oci URL DIR REPO TAG
                                         push the image of an OCI layout (flatpak
                                         build-bundle --oci) byte for byte

A SPEC is {"images": [ENTRY, ...]}; an ENTRY is
  {"repository": "a/b", "tags": ["latest"], "format": "oci"|"docker",
   "os": "linux", "architecture": "amd64",
   "labels": {...}, "annotations": {...}}
or, for an image list, the same with "list": [IMAGE, ...] instead of the
image keys (each IMAGE with os, architecture, labels, annotations, and an
optional "format" for the child). "tags": [] pushes by digest only.
The output is the SPEC with "digest" (and "config_digest") filled in.
"""

import base64
import concurrent.futures
import ssl
import hashlib
import http.client
import json
import os
import re
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
import urllib.parse
import zlib

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
DOCKER_LAYER = "application/vnd.docker.image.rootfs.diff.tar.gzip"
OCI_EMPTY = "application/vnd.oci.empty.v1+json"
OCI_LAYER_ZSTD = "application/vnd.oci.image.layer.v1.tar+zstd"
SCHEMA1_SIGNED = "application/vnd.docker.distribution.manifest.v1+prettyjws"
SCHEMA1_CONFIG = "compatibility:\n  schema1:\n    enabled: true\n"

FLATPAK_ARCH = {"amd64": "x86_64", "arm64": "aarch64", "ppc64le": "ppc64le", "s390x": "s390x"}


class RegistryError(Exception):
    pass


def sha256(data):
    return "sha256:" + hashlib.sha256(data).hexdigest()


def sha512(data):
    return "sha512:" + hashlib.sha512(data).hexdigest()


def canonical(obj):
    return json.dumps(obj, sort_keys=True, separators=(",", ":")).encode()


def png(width, height, rgb):
    """A valid PNG of one colour, made without any imaging library."""
    def chunk(kind, data):
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body) & 0xFFFFFFFF)
    row = b"\x00" + bytes(rgb) * width
    raw = row * height
    return (b"\x89PNG\r\n\x1a\n"
            + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw))
            + chunk(b"IEND", b""))


def data_uri(png_bytes):
    return "data:image/png;base64," + base64.b64encode(png_bytes).decode()


class Client:
    """A small Registry API client with one keep-alive connection per thread,
    for http and https (with a CA file), Basic and Bearer token auth."""

    def __init__(self, url, timeout=30, cafile=None, username=None, password=None, client_cert=None):
        parsed = urllib.parse.urlsplit(url)
        if parsed.scheme not in ("http", "https"):
            raise ValueError("only http:// and https:// registries are supported")
        self.scheme = parsed.scheme
        self.host = parsed.hostname
        self.port = parsed.port or (443 if self.scheme == "https" else 80)
        self.timeout = timeout
        self.ssl_context = ssl.create_default_context(cafile=cafile) if self.scheme == "https" else None
        if client_cert is not None:
            self.ssl_context.load_cert_chain(*client_cert)
        self.username = username
        self.password = password
        self.tokens = {}
        self.local = threading.local()
        self.known_blobs = set()
        self.lock = threading.Lock()
        self.connections = []

    def _connection(self):
        conn = getattr(self.local, "conn", None)
        if conn is None:
            if self.scheme == "https":
                conn = http.client.HTTPSConnection(self.host, self.port, timeout=self.timeout,
                                                   context=self.ssl_context)
            else:
                conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
            self.local.conn = conn
            with self.lock:
                self.connections.append(conn)
        return conn

    def close(self):
        with self.lock:
            for conn in self.connections:
                conn.close()
            self.connections = []

    def _basic(self):
        pair = ("%s:%s" % (self.username, self.password)).encode()
        return "Basic " + base64.b64encode(pair).decode()

    def _token(self, challenge):
        """Answers a Bearer challenge the way registry clients do."""
        params = dict(re.findall(r'(\w+)="([^"]*)"', challenge))
        scope = params.get("scope", "")
        if scope in self.tokens:
            return self.tokens[scope]
        query = {"service": params.get("service", "")}
        if scope:
            query["scope"] = scope
        realm = urllib.parse.urlsplit(params["realm"])
        conn_class = http.client.HTTPSConnection if realm.scheme == "https" else http.client.HTTPConnection
        kwargs = {"context": self.ssl_context} if realm.scheme == "https" else {}
        conn = conn_class(realm.hostname, realm.port, timeout=self.timeout, **kwargs)
        headers = {"Authorization": self._basic()} if self.username else {}
        conn.request("GET", realm.path + "?" + urllib.parse.urlencode(query), headers=headers)
        response = conn.getresponse()
        data = response.read()
        conn.close()
        if response.status != 200:
            raise RegistryError("token service: %d %s" % (response.status, data[:200]))
        token = json.loads(data).get("token")
        with self.lock:
            self.tokens[scope] = token
        return token

    def request(self, method, path, body=None, headers=None, expect=(200,)):
        headers = dict(headers or {})
        for attempt in range(4):
            conn = self._connection()
            try:
                conn.request(method, path, body=body, headers=headers)
                response = conn.getresponse()
                data = response.read()
            except (http.client.HTTPException, OSError):
                conn.close()
                self.local.conn = None
                if attempt == 3:
                    raise
                continue
            challenge = response.getheader("WWW-Authenticate") or ""
            if response.status == 401 and "Authorization" not in headers:
                if challenge.startswith("Bearer"):
                    headers["Authorization"] = "Bearer " + self._token(challenge)
                    continue
                if challenge.startswith("Basic") and self.username:
                    headers["Authorization"] = self._basic()
                    continue
            break
        if response.status not in expect:
            raise RegistryError("%s %s: %d %s" % (method, path, response.status, data[:300]))
        return response, data

    def put_blob(self, repository, data, mount_from=None, algorithm=sha256):
        digest = algorithm(data)
        key = (repository, digest)
        with self.lock:
            if key in self.known_blobs:
                return digest
        if mount_from and mount_from != repository and not self.tokens:
            response, _ = self.request(
                "POST", "/v2/%s/blobs/uploads/?mount=%s&from=%s" % (repository, digest, mount_from),
                expect=(201, 202))
            if response.status == 201:
                with self.lock:
                    self.known_blobs.add(key)
                return digest
        else:
            response, _ = self.request("POST", "/v2/%s/blobs/uploads/" % repository, expect=(202,))
        location = response.getheader("Location")
        parsed = urllib.parse.urlsplit(location)
        path = parsed.path + ("?" + parsed.query + "&" if parsed.query else "?")
        path += "digest=" + urllib.parse.quote(digest)
        self.request("PUT", path, body=data,
                     headers={"Content-Type": "application/octet-stream",
                              "Content-Length": str(len(data))},
                     expect=(201,))
        with self.lock:
            self.known_blobs.add(key)
        return digest

    def put_manifest(self, repository, reference, media_type, data):
        response, _ = self.request("PUT", "/v2/%s/manifests/%s" % (repository, reference), body=data,
                                   headers={"Content-Type": media_type}, expect=(201,))
        digest = response.getheader("Docker-Content-Digest")
        if digest != sha256(data):
            raise RegistryError("registry computed %s for a manifest of digest %s" % (digest, sha256(data)))
        return digest

    def put_manifest_any(self, repository, reference, media_type, data):
        """A PUT whose digest the registry decides (schema 1: of the payload)."""
        response, _ = self.request("PUT", "/v2/%s/manifests/%s" % (repository, reference), body=data,
                                   headers={"Content-Type": media_type}, expect=(201,))
        return response.getheader("Docker-Content-Digest")

    def delete_manifest(self, repository, digest):
        self.request("DELETE", "/v2/%s/manifests/%s" % (repository, digest), expect=(202,))
        self.close()


class Pusher:
    def __init__(self, client):
        self.client = client
        self.layer = None
        self.layer_home = None
        self.layer_lock = threading.Lock()

    def _layer(self, repository):
        """One small layer shared by every image, mounted across repositories."""
        with self.layer_lock:
            if self.layer is None:
                self.layer = zlib.compress(b"regindexer test layer\n")
                self.client.put_blob(repository, self.layer)
                self.layer_home = repository
                return sha256(self.layer), len(self.layer)
        self.client.put_blob(repository, self.layer, mount_from=self.layer_home)
        return sha256(self.layer), len(self.layer)

    def push_image(self, repository, image, references):
        fmt = image.get("format", "oci")
        layer_digest, layer_size = self._layer(repository)
        config = {
            "architecture": image.get("architecture", "amd64"),
            "os": image.get("os", "linux"),
            "config": {"Labels": image.get("labels") or {}},
            "rootfs": {"type": "layers", "diff_ids": [sha256(b"regindexer test layer\n")]},
        }
        if image.get("config_extra"):
            config.update(image["config_extra"])
        config_bytes = canonical(config)
        config_digest = self.client.put_blob(repository, config_bytes, mount_from=self.layer_home)
        if fmt == "docker":
            manifest = {
                "schemaVersion": 2,
                "mediaType": DOCKER_MANIFEST,
                "config": {"mediaType": DOCKER_CONFIG, "digest": config_digest, "size": len(config_bytes)},
                "layers": [{"mediaType": DOCKER_LAYER, "digest": layer_digest, "size": layer_size}],
            }
            media_type = DOCKER_MANIFEST
        else:
            manifest = {
                "schemaVersion": 2,
                "mediaType": OCI_MANIFEST,
                "config": {"mediaType": OCI_CONFIG, "digest": config_digest, "size": len(config_bytes)},
                "layers": [{"mediaType": OCI_LAYER, "digest": layer_digest, "size": layer_size}],
            }
            if image.get("annotations") is not None:
                manifest["annotations"] = image["annotations"]
            media_type = OCI_MANIFEST
        data = canonical(manifest)
        digest = sha256(data)
        for reference in references or [digest]:
            self.client.put_manifest(repository, reference, media_type, data)
        image["digest"] = digest
        image["config_digest"] = config_digest
        image["media_type"] = media_type
        image["size"] = len(data)
        return digest

    def push_entry(self, entry):
        repository = entry["repository"]
        tags = entry.get("tags", ["latest"])
        if "list" not in entry:
            self.push_image(repository, entry, tags)
            return entry
        fmt = entry.get("format", "oci")
        children = []
        for child in entry["list"]:
            child.setdefault("format", fmt)
            self.push_image(repository, child, None)
            children.append({
                "mediaType": child["media_type"],
                "digest": child["digest"],
                "size": child["size"],
                "platform": {"architecture": child.get("platform_architecture", child.get("architecture", "amd64")),
                             "os": child.get("os", "linux")},
            })
        for extra in entry.get("extra_children", []):
            children.append(extra)
        media_type = DOCKER_LIST if fmt == "docker" else OCI_INDEX
        manifest = {"schemaVersion": 2, "mediaType": media_type, "manifests": children}
        if fmt != "docker" and entry.get("annotations") is not None:
            manifest["annotations"] = entry["annotations"]
        data = canonical(manifest)
        digest = sha256(data)
        for reference in tags or [digest]:
            self.client.put_manifest(repository, reference, media_type, data)
        entry["digest"] = digest
        entry["media_type"] = media_type
        return entry


def push(url, spec, workers=8, **client_options):
    """Pushes SPEC's entries (in parallel across repositories) and returns it with digests."""
    client = Client(url, **client_options)
    try:
        return _push(client, spec, workers)
    finally:
        client.close()


def _push(client, spec, workers):
    pusher = Pusher(client)
    entries = spec["images"]
    if not entries:
        return spec
    # The first push creates the shared layer that later ones mount.
    pusher.push_entry(entries[0])
    by_repository = {}
    for entry in entries[1:]:
        by_repository.setdefault(entry["repository"], []).append(entry)

    def push_repository(items):
        for item in items:
            pusher.push_entry(item)

    with concurrent.futures.ThreadPoolExecutor(max_workers=workers) as pool:
        for future in [pool.submit(push_repository, items) for items in by_repository.values()]:
            future.result()
    return spec


def flatpak_labels(app_id, arch, icon=None, runtime="org.example.Platform/x86_64/stable"):
    labels = {
        "org.flatpak.ref": "app/%s/%s/stable" % (app_id, FLATPAK_ARCH.get(arch, arch)),
        "org.flatpak.metadata": "[Application]\nname=%s\nruntime=%s\n" % (app_id, runtime),
        "org.flatpak.installed-size": "1024",
        "org.flatpak.download-size": "512",
    }
    if icon is not None:
        labels["org.freedesktop.appstream.icon-64"] = data_uri(icon)
    return labels


def sample_spec():
    """A few Flatpak-style apps, as `flatpak build-bundle --oci` makes them
    (everything in labels), one multi-architecture list, one plain image."""
    red = png(64, 64, (200, 30, 30))
    blue = png(64, 64, (30, 30, 200))
    return {"images": [
        {"repository": "org.example.hello", "tags": ["latest", "1.0"], "architecture": "amd64",
         "labels": flatpak_labels("org.example.Hello", "amd64", red)},
        {"repository": "org.example.editor", "tags": ["latest"],
         "list": [{"architecture": "amd64", "labels": flatpak_labels("org.example.Editor", "amd64", blue)},
                  {"architecture": "arm64", "labels": flatpak_labels("org.example.Editor", "arm64", blue)}]},
        {"repository": "org.example.game", "tags": ["latest", "testing"], "architecture": "amd64",
         "format": "docker", "labels": flatpak_labels("org.example.Game", "amd64", red)},
        {"repository": "tools/base", "tags": ["latest"], "architecture": "amd64",
         "labels": {"org.opencontainers.image.title": "A plain container image"}},
    ]}


def bulk_spec(n_repositories, n_tags, icon_every=10, list_every=10):
    icon = png(16, 16, (10, 120, 10))
    images = []
    for r in range(n_repositories):
        repository = "bulk/app%05d" % r
        app_id = "org.bulk.App%05d" % r
        for t in range(n_tags):
            tag = "latest" if t == 0 else "v%d" % t
            if list_every and r % list_every == 0:
                images.append({"repository": repository, "tags": [tag], "list": [
                    {"architecture": arch, "labels": dict(flatpak_labels(app_id, arch), version=str(t))}
                    for arch in ("amd64", "arm64")]})
            else:
                images.append({"repository": repository, "tags": [tag], "architecture": "amd64",
                               "annotations": {"org.example.build": str(t)},
                               "labels": dict(flatpak_labels(app_id, "amd64",
                                                             icon if icon_every and r % icon_every == 0 else None),
                                              version=str(t))})
    return {"images": images}


# ---------------------------------------------------------------------------
# What registries hold besides images (issue 13). Each piece is pushed the
# way the tool that makes it pushes it; push_content() returns what an index
# of every tag must hold, what it must skip (by reason), and the config blobs
# an indexer must never fetch.

def _b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _der_length(data, i):
    first = data[i]
    if first < 0x80:
        return first, i + 1
    n = first & 0x7F
    return int.from_bytes(data[i + 1:i + 1 + n], "big"), i + 1 + n


def _ecdsa_raw(der):
    """r||s of a DER ECDSA-Sig-Value, as JWS ES256 wants it."""
    assert der[0] == 0x30
    _, i = _der_length(der, 1)
    parts = []
    for _ in range(2):
        assert der[i] == 0x02
        length, i = _der_length(der, i + 1)
        parts.append(int.from_bytes(der[i:i + length], "big").to_bytes(32, "big"))
        i += length
    return b"".join(parts)


def _libtrust_key_id(spki_der):
    """libtrust's key ID: base32 of the first 240 bits of the SHA-256 of the
    public key's DER, in twelve groups of four."""
    encoded = base64.b32encode(hashlib.sha256(spki_der).digest()[:30]).decode()
    return ":".join(encoded[i:i + 4] for i in range(0, 48, 4))


def sign_schema1(manifest, workdir):
    """A Docker schema 1 manifest signed as docker 1.x signed it (libtrust
    JWS, ES256, "prettyjws"), with openssl for the cryptography."""
    key = os.path.join(workdir, "schema1-key.pem")
    if not os.path.exists(key):
        subprocess.run(["openssl", "ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", key],
                       check=True, capture_output=True)
    spki = subprocess.run(["openssl", "ec", "-in", key, "-pubout", "-outform", "DER"],
                          check=True, capture_output=True).stdout
    point = spki[-65:]
    assert point[0] == 4
    payload = json.dumps(manifest, indent=3).encode()
    close = payload.rindex(b"}")
    protected = _b64url(json.dumps({"formatLength": close, "formatTail": _b64url(payload[close:]),
                                    "time": "2026-01-01T00:00:00Z"}).encode())
    signing_input = (protected + "." + _b64url(payload)).encode()
    der = subprocess.run(["openssl", "dgst", "-sha256", "-sign", key], input=signing_input,
                         check=True, capture_output=True).stdout
    signature = {
        "header": {"jwk": {"crv": "P-256", "kid": _libtrust_key_id(spki), "kty": "EC",
                           "x": _b64url(point[1:33]), "y": _b64url(point[33:])},
                   "alg": "ES256"},
        "signature": _b64url(_ecdsa_raw(der)),
        "protected": protected,
    }
    signatures = json.dumps([signature], indent=3).replace("\n", "\n   ")
    return payload[:close] + b',\n   "signatures": ' + signatures.encode() + b"\n" + payload[close:]


# Every kind of escape JSON has, and what a careful decoder (Go's) makes
# of each: an unpaired surrogate and \u0000 become U+FFFD.
ESCAPES = [
    ('"quote\\"backslash\\\\slash\\/"', 'quote"backslash\\slash/'),
    ('"controls\\b\\f\\n\\r\\t\\u0001\\u001f"', "controls\b\f\n\r\t\x01\x1f"),
    ('"bmp \\u00e9\\u20AC raw \u00e9\u20ac \u2028"', "bmp \u00e9\u20ac raw \u00e9\u20ac \u2028"),
    ('"pair \\ud83d\\ude00 raw \U0001F600"', "pair \U0001F600 raw \U0001F600"),
    ('"lone high \\ud800 then x"', "lone high \ufffd then x"),
    ('"lone low \\udc00x"', "lone low \ufffdx"),
    ('"reversed \\udc00\\ud800."', "reversed \ufffd\ufffd."),
    ('"nul \\u0000 inside"', "nul \ufffd inside"),
    ('"escaped backslash-u \\\\u0000"', "escaped backslash-u \\u0000"),
]
ZSTD_EMPTY = b"\x28\xb5\x2f\xfd\x20\x00\x01\x00\x00"


class ContentPusher:
    """Pushes the content and keeps the expectations next to it."""

    def __init__(self, client, workdir):
        self.client = client
        self.workdir = workdir
        self.expected = {}            # repository → {"Images": [...], "Lists": [...]}
        self.skipped = {}             # reason → count, for an index of every tag
        self.never_fetched = []       # config digests of what is not an image
        self.layer = zlib.compress(b"regindexer content layer\n")

    def skip(self, reason, n=1):
        self.skipped[reason] = self.skipped.get(reason, 0) + n

    def blob(self, repository, data, algorithm=sha256):
        return self.client.put_blob(repository, data, algorithm=algorithm)

    def manifest(self, repository, references, media_type, manifest):
        data = canonical(manifest) if not isinstance(manifest, bytes) else manifest
        for reference in references or [sha256(data)]:
            self.client.put_manifest(repository, reference, media_type, data)
        return {"mediaType": media_type, "digest": sha256(data), "size": len(data)}

    def image(self, repository, tags, os_="linux", arch="amd64", labels=None, annotations=None,
              fmt="oci", config=None, config_bytes=None, layer_type=None, variant=None,
              config_algorithm=sha256, config_size_delta=0, expect=True):
        """An image; its expected entry is filed under @repository when tagged
        and @expect."""
        if config_bytes is None:
            config = dict(config) if config is not None else {
                "architecture": arch, "os": os_, "config": {"Labels": labels or {}}}
            if variant:
                config["variant"] = variant
            config.setdefault("rootfs", {"type": "layers", "diff_ids": [sha256(b"x")]})
            config_bytes = canonical(config)
        layer = ZSTD_EMPTY if layer_type == OCI_LAYER_ZSTD else self.layer
        layer_digest = self.blob(repository, layer)
        config_digest = self.blob(repository, config_bytes, algorithm=config_algorithm)
        docker = fmt == "docker"
        manifest = {
            "schemaVersion": 2,
            "mediaType": DOCKER_MANIFEST if docker else OCI_MANIFEST,
            "config": {"mediaType": DOCKER_CONFIG if docker else OCI_CONFIG, "digest": config_digest,
                       "size": len(config_bytes) + config_size_delta},
            "layers": [{"mediaType": layer_type or (DOCKER_LAYER if docker else OCI_LAYER),
                        "digest": layer_digest, "size": len(layer)}],
        }
        if annotations is not None and not docker:
            manifest["annotations"] = annotations
        descriptor = self.manifest(repository, tags, manifest["mediaType"], manifest)
        entry = {"Digest": descriptor["digest"], "MediaType": descriptor["mediaType"], "OS": os_,
                 "Architecture": arch, "Annotations": dict(annotations or {}) if not docker else {},
                 "Labels": dict(labels or {})}
        if tags and expect:
            self.expect_image(repository, dict(entry, Tags=sorted(tags)))
        descriptor["entry"] = entry
        descriptor["config_digest"] = config_digest
        descriptor["platform"] = {"architecture": arch, "os": os_}
        if variant:
            descriptor["platform"]["variant"] = variant
        return descriptor

    def expect_image(self, repository, entry):
        self.expected.setdefault(repository, {"Images": [], "Lists": []})["Images"].append(entry)

    def expect_list(self, repository, tags, descriptor, children):
        self.expected.setdefault(repository, {"Images": [], "Lists": []})["Lists"].append({
            "Tags": sorted(tags), "Digest": descriptor["digest"], "MediaType": descriptor["mediaType"],
            "Images": children})

    def artifact(self, repository, tags, config_type, layer_type, artifact_type=None, subject=None,
                 config_bytes=b"{}", kind="artifact", counted=True):
        """An OCI artifact (config and layer of their own types)."""
        config_digest = self.blob(repository, config_bytes)
        layer = ("%s content for %s\n" % (kind, repository)).encode()
        manifest = {"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                    "config": {"mediaType": config_type, "digest": config_digest, "size": len(config_bytes)},
                    "layers": [{"mediaType": layer_type, "digest": self.blob(repository, layer),
                                "size": len(layer)}]}
        if artifact_type:
            manifest["artifactType"] = artifact_type
        if subject:
            manifest["subject"] = {k: subject[k] for k in ("mediaType", "digest", "size")}
        descriptor = self.manifest(repository, tags, OCI_MANIFEST, manifest)
        self.never_fetched.append(config_digest)
        if counted:
            self.skip(kind)
        if artifact_type:
            descriptor["artifactType"] = artifact_type
        return descriptor

    def index(self, repository, tags, children, fmt="oci", annotations=None):
        media_type = DOCKER_LIST if fmt == "docker" else OCI_INDEX
        manifest = {"schemaVersion": 2, "mediaType": media_type,
                    "manifests": [{k: v for k, v in child.items() if k not in ("entry", "config_digest")}
                                  for child in children]}
        if annotations is not None:
            manifest["annotations"] = annotations
        return self.manifest(repository, tags, media_type, manifest)

    def push_all(self):
        red = png(64, 64, (200, 30, 30))

        # An ordinary Flatpak app, with what cosign and OCI 1.1 tools attach.
        app = self.image("content/app", ["latest", "1.0"],
                         labels=flatpak_labels("org.content.App", "amd64", red),
                         annotations={"org.opencontainers.image.title": "App"})
        hexdigest = app["digest"].split(":", 1)[1]
        # cosign's tags: an image config whose layers say what they are
        for suffix, layer_type, kind in ((".sig", "application/vnd.dev.cosign.simplesigning.v1+json", "signature"),
                                         (".att", "application/vnd.dsse.envelope.v1+json", "attestation"),
                                         (".sbom", "text/spdx", "sbom")):
            self.artifact("content/app", ["sha256-%s%s" % (hexdigest, suffix)], OCI_CONFIG, layer_type,
                          config_bytes=canonical({"architecture": "", "config": {}, "created": "0001-01-01T00:00:00Z",
                                                            "os": "", "rootfs": {"type": "layers", "diff_ids": []},
                                                            "history": [{"comment": suffix}]}), kind=kind)
        # OCI 1.1: artifacts with artifactType, the empty config and a
        # subject, pushed by digest, and the referrers tag schema's index
        signature = self.artifact("content/app", [], OCI_EMPTY, "application/vnd.dev.sigstore.bundle.v0.3+json",
                                  artifact_type="application/vnd.dev.cosign.artifact.sig.v1+json",
                                  subject=app, counted=False)
        report = self.artifact("content/app", [], OCI_EMPTY, "application/vnd.example.report.v1+json",
                               artifact_type="application/vnd.example.report", subject=app, counted=False)
        self.index("content/app", ["sha256-" + hexdigest], [signature, report])
        self.skip("signature")
        self.skip("artifact")
        self.skip("list-without-images")

        # Helm and WASM, by their own config types
        self.artifact("content/helm", ["latest", "0.1.0"], "application/vnd.cncf.helm.config.v1+json",
                      "application/vnd.cncf.helm.chart.content.v1.tar+gzip",
                      config_bytes=b'{"name":"chart","version":"0.1.0","apiVersion":"v2"}', kind="helm-chart")
        self.artifact("content/wasm", ["latest"], "application/vnd.wasm.config.v0+json",
                      "application/vnd.wasm.content.layer.v1+wasm",
                      config_bytes=b'{"architecture":"wasm","os":"wasip1"}', kind="wasm")

        # docker buildx: provenance attestations next to the images
        children = []
        for arch in ("amd64", "arm64"):
            children.append(self.image("content/buildx", None, arch=arch,
                                       labels=flatpak_labels("org.content.Multi", arch)))
        attestations = []
        for child in list(children):
            config = canonical({"architecture": "unknown", "os": "unknown", "config": {},
                                "rootfs": {"type": "layers", "diff_ids": []}, "for": child["digest"]})
            attestation = self.artifact("content/buildx", [], OCI_CONFIG, "application/vnd.in-toto+json",
                                        config_bytes=config, counted=False)
            attestation["platform"] = {"architecture": "unknown", "os": "unknown"}
            attestation["annotations"] = {"vnd.docker.reference.digest": child["digest"],
                                          "vnd.docker.reference.type": "attestation-manifest"}
            attestations.append(attestation)
            self.skip("attestation")
        buildx = self.index("content/buildx", ["latest"], children + attestations)
        self.expect_list("content/buildx", ["latest"], buildx, [c["entry"] for c in children])

        # An index of indexes: the inner one is a list where tagged
        inner_child = self.image("content/nested", None, arch="amd64", labels={"inner": "yes"})
        inner = self.index("content/nested", ["inner"], [dict(inner_child, platform={"architecture": "amd64",
                                                                                     "os": "linux"})])
        self.expect_list("content/nested", ["inner"], inner, [inner_child["entry"]])
        other_inner = self.index("content/nested", [], [inner_child], annotations={"other": "inner"})
        self.index("content/nested", ["latest"], [inner, other_inner])
        self.skip("list-without-images")

        # Windows, arm/v7 and a zstd layer
        windows = self.image("content/platforms", None, os_="windows", arch="amd64",
                             config={"architecture": "amd64", "os": "windows", "os.version": "10.0.20348.2113",
                                     "config": {"Labels": {"kind": "windows"}}}, labels={"kind": "windows"},
                             fmt="docker")
        windows["platform"]["os.version"] = "10.0.20348.2113"
        armv7 = self.image("content/platforms", None, arch="arm", variant="v7", labels={"kind": "armv7"},
                           fmt="docker")
        zstd = self.image("content/platforms", None, arch="amd64", labels={"kind": "zstd"},
                          layer_type=OCI_LAYER_ZSTD, fmt="docker")
        platforms = self.index("content/platforms", ["latest"], [windows, armv7, zstd], fmt="docker")
        self.expect_list("content/platforms", ["latest"], platforms,
                         [windows["entry"], armv7["entry"], zstd["entry"]])
        self.image("content/platforms", ["windows"], os_="windows", arch="amd64",
                   config={"architecture": "amd64", "os": "windows", "config": {"Labels": {"kind": "windows"}}},
                   labels={"kind": "windows"})
        self.image("content/platforms", ["zstd"], arch="arm64", labels={"kind": "zstd"}, layer_type=OCI_LAYER_ZSTD)

        # Configs that are odd but usable, and some that are not
        self.image("content/configs", ["noarch"], os_="", arch="", config={"config": {"Labels": {"a": "b"}}},
                   labels={"a": "b"})
        self.image("content/configs", ["nullconfig"], config={"architecture": "amd64", "os": "linux",
                                                              "config": None})
        self.image("content/configs", ["sha512"], labels={"digest": "sha512"}, config_algorithm=sha512)
        self.image("content/configs", ["latest"], labels={"org.flatpak.ref": "app/org.content.Configs/x86_64/stable"})
        for tag, config_bytes, reason in (
                ("labels-number", canonical({"architecture": "amd64", "os": "linux",
                                             "config": {"Labels": {"version": 3}}}), "malformed"),
                ("labels-list", canonical({"architecture": "amd64", "os": "linux",
                                           "config": {"Labels": ["a", "b"]}}), "malformed"),
                ("not-json", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR binary artifact config", "not-json")):
            self.image("content/configs", [tag], config_bytes=config_bytes, expect=False)
            self.skip(reason)
        self.image("content/configs", ["size-lie"], labels={"lie": "yes"}, config_size_delta=7, expect=False)
        self.skip("size-mismatch")

        # Every kind of escape, in labels (config) and annotations (manifest)
        text = ('{"architecture":"amd64","os":"linux","config":{"Labels":{%s}}}'
                % ",".join('"l%d":%s' % (i, raw) for i, (raw, _) in enumerate(ESCAPES))).encode()
        labels = {"l%d" % i: decoded for i, (_, decoded) in enumerate(ESCAPES)}
        annotations_text = ",".join('"a%d":%s' % (i, raw) for i, (raw, _) in enumerate(ESCAPES))
        layer_digest = self.blob("content/escapes", self.layer)
        config_digest = self.blob("content/escapes", text)
        manifest = ('{"schemaVersion":2,"mediaType":"%s","config":{"mediaType":"%s","digest":"%s","size":%d},'
                    '"layers":[{"mediaType":"%s","digest":"%s","size":%d}],"annotations":{%s}}'
                    % (OCI_MANIFEST, OCI_CONFIG, config_digest, len(text), OCI_LAYER, layer_digest,
                       len(self.layer), annotations_text)).encode()
        descriptor = self.manifest("content/escapes", ["latest"], OCI_MANIFEST, manifest)
        self.expect_image("content/escapes", {
            "Tags": ["latest"], "Digest": descriptor["digest"], "MediaType": OCI_MANIFEST, "OS": "linux",
            "Architecture": "amd64", "Labels": labels,
            "Annotations": {"a%d" % i: decoded for i, (_, decoded) in enumerate(ESCAPES)}})

        # A list whose entry looks like an image and is a Helm chart inside
        image = self.image("content/mixed", None, arch="amd64", labels={"mixed": "image"})
        chart = self.artifact("content/mixed", [], "application/vnd.cncf.helm.config.v1+json",
                              "application/vnd.cncf.helm.chart.content.v1.tar+gzip",
                              config_bytes=b'{"name":"inside","version":"1.0.0"}', kind="helm-chart")
        chart["platform"] = {"architecture": "amd64", "os": "linux"}
        mixed = self.index("content/mixed", ["latest"], [image, chart])
        self.expect_list("content/mixed", ["latest"], mixed, [image["entry"]])

        # A list with a child that was deleted afterwards
        kept = self.image("content/deleted", None, arch="amd64", labels={"child": "kept"})
        gone = self.image("content/deleted", None, arch="arm64", labels={"child": "gone"})
        deleted = self.index("content/deleted", ["latest"], [kept, gone])
        self.client.delete_manifest("content/deleted", gone["digest"])
        self.expect_list("content/deleted", ["latest"], deleted, [kept["entry"]])
        self.skip("gone")

        # Docker schema 1, as docker 1.x pushed it (two tags, one info line)
        layer_digest = self.blob("content/schema1", self.layer)
        for tag in ("latest", "old"):
            body = sign_schema1({
                "schemaVersion": 1, "name": "content/schema1", "tag": tag, "architecture": "amd64",
                "fsLayers": [{"blobSum": layer_digest}],
                "history": [{"v1Compatibility": json.dumps({"id": "%064x" % 1, "architecture": "amd64",
                                                            "os": "linux", "config": {"Labels": {"old": tag}}})}],
            }, self.workdir)
            self.client.put_manifest_any("content/schema1", tag, SCHEMA1_SIGNED, body)
        self.skip("schema1", 2)

        for repository in self.expected.values():
            for key in ("Images", "Lists"):
                repository[key].sort(key=lambda e: (e["Tags"], e["Digest"]))
        return {"expected": self.expected, "skipped": self.skipped, "never_fetched": self.never_fetched}


def attach_cosign(url, repository, tag, **client_options):
    """Signs and attests REPOSITORY:TAG the way cosign's tag scheme stores
    it (sha256-HEX.sig and .att next to the image); returns the two tags."""
    client = Client(url, **client_options)
    try:
        response, _ = client.request("HEAD", "/v2/%s/manifests/%s" % (repository, tag),
                                     headers={"Accept": ", ".join((OCI_MANIFEST, OCI_INDEX, DOCKER_MANIFEST,
                                                                   DOCKER_LIST))})
        hexdigest = response.getheader("Docker-Content-Digest").split(":", 1)[1]
        pusher = ContentPusher(client, None)
        tags = []
        for suffix, layer_type, kind in ((".sig", "application/vnd.dev.cosign.simplesigning.v1+json", "signature"),
                                         (".att", "application/vnd.dsse.envelope.v1+json", "attestation")):
            tags.append("sha256-%s%s" % (hexdigest, suffix))
            pusher.artifact(repository, tags[-1:], OCI_CONFIG, layer_type, kind=kind,
                            config_bytes=canonical({"architecture": "", "os": "", "config": {},
                                                    "rootfs": {"type": "layers", "diff_ids": []},
                                                    "history": [{"comment": suffix}]}))
        return tags
    finally:
        client.close()


def push_content(url, workdir, **client_options):
    """Pushes everything of ContentPusher into the registry at @url (one
    that has schema 1 compatibility switched on) and returns what an index
    of every tag must hold."""
    client = Client(url, **client_options)
    try:
        return ContentPusher(client, workdir).push_all()
    finally:
        client.close()


REGISTRY_CONFIG = """version: 0.1
log:
  level: %(log_level)s
  accesslog:
    disabled: %(no_access_log)s
storage:
  filesystem:
    rootdirectory: %(root)s
  delete:
    enabled: true
  maintenance:
    uploadpurging:
      enabled: false
http:
  addr: 127.0.0.1:%(port)d
%(tls)s%(extra)s"""


_PORT_LOCKS = []  # (fd) held until this process ends, however it ends


def _port_range():
    """Ports below the kernel's ephemeral range, so that no bind(0) and no
    outgoing connection is ever handed one of them."""
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            low = int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        low = 32768
    return 10000, max(11000, low)


def free_port():
    """A loopback port reserved for this process: a lock file per port
    (flock, so released even on SIGKILL) keeps parallel tests from ever
    being handed the same one, and this process never hands it out twice.
    Binding it checks that nothing else listens there."""
    import fcntl
    import random
    import tempfile

    lock_dir = os.path.join(tempfile.gettempdir(), "regindexer-test-ports")
    os.makedirs(lock_dir, exist_ok=True)
    low, high = _port_range()
    start = random.randrange(low, high)
    for i in range(high - low):
        port = low + (start - low + i) % (high - low)
        fd = os.open(os.path.join(lock_dir, str(port)), os.O_CREAT | os.O_RDWR, 0o666)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            continue
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                os.close(fd)
                continue
        _PORT_LOCKS.append(fd)
        return port
    raise RuntimeError("no free loopback port between %d and %d" % (low, high))


class Registry:
    """A docker-registry process on loopback with its storage in a directory."""

    def __init__(self, directory, extra_config="", access_log=False, log_path=None, tls=None):
        """TLS is (certificate file, key file[, client CA file]), for an https
        registry; with a client CA, clients must present a certificate it signed."""
        self.directory = directory
        self.tls = tls
        self.probe_client_cert = None
        self.extra_config = extra_config
        self.access_log = access_log
        self.log_path = log_path or os.path.join(directory, "registry.log")
        self.process = None
        self.port = None

    @property
    def url(self):
        return "%s://127.0.0.1:%d" % ("https" if self.tls else "http", self.port)

    def start(self, port=None, timeout=20):
        os.makedirs(os.path.join(self.directory, "storage"), exist_ok=True)
        for attempt in range(5):
            self.port = port or free_port()
            config_path = os.path.join(self.directory, "config.yml")
            with open(config_path, "w") as f:
                f.write(REGISTRY_CONFIG % {
                    "root": os.path.join(self.directory, "storage"),
                    "port": self.port,
                    "tls": ("  tls:\n    certificate: %s\n    key: %s\n" % self.tls[:2] +
                            ("    clientcas:\n      - %s\n" % self.tls[2] if len(self.tls) > 2 else "")
                            if self.tls else ""),
                    "extra": self.extra_config,
                    "log_level": "info" if self.access_log else "error",
                    "no_access_log": "false" if self.access_log else "true",
                })
            log = open(self.log_path, "ab")
            self.process = subprocess.Popen(["/usr/bin/docker-registry", "serve", config_path],
                                            stdout=log, stderr=subprocess.STDOUT,
                                            stdin=subprocess.DEVNULL, start_new_session=True)
            log.close()
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                if self.process.poll() is not None:
                    break
                try:
                    if self.tls:
                        context = ssl._create_unverified_context()
                        if self.probe_client_cert:
                            context.load_cert_chain(*self.probe_client_cert)
                        conn = http.client.HTTPSConnection("127.0.0.1", self.port, timeout=2, context=context)
                    else:
                        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
                    conn.request("GET", "/v2/")
                    status = conn.getresponse().status
                    conn.close()
                    if status in (200, 401):
                        return self
                except OSError:
                    pass
                time.sleep(0.05)
            self.stop()
            if port is not None:
                break
        raise RuntimeError("docker-registry did not start; see %s" % self.log_path)

    def stop(self):
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        self.process = None


def push_oci_layout(url, layout, repository, tag, **client_options):
    """Pushes the image of an OCI image layout directory (what `flatpak
    build-bundle --oci` writes) as REPOSITORY:TAG, byte for byte; returns
    the manifest digest."""
    def blob(descriptor):
        algorithm, hexdigest = descriptor["digest"].split(":", 1)
        with open(os.path.join(layout, "blobs", algorithm, hexdigest), "rb") as f:
            return f.read()

    with open(os.path.join(layout, "index.json")) as f:
        (descriptor,) = json.load(f)["manifests"]
    manifest_bytes = blob(descriptor)
    manifest = json.loads(manifest_bytes)
    client = Client(url, **client_options)
    try:
        for layer in [manifest["config"]] + manifest["layers"]:
            client.put_blob(repository, blob(layer))
        return client.put_manifest(repository, tag, descriptor["mediaType"], manifest_bytes)
    finally:
        client.close()


def main(argv):
    if len(argv) < 2 or argv[1] in ("-h", "--help"):
        print(__doc__)
        return 0 if len(argv) >= 2 else 2
    command = argv[1]
    schema1 = command == "registry" and len(argv) > 2 and argv[2] == "--schema1"
    if schema1:
        argv = argv[:2] + argv[3:]
    if command == "registry" and len(argv) in (3, 4, 5):
        notify = ("notifications:\n  endpoints:\n    - name: regindexer\n      url: %s\n      timeout: 5s\n"
                  "      threshold: 10\n      backoff: 1s\n" % argv[4]) if len(argv) == 5 else ""
        registry = Registry(argv[2], extra_config=notify + (SCHEMA1_CONFIG if schema1 else ""))
        registry.start(int(argv[3]) if len(argv) >= 4 else None)
        print(registry.url, flush=True)
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        signal.signal(signal.SIGINT, lambda *_: stop.set())
        while not stop.is_set() and registry.process.poll() is None:
            stop.wait(0.5)
        registry.stop()
        return 0
    if command == "push" and len(argv) == 4:
        with open(argv[3]) as f:
            spec = json.load(f)
        json.dump(push(argv[2], spec), sys.stdout, indent=2)
        print()
        return 0
    if command == "sample" and len(argv) == 3:
        json.dump(push(argv[2], sample_spec()), sys.stdout, indent=2)
        print()
        return 0
    if command == "attach" and len(argv) == 5:
        print("\n".join(attach_cosign(argv[2], argv[3], argv[4])))
        return 0
    if command == "content" and len(argv) == 3:
        import tempfile
        with tempfile.TemporaryDirectory() as workdir:
            json.dump(push_content(argv[2], workdir), sys.stdout, indent=2, sort_keys=True)
        print()
        return 0
    if command == "push-oci" and len(argv) == 6:
        print(push_oci_layout(argv[2], argv[3], argv[4], argv[5]))
        return 0
    if command == "bulk" and len(argv) == 5:
        spec = push(argv[2], bulk_spec(int(argv[3]), int(argv[4])), workers=16)
        print("pushed %d entries" % len(spec["images"]))
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
