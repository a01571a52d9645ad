"""Citizen login (OpenID Connect code flow with PKCE) against a real local provider.

Each test drives the whole flow over HTTP the way a browser would: the authorization URL, the
provider's "log in as" form (parsed and posted), the redirect back with code and state, then
``OidcClient.finish``. The provider is bent in one way per test, and the relying party must
refuse with ``library.bad_token`` (the login is not acceptable) or ``library.unavailable`` (the
provider cannot be used).
"""

from __future__ import annotations

import logging
from html.parser import HTMLParser
from urllib.parse import parse_qs, urlencode, urljoin, urlsplit

import httpx
import pytest
from oidc_issuer import LocalIssuer

from photocore.library.errors import LibraryError
from photocore.library.oidc import OidcClient, s256

pytestmark = pytest.mark.slow  # an OpenID issuer under uvicorn per test

REDIRECT = "https://library.example.gov.cn/me/login/callback"
ID_NUMBER = "330106199001011234"


class FormParser(HTMLParser):
    """The first form of a page: its action and its inputs' names and values."""

    def __init__(self):
        super().__init__()
        self.action, self.fields, self.in_form = None, {}, False

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "form" and self.action is None:
            self.action, self.in_form = attrs.get("action", ""), True
        elif tag == "input" and self.in_form and attrs.get("name"):
            self.fields[attrs["name"]] = attrs.get("value") or ""

    def handle_endtag(self, tag):
        if tag == "form":
            self.in_form = False


