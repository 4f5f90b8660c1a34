"""A stand-in identity provider: RSA and EC keys made by the test, tokens signed with them, and
a real HTTP server on a free loopback port serving their JWKS (counting its requests)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

ISSUER = "https://idp.test/realms/tradai"
AUDIENCE = "tradai-api"


@dataclass(frozen=True)
class SigningKey:
    """A private key of the provider, its kid, and the algorithm its tokens use."""

    kid: str
    algorithm: str  # RS256 or ES256
    private: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey

    @staticmethod
    def rsa(kid: str) -> SigningKey:
        return SigningKey(kid, "RS256", rsa.generate_private_key(65537, 2048))

    @staticmethod
    def ec(kid: str) -> SigningKey:
        return SigningKey(kid, "ES256", ec.generate_private_key(ec.SECP256R1()))

    def jwk(self) -> dict[str, Any]:
        """The public key as the provider publishes it."""
        public = self.private.public_key()
        if isinstance(public, rsa.RSAPublicKey):
            data = RSAAlgorithm.to_jwk(public, as_dict=True)
        else:
            data = ECAlgorithm.to_jwk(public, as_dict=True)
        return data | {"kid": self.kid, "use": "sig", "alg": self.algorithm}

    def public_pem(self) -> bytes:
        return self.private.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )

    def token(
        self,
        ttl: float = 300,
        kid: str | None = None,
        extra: Mapping[str, Any] | None = None,
        **claims: Any,
    ) -> str:
        """A token signed with this key: issuer, audience, sub and roles unless overridden
        (a claim given as None is left out); `extra` holds claims whose names are no Python
        names (`cognito:groups`)."""
        now = int(time.time())
        body: dict[str, Any] = (
            {
                "iss": ISSUER,
                "aud": AUDIENCE,
                "sub": "carol",
                "roles": ["researcher"],
                "iat": now,
                "exp": now + int(ttl),
            }
            | dict(extra or {})
            | claims
        )
        body = {k: v for k, v in body.items() if v is not None}
        headers = {"kid": self.kid if kid is None else kid}
        return jwt.encode(body, self.private, algorithm=self.algorithm, headers=headers)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unsigned_token(kid: str, **claims: Any) -> str:
    """`alg: none`, no signature."""
    header = {"alg": "none", "typ": "JWT", "kid": kid}
    body = {"iss": ISSUER, "aud": AUDIENCE, "sub": "mallory", "roles": ["admin"]} | claims
    body.setdefault("exp", int(time.time()) + 300)
    return f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(body).encode())}."


def hmac_token(secret: bytes, kid: str, **claims: Any) -> str:
    """An HS256 token with `secret` as the HMAC key, built by hand: PyJWT refuses to sign with
    a public key, which is what an algorithm-confusion attack does."""
    header = {"alg": "HS256", "typ": "JWT", "kid": kid}
    body = {"iss": ISSUER, "aud": AUDIENCE, "sub": "mallory", "roles": ["admin"]} | claims
    body.setdefault("exp", int(time.time()) + 300)
    signing_input = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(body).encode())}"
    signature = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{_b64(signature)}"


@dataclass
class JwksServer:
    """What the server publishes (`keys`), how it answers (`status`), what it was asked."""

    url: str = ""
    keys: list[dict[str, Any]] = field(default_factory=list)
    status: int = 200
    requests: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def publish(self, *keys: SigningKey) -> None:
        self.keys = [key.jwk() for key in keys]


@contextmanager
def jwks_server() -> Iterator[JwksServer]:
    """A threaded HTTP server on 127.0.0.1 answering GET /jwks.json with the published keys."""
    state = JwksServer()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:  # quiet
            pass

        def do_GET(self) -> None:
            with state.lock:
                state.requests += 1
                status, keys = state.status, list(state.keys)
            body = json.dumps({"keys": keys} if status == 200 else {"error": "down"}).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    state.url = f"http://127.0.0.1:{server.server_address[1]}/jwks.json"
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
