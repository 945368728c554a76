"""Fixtures for provider tests: fake provider servers (HTTPS with a trustme CA, and plain HTTP),
providers built against them, and a ``verify`` runner that runs each test sync and async."""

from __future__ import annotations

import asyncio
import ssl
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any, Callable, Iterator, Optional

import httpx  # noqa: F401 - imported up front so no timed test pays for the first import
import pytest
import trustme

from flask_captcha_ext.providers import BaseProvider, build_provider
from flask_captcha_ext.result import VerificationResult
from flask_captcha_ext.settings import DEFAULTS, Settings, load_settings
from flask_captcha_ext.stores import open_store

from .fakes import SECRET, SITE_KEY, VARIANTS, Blackhole, FakeServer, FakeState

#: Timeouts for ordinary tests (generous) and for fault tests (short, so they run fast).
EASY_TIMEOUT = (3.0, 3.0)
FAULT_TIMEOUT = (0.3, 0.4)


def pytest_collection_modifyitems(items: Any) -> None:
    for item in items:
        if "tests/providers" in str(item.fspath).replace("\\", "/"):
            item.add_marker(pytest.mark.timeout(30))


@dataclass(frozen=True)
class TLS:
    server_context: ssl.SSLContext
    ca_path: str


@pytest.fixture(scope="session")
def tls(tmp_path_factory: Any) -> TLS:
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "localhost")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    cert.configure_cert(context)
    path = tmp_path_factory.mktemp("ca") / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return TLS(context, str(path))


@dataclass
class Fake:
    """The running fakes and what tests need of them."""

    state: FakeState
    https: FakeServer
    http: FakeServer
    ca_path: str

    def url(self, variant: str, scheme: str = "https") -> str:
        port = self.https.port if scheme == "https" else self.http.port
        return f"{scheme}://127.0.0.1:{port}{VARIANTS[variant][1]}"

    def issue(self, variant: str, **outcome: Any) -> str:
        return self.state.issue(variant, **outcome)


@pytest.fixture(scope="session")
def _servers(tls: TLS) -> Iterator[Fake]:
    state = FakeState()
    https, http = FakeServer(state, tls.server_context), FakeServer(state)
    yield Fake(state, https, http, tls.ca_path)
    https.stop()
    http.stop()


@pytest.fixture
def fake(_servers: Fake) -> Fake:
    _servers.state.reset()
    return _servers


@pytest.fixture(scope="session")
def blackhole() -> Iterator[Blackhole]:
    hole = Blackhole()
    yield hole
    hole.close()


def make_settings(provider: str, **config: Any) -> Settings:
    """Validated Settings for ``provider`` with the fakes' keys; keyword args are CAPTCHA_* keys."""
    values = dict(DEFAULTS)
    values.update(
        CAPTCHA_PROVIDER=provider,
        CAPTCHA_SITE_KEY=SITE_KEY,
        CAPTCHA_SECRET_KEY=SECRET,
        CAPTCHA_STORE_URL="memory://",
        CAPTCHA_TIMEOUT=EASY_TIMEOUT,
    )
    values.update({f"CAPTCHA_{key.upper()}": value for key, value in config.items()})
    return load_settings(values)


@pytest.fixture
def make(fake: Fake) -> Callable[..., BaseProvider]:
    """Build the provider for a fake variant: ``make("hcaptcha", fail_open=True, url=...)``."""

    def factory(
        variant: str,
        *,
        scheme: str = "https",
        url: Optional[str] = None,
        ca: bool = True,
        store: bool = True,
        **config: Any,
    ) -> BaseProvider:
        name = VARIANTS[variant][0]
        config.setdefault("verify_url", url or fake.url(variant, scheme))
        settings = make_settings(name, **config)
        service = SimpleNamespace(store=open_store("memory://")) if store else None
        provider = build_provider(
            settings, service, testing=True, ca_bundle=fake.ca_path if ca else None
        )
        assert isinstance(provider, BaseProvider)
        return provider

    return factory


Runner = Callable[..., VerificationResult]


@pytest.fixture(params=["sync", "async"])
def verify(request: Any) -> Runner:
    """``verify(provider, token, **kw)`` through ``verify`` or ``verify_async``."""

    def run(provider: BaseProvider, token: Any, **kwargs: Any) -> VerificationResult:
        if request.param == "sync":
            return provider.verify(token, **kwargs)

        async def go() -> VerificationResult:
            assert provider.aio is not None
            try:
                return await provider.verify_async(token, **kwargs)
            finally:
                await provider.aio.aclose()

        return asyncio.run(go())

    return run