def log_in(authorization_url: str, id_number: str | None = None, **query) -> tuple[str, dict]:
    """Be the citizen's browser: open the login page, submit the form, follow nothing further.
    Returns the form's prefilled ID number and the callback's query parameters."""
    with httpx.Client(timeout=5) as browser:
        if query:  # httpx's params= would replace the URL's own query, so append by hand
            authorization_url += "&" + urlencode(query)
        page = browser.get(authorization_url)
        assert page.status_code == 200, page.text
        form = FormParser()
        form.feed(page.text)
        prefilled = form.fields.get("id_number", "")
        fields = dict(form.fields)
        if id_number is not None:
            fields["id_number"] = id_number
        answer = browser.post(urljoin(str(page.url), form.action), data=fields)
    assert answer.status_code == 303, answer.text
    location = answer.headers["location"]
    assert location.startswith(REDIRECT + "?")
    return prefilled, {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


@pytest.fixture
def issuer():
    provider = LocalIssuer().start()
    yield provider
    provider.stop()


def client_for(provider: LocalIssuer, monkeypatch, **options) -> OidcClient:
    secret = None
    if provider.client_secret is not None:
        monkeypatch.setenv("TEST_OIDC_SECRET", provider.client_secret)
        secret = "env:TEST_OIDC_SECRET"
    config = {"issuer": provider.url, "client_id": provider.client_id, "client_secret": secret,
              "id_claim": "id_number", **options}
    return OidcClient(config, timeout=5)


@pytest.fixture
def client(issuer, monkeypatch):
    with client_for(issuer, monkeypatch) as rp:
        yield rp


def login(client: OidcClient, id_number: str = ID_NUMBER, nonce: str | None = None) -> dict:
    url, state, sent_nonce, verifier = client.start(REDIRECT)
    _, callback = log_in(url, id_number)
    assert callback["state"] == state
    return client.finish(callback["code"], REDIRECT, sent_nonce if nonce is None else nonce, verifier)


def refused(code: str, call, *args) -> LibraryError:
    with pytest.raises(LibraryError) as caught:
        call(*args)
    assert caught.value.code == code, caught.value
    return caught.value


# -- the flow that works ---------------------------------------------------------------------


def test_code_flow_with_pkce_state_and_nonce(issuer, client, caplog):
    caplog.set_level(logging.DEBUG)
    url, state, nonce, verifier = client.start(REDIRECT)
    params = {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}
    assert url.startswith(issuer.url + "/authorize?")
    assert params == {"response_type": "code", "client_id": issuer.client_id, "redirect_uri": REDIRECT,
                      "scope": "openid", "state": state, "nonce": nonce, "code_challenge": s256(verifier),
                      "code_challenge_method": "S256"}
    assert len({state, nonce, verifier}) == 3 and 43 <= len(verifier) <= 128
    assert client.start(REDIRECT)[1:] != (state, nonce, verifier)  # fresh every time

    issuer.next_login = "33010619900101999X"
    prefilled, callback = log_in(url, ID_NUMBER)
    assert prefilled == "33010619900101999X"
    assert callback["state"] == state
    claims = client.finish(callback["code"], REDIRECT, nonce, verifier)
    assert claims["iss"] == issuer.url and claims["aud"] == issuer.client_id and claims["nonce"] == nonce
    assert client.person_id(claims) == ID_NUMBER
    assert client.confidential
    # the secret is in no log line and not in the object's repr
    assert issuer.client_secret not in caplog.text and issuer.client_secret not in repr(client)


def test_login_hint_prefills_the_form(issuer, client):
    url, *_ = client.start(REDIRECT)
    prefilled, _ = log_in(url, login_hint="110101198001010011")
    assert prefilled == "110101198001010011"


def test_public_client_with_pkce_only(monkeypatch):
    with LocalIssuer(confidential=False) as provider, client_for(provider, monkeypatch) as rp:
        assert provider.client_secret is None and not rp.confidential
        assert rp.person_id(login(rp)) == ID_NUMBER


def test_es256_key_is_accepted(issuer, client):
    issuer.rotate("ES256")
    assert client.person_id(login(client)) == ID_NUMBER


def test_several_audiences_need_azp(issuer, client):
    issuer.misbehave = "multiple_audiences"
    refused("library.bad_token", login, client)
    issuer.extra_claims = {"azp": issuer.client_id}
    assert login(client)["azp"] == issuer.client_id


def test_discovery_and_jwks_are_cached(issuer, client):
    login(client)
    login(client)
    assert issuer.requests["/.well-known/openid-configuration"] == 1
    assert issuer.requests["/jwks"] == 1


def test_cache_expires(issuer, monkeypatch):
    with client_for(issuer, monkeypatch) as rp:
        rp.cache_ttl = 0
        login(rp)
        login(rp)
    assert issuer.requests["/jwks"] == 2


# -- key rotation ----------------------------------------------------------------------------


def test_unknown_kid_after_rotation_refetches_jwks_once(issuer, client):
    login(client)
    assert issuer.requests["/jwks"] == 1
    issuer.rotate()
    assert client.person_id(login(client)) == ID_NUMBER
    assert issuer.requests["/jwks"] == 2
    login(client)  # the new key is now cached
    assert issuer.requests["/jwks"] == 2


def test_kid_missing_even_after_refetch_is_refused(issuer, client):
    login(client)
    issuer.misbehave = "unknown_kid"
    error = refused("library.bad_token", login, client)
    assert "kid" in error.message
    assert issuer.requests["/jwks"] == 2  # exactly one refetch


# -- each rejection --------------------------------------------------------------------------


@pytest.mark.parametrize("mode, reason", [
    ("wrong_issuer", "issued by"), ("wrong_audience", "(aud)"), ("expired", "expired"), ("future_iat", "(iat)"),
    ("bad_signature", "signature does not verify"), ("no_nonce", "nonce"), ("no_id_claim", "'id_number'"),
    ("alg_none", "'none'"), ("hs256", "'HS256'"),
])
def test_bad_id_tokens_are_refused(issuer, client, mode, reason):
    issuer.misbehave = mode
    error = refused("library.bad_token", login, client)
    assert reason in error.message  # refused for this reason, not another


def test_foreign_azp_is_refused(issuer, client):
    issuer.extra_claims = {"azp": "someone-else"}
    refused("library.bad_token", login, client)


def test_wrong_nonce_is_refused(issuer, client):
    error = refused("library.bad_token", login, client, ID_NUMBER, "a-nonce-from-another-login")
    assert "nonce" in error.message


def test_code_cannot_be_replayed(issuer, client):
    url, state, nonce, verifier = client.start(REDIRECT)
    _, callback = log_in(url, ID_NUMBER)
    client.finish(callback["code"], REDIRECT, nonce, verifier)
    refused("library.bad_token", client.finish, callback["code"], REDIRECT, nonce, verifier)


def test_wrong_pkce_verifier_is_refused(issuer, client):
    url, state, nonce, verifier = client.start(REDIRECT)
    _, callback = log_in(url, ID_NUMBER)
    refused("library.bad_token", client.finish, callback["code"], REDIRECT, nonce, verifier + "x")


def test_discovery_naming_another_issuer_is_refused(issuer, client):
    issuer.misbehave = "wrong_discovery_issuer"
    error = refused("library.unavailable", client.start, REDIRECT)
    assert "issuer" in error.message


def test_wrong_client_secret_is_not_shown(issuer, monkeypatch):
    monkeypatch.setenv("WRONG_SECRET", "not-the-secret-zzz")
    rp = OidcClient({"issuer": issuer.url, "client_id": issuer.client_id, "client_secret": "env:WRONG_SECRET"})
    url, state, nonce, verifier = rp.start(REDIRECT)
    _, callback = log_in(url, ID_NUMBER)
    error = refused("library.unavailable", rp.finish, callback["code"], REDIRECT, nonce, verifier)
    assert "invalid_client" in error.message and "not-the-secret-zzz" not in str(error)


# -- the provider cannot be used -------------------------------------------------------------


def test_issuer_down_before_discovery(issuer, client):
    issuer.stop()
    refused("library.unavailable", client.start, REDIRECT)


def test_issuer_down_at_the_token_endpoint(issuer, client):
    url, state, nonce, verifier = client.start(REDIRECT)
    _, callback = log_in(url, ID_NUMBER)
    issuer.stop()
    refused("library.unavailable", client.finish, callback["code"], REDIRECT, nonce, verifier)


def test_token_endpoint_error_is_unavailable(issuer, client):
    issuer.misbehave = "token_error"
    refused("library.unavailable", login, client)


# -- configuration ---------------------------------------------------------------------------


@pytest.mark.parametrize("options", [
    {"issuer": "http://idp.example.gov.cn", "client_id": "x"},  # clear HTTP beyond this machine
    {"issuer": "https://idp.example.gov.cn", "client_id": ""},
    {"issuer": "https://idp.example.gov.cn", "client_id": "x", "client_secret": "plain-text-secret"},
    {"issuer": "https://idp.example.gov.cn", "client_id": "x", "client_secret": "env:PHOTOCORE_TEST_UNSET_VAR"},
])
def test_bad_configuration(options, monkeypatch):
    monkeypatch.delenv("PHOTOCORE_TEST_UNSET_VAR", raising=False)
    error = refused("library.config", OidcClient, options)
    assert "plain-text-secret" not in str(error)
