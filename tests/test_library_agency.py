"""The agencies' side of the shared photo library, against the real service.

Real parts only, on 127.0.0.1: `photocore serve` under uvicorn as a child process (started once
for the module), a signed conversion published with `photocore publish`, agency keys made with
pyca/cryptography, assertions signed with joserfc, and a real HTTP receiver for the webhook,
checked with the `standardwebhooks` package. The citizen's approval is a direct call of
``Library.decide`` on the same data folder (the pages that normally make it are tested elsewhere).
"""

from __future__ import annotations

import base64
import hashlib
import json
import time
import uuid
from pathlib import Path

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from joserfc import jwt
from joserfc.jwk import OKPKey
from library_service import assert_problem, receiver_fixture, sample_station, start_library  # noqa: F401 (fixture)
from sqlalchemy import update
from standardwebhooks import Webhook

from photocore.library import agency_auth
from photocore.library.agency_auth import ASSERTION_TYPE, TOKEN_PATH, AgencyApiError, AgencyClient, client_assertion
from photocore.library.api_agency import notify_decision
from photocore.library.config import LibraryConfig
from photocore.library.db import grants
from photocore.library.errors import LibraryError
from photocore.library.service import Library
from photocore.sign.verify import load_trust, verify

from conftest import wait_for

pytestmark = pytest.mark.slow  # the library service and a station's signed conversions, module fixtures

ID_A = "330902198503120027"
ID_B = "33090219900101003X"
HOOK_ENV = "PHOTOCORE_TEST_AGENCY_HOOK"
HOOK_SECRET = "whsec_" + base64.b64encode(b"agency-webhook-secret-0123456789").decode()


def _pem_private(key) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def _pem_public(key) -> bytes:
    return key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


@pytest.fixture(scope="module")
def agencies(tmp_path_factory, receiver):
    """Five registered systems: police with an ES256 PEM key, police with an EdDSA JWKS (kid),
    police with an RSA key, police with a webhook, and hrss; plus a key nobody registered."""
    folder = tmp_path_factory.mktemp("agencies")
    keys = {"police-app": ec.generate_private_key(ec.SECP256R1()), "police-jwks": ed25519.Ed25519PrivateKey.generate(),
            "police-hook": ec.generate_private_key(ec.SECP256R1()), "hrss-app": ec.generate_private_key(ec.SECP256R1()),
            "police-rsa": rsa.generate_private_key(65537, 2048), "stranger": ec.generate_private_key(ec.SECP256R1())}
    for name in ("police-app", "police-rsa", "police-hook", "hrss-app"):
        (folder / f"{name}.pub.pem").write_bytes(_pem_public(keys[name]))
    jwk = OKPKey.import_key(_pem_public(keys["police-jwks"])).as_dict(private=False)
    (folder / "police-jwks.json").write_text(json.dumps({"keys": [{**jwk, "kid": "2026-1", "use": "sig"}]}))
    (folder / "clients.toml").write_text(f"""
[[client]]
id = "police-app"
agency = "police"
public_key = "police-app.pub.pem"

[[client]]
id = "police-jwks"
agency = "police"
jwks = "police-jwks.json"

[[client]]
id = "police-rsa"
agency = "police"
public_key = "police-rsa.pub.pem"

[[client]]
id = "police-hook"
agency = "police"
public_key = "police-hook.pub.pem"
webhook_url = "{receiver.url}/photocore"
webhook_secret = "env:{HOOK_ENV}"

[[client]]
id = "hrss-app"
agency = "hrss"
public_key = "hrss-app.pub.pem"
""")
    return {"clients": folder / "clients.toml", "keys": {n: _pem_private(k) for n, k in keys.items()}}


@pytest.fixture(scope="module")
def service(tmp_path_factory, agencies):
    station = sample_station(tmp_path_factory)
    station.conversion("a"), station.conversion("b")
    svc = start_library(tmp_path_factory.mktemp("agency-service"), trust=station.root, clients=agencies["clients"],
                        env={HOOK_ENV: HOOK_SECRET})
    svc.station = station
    svc.published = {"a": station.publish("a", ID_A, svc.url), "b": station.publish("b", ID_B, svc.url)}
    yield svc
    svc.stop()


@pytest.fixture(scope="module")
def library(service, agencies):
    """The same library in this process (same data folder, so the same secret): the citizen's
    side of the tests, and a second process on the shared database."""
    with pytest.MonkeyPatch.context() as mp:  # restored, whatever was there before, when the module ends
        mp.setenv(HOOK_ENV, HOOK_SECRET)
        yield Library(LibraryConfig(data_dir=service.data_dir, trust=[service.station.root],
                                    clients=agencies["clients"]))


def client(service, agencies, name="police-app", alg="ES256") -> AgencyClient:
    return AgencyClient(service.url, name, agencies["keys"][name], alg=alg)


def token_call(service, assertion: str, **extra) -> httpx.Response:
    form = {"grant_type": "client_credentials", "client_assertion_type": ASSERTION_TYPE,
            "client_assertion": assertion, **extra}
    return httpx.post(service.url + TOKEN_PATH, data=form)


def assertion(service, agencies, name="police-app", alg="ES256", **options) -> str:
    return client_assertion(name, agencies["keys"][name if name in agencies["keys"] else "police-app"],
                            options.pop("audience", service.url + TOKEN_PATH), alg, **options)


def _b64(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


# -- the token endpoint ---------------------------------------------------------------------------

def test_good_assertions_get_access_tokens(service, agencies):
    for name, alg in (("police-app", "ES256"), ("police-jwks", "EdDSA"), ("police-jwks", "Ed25519"),
                      ("police-rsa", "RS256"), ("police-rsa", "PS256")):
        answer = token_call(service, assertion(service, agencies, name, alg, kid="2026-1" if "jwks" in name else None))
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert body["token_type"] == "Bearer" and body["expires_in"] == 300 and body["scope"] == "photos:pull"
        assert answer.headers["cache-control"] == "no-store"
        claims = jwt.decode(body["access_token"], agency_auth._token_key(_library_keys(service))).claims
        assert (claims["sub"], claims["agency"], claims["exp"] - claims["iat"]) == (name, "police", 300)
    # the issuer's URL is also an accepted audience (OpenID Connect Core 9)
    assert token_call(service, assertion(service, agencies, audience=service.url)).status_code == 200


def _library_keys(service):
    """What ``_token_key`` needs: the service's keys, from the secret in its data folder."""
    from types import SimpleNamespace

    from photocore.library.crypto import ServiceKeys
    return SimpleNamespace(keys=ServiceKeys.derive(LibraryConfig(data_dir=service.data_dir).service_secret()))


def test_replayed_assertion_is_refused_in_any_process(service, agencies, library):
    once = assertion(service, agencies)
    assert token_call(service, once).status_code == 200
    body = assert_problem(token_call(service, once), 401, "library.replayed")
    assert body["error"] == "invalid_client"
    # another process on the same database (this one) refuses it too: the jti is in the database
    clients = agency_auth.clients_for(library)
    form = {"grant_type": "client_credentials", "client_assertion_type": ASSERTION_TYPE, "client_assertion": once}
    with pytest.raises(LibraryError) as caught:
        agency_auth.issue_token(library, clients, form, service.url)
    assert caught.value.code == "library.replayed"


@pytest.mark.parametrize("case", ["expired", "wrong_audience", "other_key", "too_long", "unknown_client",
                                  "alg_none", "hs256", "no_jti", "iss_not_sub", "future_iat", "nan_exp"])
def test_bad_assertions_are_refused(service, agencies, case):
    now = int(time.time())
    if case == "expired":
        token = assertion(service, agencies, claims={"iat": now - 400, "exp": now - 120})
    elif case == "wrong_audience":
        token = assertion(service, agencies, audience="https://elsewhere.example/v1/oauth/token")
    elif case == "other_key":
        token = client_assertion("police-app", agencies["keys"]["stranger"], service.url + TOKEN_PATH)
    elif case == "too_long":
        token = assertion(service, agencies, lifetime=301)
    elif case == "unknown_client":
        token = client_assertion("nobody", agencies["keys"]["stranger"], service.url + TOKEN_PATH)
    elif case == "alg_none":
        token = _b64({"alg": "none", "typ": "JWT"}) + "." + _b64(
            {"iss": "police-app", "sub": "police-app", "aud": service.url + TOKEN_PATH, "iat": now, "exp": now + 60,
             "jti": uuid.uuid4().hex}) + "."
    elif case == "hs256":  # a symmetric "signature" keyed with something public must never pass
        token = jwt.encode({"alg": "HS256"}, {"iss": "police-app", "sub": "police-app", "aud": service.url + TOKEN_PATH,
                                              "iat": now, "exp": now + 60, "jti": uuid.uuid4().hex},
                           agency_auth.OctKey.import_key(b"police-app-public-key-bytes-000"))
    elif case == "nan_exp":
        token = assertion(service, agencies, claims={"exp": float("nan")})
    elif case == "no_jti":
        token = assertion(service, agencies, claims={"jti": None})
    elif case == "iss_not_sub":
        token = assertion(service, agencies, claims={"sub": "police-jwks"})
    else:
        token = assertion(service, agencies, claims={"iat": now + 600, "exp": now + 660})
    body = assert_problem(token_call(service, token), 401, "library.invalid_client")
    assert body["error"] == "invalid_client"


def test_token_endpoint_request_errors(service, agencies):
    good = assertion(service, agencies)
    body = assert_problem(token_call(service, good, grant_type="password"), 400, "library.malformed")
    assert body["error"] == "unsupported_grant_type"
    body = assert_problem(token_call(service, good, scope="photos:delete"), 400, "library.malformed")
    assert body["error"] == "invalid_scope"
    assert_problem(token_call(service, good, client_assertion_type="urn:other"), 401, "library.invalid_client")
    assert_problem(httpx.post(service.url + TOKEN_PATH, data={"grant_type": "client_credentials"}), 401,
                   "library.invalid_client")
    assert_problem(token_call(service, good, client_id="police-jwks"), 401, "library.invalid_client")
    assert_problem(token_call(service, "not.a.jwt"), 401, "library.invalid_client")
    # RFC 6749 3.2: unrecognised parameters are ignored; the good assertion was never spent above
    assert token_call(service, good, resource="x").status_code == 200


# -- bearer tokens -----------------------------------------------------------------------------------

def test_api_needs_a_valid_bearer_token(service, agencies):
    url = service.url + "/v1/requests/" + str(uuid.uuid4())
    missing = httpx.get(url)
    assert_problem(missing, 401, "library.unauthorized")
    assert missing.headers["www-authenticate"] == 'Bearer realm="photocore"'
    keys = _library_keys(service)
    now = int(time.time())
    claims = {"iss": service.url, "sub": "police-app", "client_id": "police-app", "agency": "police",
              "scope": "photos:pull", "iat": now - 400, "exp": now - 100, "jti": uuid.uuid4().hex}
    expired = jwt.encode({"alg": "HS256", "typ": "at+jwt"}, claims, agency_auth._token_key(keys))
    forged = jwt.encode({"alg": "HS256", "typ": "at+jwt"}, {**claims, "exp": now + 100},
                        agency_auth.OctKey.import_key(b"k" * 32))
    for bad in ("Bearer nonsense", f"Bearer {expired}", f"Bearer {forged}", "Basic dXNlcjpwYXNz"):
        answer = httpx.get(url, headers={"Authorization": bad})
        assert_problem(answer, 401, "library.unauthorized")
        assert answer.headers["www-authenticate"].startswith("Bearer")
    for path in ("/photo", "/signature"):
        assert_problem(httpx.get(url + path), 401, "library.unauthorized")


# -- requests and pulls ----------------------------------------------------------------------------------

def test_requests_are_checked(service, agencies):
    with client(service, agencies) as api:
        with pytest.raises(AgencyApiError) as other:
            api.create_request(ID_A, "hrss.social-security-card", "APP-1", "social security card")
        assert (other.value.status, other.value.code) == (403, "library.forbidden")
        unknown = httpx.post(service.url + "/v1/requests", headers={"Authorization": f"Bearer {api.token()}"},
                             json={"id_number": ID_A, "credential": "police.passport", "application_ref": "APP-1",
                                   "purpose": "passport", "colour": "red"})
        assert_problem(unknown, 400, "library.unknown_field")
        with pytest.raises(AgencyApiError) as no_secret:  # no webhook secret registered for this client
            api.create_request(ID_A, "police.passport", "APP-1", "passport", callback_url="https://a.example/x")
        assert no_secret.value.code == "library.malformed"
    with client(service, agencies, "police-hook") as hook:
        with pytest.raises(AgencyApiError) as elsewhere:
            hook.create_request(ID_A, "police.passport", "APP-1", "passport", callback_url="http://10.0.0.1/x")
        assert (elsewhere.value.status, elsewhere.value.code) == (403, "library.forbidden")


def test_full_flow_request_approve_pull(service, agencies, library):
    with client(service, agencies) as api:
        created = api.create_request(ID_A, "police.resident-id-card", "ZS-2026-0001", "ID card renewal")
        request_id = created["request_id"]
        assert created["status"] == "pending"
        assert created["approve_url"] == f"{service.url}/me/requests/{request_id}"
        assert created["counter_url"] == f"{service.url}/counter/{request_id}?t={library.counter_token(request_id)}"
        assert api.status(request_id)["status"] == "pending"
        with pytest.raises(AgencyApiError) as early:
            api.photo(request_id)
        assert early.value.status == 404
        library.decide(library.keys.person_key(ID_A), request_id, True)
        assert api.status(request_id)["status"] == "approved"
        photo = api.photo(request_id)
        bearer = {"Authorization": f"Bearer {api.token()}"}
    published = service.station.conversion("a") / "police.resident-id-card.jpg"
    assert hashlib.sha256(photo.data).hexdigest() == hashlib.sha256(published.read_bytes()).hexdigest()
    assert photo.media_type == "image/jpeg" and photo.filename == "police.resident-id-card.jpg"
    result = verify(photo.data, photo.signature, load_trust(service.station.root))
    assert result.valid, result.message
    assert result.manifest["photo_id"] == photo.photo_id
    with client(service, agencies, "police-jwks", "EdDSA") as same_agency:
        assert same_agency.signature(request_id) == photo.signature  # another system of the same agency
    raw = httpx.get(f"{service.url}/v1/requests/{request_id}/photo", headers=bearer)
    assert raw.headers["cache-control"] == "no-store"
    assert raw.headers["content-disposition"] == 'attachment; filename="police.resident-id-card.jpg"'
    again = httpx.post(service.url + "/v1/requests", headers=bearer, json={
        "id_number": ID_A, "credential": "police.passport", "application_ref": "ZS-2026-0002", "purpose": "passport"})
    assert again.status_code == 201 and again.headers["location"] == f"/v1/requests/{again.json()['request_id']}"
    history = library.overview(library.keys.person_key(ID_A))["history"]
    assert sum(1 for h in history if h["action"] == "pull") >= 3


def test_everything_hidden_gets_the_same_404(service, agencies, library):
    police, hrss = client(service, agencies), client(service, agencies, "hrss-app")
    person_a, person_b = library.keys.person_key(ID_A), library.keys.person_key(ID_B)

    def answer(api, request_id, path="/photo") -> tuple[int, bytes]:
        r = httpx.get(f"{service.url}/v1/requests/{request_id}{path}",
                      headers={"Authorization": f"Bearer {api.token()}"})
        return r.status_code, r.content

    baseline = answer(police, str(uuid.uuid4()))
    assert baseline[0] == 404 and json.loads(baseline[1])["code"] == "library.not_found"
    assert answer(police, str(uuid.uuid4()), "") == baseline

    def approved(id_number, person) -> str:
        request_id = police.create_request(id_number, "police.passport", "ZS-2", "passport")["request_id"]
        library.decide(person, request_id, True)
        assert answer(police, request_id)[0] == 200
        return request_id

    # another agency asking for the police's request
    shared = approved(ID_A, person_a)
    assert answer(hrss, shared) == baseline
    assert answer(hrss, shared, "") == baseline
    assert answer(hrss, shared, "/signature") == baseline
    # a revoked grant
    revoked = approved(ID_A, person_a)
    grant = next(g for g in library.overview(person_a)["grants"] if g["request_id"] == revoked)
    library.revoke_grant(person_a, grant["grant_id"])
    assert answer(police, revoked) == baseline
    # an expired grant
    expired = approved(ID_A, person_a)
    with library.engine.begin() as conn:
        conn.execute(update(grants).where(grants.c.request_id == expired).values(expires_at=time.time() - 1))
    assert answer(police, expired) == baseline
    # a refused request
    no = police.create_request(ID_A, "police.passport", "ZS-3", "passport")["request_id"]
    library.decide(person_a, no, False)
    assert answer(police, no) == baseline
    # a deleted, then purged, capture (person B's)
    gone = approved(ID_B, person_b)
    library.delete_capture(person_b, service.published["b"]["capture_id"])
    assert answer(police, gone) == baseline
    library.purge()
    assert answer(police, gone) == baseline
    assert answer(police, shared)[0] == 200  # the others' photos are untouched
    police.close(), hrss.close()


def test_decision_webhook_reaches_the_agency(service, agencies, library, receiver):
    with client(service, agencies, "police-hook") as api:
        created = api.create_request(ID_A, "police.passport", "ZS-9", "passport",
                                     callback_url=receiver.url + "/callbacks/zs-9")
        decision = library.decide(library.keys.person_key(ID_A), created["request_id"], True)
        notify_decision(library, decision, wait=True)
        assert len(receiver.received) == 1
        headers, body, path = receiver.received[-1]
        assert path == "/callbacks/zs-9"
        payload = Webhook(HOOK_SECRET).verify(body, headers)  # raises on a bad signature
        assert payload == {"type": "request.decided", "request_id": created["request_id"], "status": "approved"}
        assert ID_A not in body.decode() and headers["webhook-id"] == f"msg_{created['request_id']}"
        # without a callback_url: the client's registered webhook_url; in the background by default
        other = api.create_request(ID_A, "police.passport", "ZS-10", "passport")
        notify_decision(library, library.decide(library.keys.person_key(ID_A), other["request_id"], False))
        wait_for(lambda: len(receiver.received) >= 2, 10, "the background webhook call")
        headers, body, path = receiver.received[-1]
        assert path == "/photocore" and Webhook(HOOK_SECRET).verify(body, headers)["status"] == "refused"
    # a client without a webhook is simply not called; an unreachable one is logged and dropped
    notify_decision(library, {"request_id": "x", "status": "approved", "agency": "police", "client_id": "police-app",
                              "callback_url": None}, wait=True)
    notify_decision(library, {"request_id": "y", "status": "approved", "agency": "police", "client_id": "police-hook",
                              "callback_url": "http://127.0.0.1:9/none"}, wait=True)
    assert len(receiver.received) == 2


def test_openapi_describes_the_agency_api(service):
    spec = httpx.get(service.url + "/openapi.json").json()
    for path in ("/v1/oauth/token", "/v1/requests", "/v1/requests/{request_id}", "/v1/requests/{request_id}/photo",
                 "/v1/requests/{request_id}/signature"):
        operations = spec["paths"][path]
        assert all("agencies" in op["tags"] and op["summary"] for op in operations.values()), path
    assert "agencyToken" in spec["components"]["securitySchemes"]


# -- the clients file ----------------------------------------------------------------------------------

def test_clients_file_errors_name_file_client_and_key(tmp_path, agencies):
    from photocore.catalogue import load_catalogue
    pem = Path(agencies["clients"]).parent / "police-app.pub.pem"
    agencies_ids = load_catalogue().agencies
    cases = {
        'id = "a"\nagency = "nowhere"\npublic_key = "k.pem"': "agency",
        'id = "a"\nagency = "police"': "exactly one of jwks or public_key",
        'id = "a"\nagency = "police"\npublic_key = "k.pem"\njwks = "k.json"': "exactly one",
        'id = "a"\nagency = "police"\npublic_key = "missing.pem"': "public_key: cannot read",
        'id = "a"\nagency = "police"\njwks = "private.json"': "private key",
        'id = "a"\nagency = "police"\npublic_key = "k.pem"\nwebhook_url = "https://x.example"': "webhook_secret",
        'id = "a"\nagency = "police"\npublic_key = "k.pem"\ncolour = "red"': "colour",
    }
    (tmp_path / "k.pem").write_bytes(pem.read_bytes())
    private = OKPKey.generate_key("Ed25519").as_dict(private=True)
    (tmp_path / "private.json").write_text(json.dumps({"keys": [private]}))
    for body, expected in cases.items():
        path = tmp_path / "clients.toml"
        path.write_text("[[client]]\n" + body + "\n")
        with pytest.raises(LibraryError) as caught:
            agency_auth.load_clients(path, agencies_ids)
        assert caught.value.code == "library.config"
        message = caught.value.message
        assert str(path) in message and "client[0] a" in message and expected in message, message
    assert len(agency_auth.load_clients(None, agencies_ids)) == 0


def test_without_clients_no_agency_can_authenticate(tmp_path, service, agencies):
    bare = start_library(tmp_path, trust=service.station.root)
    try:
        token = client_assertion("police-app", agencies["keys"]["police-app"], bare.url + TOKEN_PATH)
        form = {"grant_type": "client_credentials", "client_assertion_type": ASSERTION_TYPE, "client_assertion": token}
        assert_problem(httpx.post(bare.url + TOKEN_PATH, data=form), 401, "library.invalid_client")
    finally:
        bare.stop()
