"""The citizen's pages ("我的照片") and the agency counter's QR page, in a real browser.

Real parts only, on 127.0.0.1: `photocore serve` under uvicorn as a child process (started once
for the module by ``library_service``), signed conversions published with `photocore publish
--json`, agency systems calling the agency API with ``AgencyClient`` (private_key_jwt) and a
webhook receiver for the decisions the pages report, Debian's Chromium driven by Playwright
through its executable path (never a downloaded browser), the counter's QR code read back with
zxing-cpp from a screenshot, and the local OpenID issuer of ``tests/oidc_issuer.py``.

Screenshots go to each test's tmp folder and, for people to look at, to /tmp/photocore-shots/.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import re
import shutil
import uuid
import zipfile
from pathlib import Path

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from library_service import SAMPLE, STATION_ID, RunningLibrary, cli, receiver_fixture, sample_station, start_library  # noqa: F401 (fixture)
from oidc_issuer import LocalIssuer
from servers import wait_until

from photocore.catalogue import load_catalogue
from photocore.library.agency_auth import AgencyApiError, AgencyClient
from photocore.library.config import LibraryConfig
from photocore.library.page_text import TEXT, text
from photocore.library.service import Library

pytestmark = pytest.mark.slow  # the library service, an OpenID issuer and a headless browser

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
SHOTS = Path("/tmp/photocore-shots")
OIDC_SECRET_ENV = "PHOTOCORE_TEST_OIDC_SECRET"
HOOK_ENV = "PHOTOCORE_TEST_PAGES_HOOK"
HOOK_SECRET = "whsec_" + base64.b64encode(b"pages-webhook-secret-0123456789ab").decode()
# A's capture is 400 days old: its ID card photo may still be reused (3 years), the others not (1 year)
OLD_CREDENTIALS = ("police.resident-id-card", "police.passport", "police.hk-macao-permit")
ID_A = "330902198503120027"  # walks the whole citizen flow and deletes their capture at the end
ID_B = "33090219900101003X"  # the counter QR flow, OpenID login and English pages
POLICE_NAME = "市公安局（含治安户政、出入境、交通管理）"
MOBILE = {"viewport": {"width": 390, "height": 844}, "device_scale_factor": 2, "is_mobile": True, "has_touch": True}

needs_chromium = pytest.mark.skipif(not CHROMIUM.exists(),
                                    reason="Debian's chromium is not installed at /usr/bin/chromium "
                                           "(.ci/run installs it with apt)")


def zh(key: str, **fields) -> str:
    return text(key, "zh", **fields)


def en(key: str, **fields) -> str:
    return text(key, "en", **fields)


# -- the service, its station and its agencies --------------------------------------------------

@pytest.fixture(scope="module")
def agencies(tmp_path_factory, receiver):
    """Two agency systems: the police counter (with a webhook) and the social security counter."""
    folder = tmp_path_factory.mktemp("page-agencies")
    keys = {name: ec.generate_private_key(ec.SECP256R1()) for name in ("zs-police-counter", "zs-hrss-counter")}
    for name, key in keys.items():
        (folder / f"{name}.pub.pem").write_bytes(key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    (folder / "clients.toml").write_text(f"""
[[client]]
id = "zs-police-counter"
agency = "police"
public_key = "zs-police-counter.pub.pem"
webhook_url = "{receiver.url}/photocore"
webhook_secret = "env:{HOOK_ENV}"

[[client]]
id = "zs-hrss-counter"
agency = "hrss"
public_key = "zs-hrss-counter.pub.pem"
""")
    pems = {name: key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption()) for name, key in keys.items()}
    return {"clients": folder / "clients.toml", "keys": pems}


@pytest.fixture(scope="module")
def station(tmp_path_factory):
    """The session's station, plus one conversion of ours taken 400 days ago (for A)."""
    shared = sample_station(tmp_path_factory)
    old = tmp_path_factory.mktemp("old-capture") / "conversion"
    when = dt.datetime.now(dt.UTC).replace(microsecond=0) - dt.timedelta(days=400)
    picks = [a for c in OLD_CREDENTIALS for a in ("--credential", c)]
    # The exit-entry photos must be taken within 6 months to be made at all; these two were made
    # back then, so the conversion is replayed with that limit lifted (the library still judges
    # their reuse window, 1 year, by today's catalogue).
    then = tmp_path_factory.mktemp("catalogue-then")
    (then / "credentials").mkdir()
    (then / "credentials" / "police.toml").write_text("".join(f"""
[[credential]]
id = "{p.id}"
name_zh = "{p.name_zh}"
name_en = "{p.name_en}"
inherits = "exit-entry"
max_age_days = 1000
[[credential.derived]]
keys = ["max_age_days"]
note = "test: the photo was made while it was recent"
""" for p in map(load_catalogue().get, OLD_CREDENTIALS[1:])), encoding="utf-8")
    made = cli("convert", SAMPLE, *picks, "--out", old, "--sign", "--keys", shared.keys, "--station", STATION_ID,
               "--captured-at", when.isoformat(), "--catalogue", then)
    assert made.returncode == 0, made.stdout + made.stderr
    shared.conversion("b")
    return {"shared": shared, "old": old}


@pytest.fixture(scope="module")
def issuer():
    """The province's single sign-on, played by the local OpenID issuer."""
    local = LocalIssuer().start()
    yield local
    local.stop()


@pytest.fixture(scope="module")
def service(tmp_path_factory, station, agencies, issuer):
    env = {HOOK_ENV: HOOK_SECRET, OIDC_SECRET_ENV: issuer.client_secret}
    extra = ["--oidc-issuer", issuer.url, "--oidc-client-id", issuer.client_id,
             "--oidc-client-secret", f"env:{OIDC_SECRET_ENV}"]
    svc = start_library(tmp_path_factory.mktemp("pages-service"), trust=station["shared"].root,
                        clients=agencies["clients"], extra_args=extra, env=env)
    yield svc
    svc.stop()


@pytest.fixture(scope="module")
def codes(service, station):
    """The pickup codes `photocore publish --json` printed for A and B."""
    shared = station["shared"]
    made = cli("publish", station["old"], "--person", ID_A, "--to", service.url, "--keys", shared.keys, "--json")
    assert made.returncode == 0, made.stdout + made.stderr
    return {"a": json.loads(made.stdout)["pickup_code"], "b": shared.publish("b", ID_B, service.url)["pickup_code"]}


@pytest.fixture(scope="module")
def police(service, agencies):
    with AgencyClient(service.url, "zs-police-counter", agencies["keys"]["zs-police-counter"]) as api:
        yield api


@pytest.fixture(scope="module")
def hrss(service, agencies):
    with AgencyClient(service.url, "zs-hrss-counter", agencies["keys"]["zs-hrss-counter"]) as api:
        yield api


@pytest.fixture(scope="module")
def library(service, codes):
    """The same library in this process (same data folder, so the same secret), for the keys."""
    return Library(LibraryConfig(data_dir=service.data_dir))


# -- the browser -----------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.exists():
        pytest.skip("Debian's chromium is not installed at /usr/bin/chromium (.ci/run installs it with apt)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def shots(tmp_path):
    """``shot(page, name)``: a full-page screenshot in the test's tmp folder, copied for people."""
    SHOTS.mkdir(parents=True, exist_ok=True)

    def shot(page, name: str, full_page: bool = True) -> Path:
        path = tmp_path / f"{name}.png"
        page.screenshot(path=str(path), full_page=full_page)
        shutil.copy(path, SHOTS / path.name)
        return path

    return shot


def citizen(browser, **options):
    return browser.new_context(**MOBILE, locale="zh-CN", **options)


def log_in(page, base: str, code: str, last6: str) -> None:
    if "/me/login" not in page.url:
        page.goto(base + "/me/login")
    page.fill("#code", code)
    page.fill("#last6", last6)
    page.click("#login-submit")
    page.wait_for_load_state()


def origin_headers(service: RunningLibrary) -> dict:
    return {"Origin": service.url}


def csrf_of(page) -> str:
    return page.locator("input[name=csrf]").first.get_attribute("value")


# -- tests -------------------------------------------------------------------------------------------

def test_every_text_has_both_languages():
    for key, (zh_text, en_text) in TEXT.items():
        assert zh_text.strip() and en_text.strip(), key
        assert set(re.findall(r"{(\w+)}", zh_text)) == set(re.findall(r"{(\w+)}", en_text)), key


@needs_chromium
def test_wrong_code_shows_the_error(browser, service, codes, shots):
    context = citizen(browser)
    page = context.new_page()
    page.goto(service.url + "/me/login")
    assert page.title() == zh("login_title")
    log_in(page, service.url, "ZZZZZ-ZZZZZ", "123456")
    error = page.locator("#login-error")
    assert error.inner_text() == zh("err_unauthorized")
    assert "/me/login" in page.url
    shots(page, "login-wrong-code")
    context.close()


@needs_chromium
def test_citizen_flow(browser, service, codes, police, receiver, shots, tmp_path):
    from playwright.sync_api import expect

    context = citizen(browser)
    page = context.new_page()
    page.goto(service.url + "/me")
    assert "/me/login" in page.url  # no session: the login first
    shots(page, "login")
    log_in(page, service.url, codes["a"].lower(), ID_A[-6:])  # codes are read case-insensitively
    assert page.url.endswith("/me")

    # the capture, its place, and each credential's window (the passport's one year is over)
    capture = page.locator("article.capture")
    expect(capture).to_have_count(1)
    expect(capture).to_contain_text(STATION_ID)
    expect(capture.locator(".count")).to_have_text(zh("usable_count", valid=1, total=3))
    card = capture.locator("li.photo[data-credential='police.resident-id-card']")
    expect(card).to_have_class(re.compile(r"\bvalid\b"))
    expect(card).to_contain_text("居民身份证")
    expired = capture.locator("li.photo[data-credential='police.passport']")
    expect(expired).to_have_class(re.compile(r"\bexpired\b"))
    expect(expired.locator(".badge")).to_have_text(zh("expired"))
    assert page.eval_on_selector("img.thumb", "img => img.complete && img.naturalWidth") > 300
    shots(page, "me-overview")

    # a download: the photo and its signature, never cached
    with page.expect_download() as info:
        card.locator("a.download").click()
    saved = tmp_path / "download.zip"
    info.value.save_as(saved)
    with zipfile.ZipFile(saved) as archive:
        names = sorted(archive.namelist())
        assert names == ["police.resident-id-card.jpg", "police.resident-id-card.jpg.jws"]
        assert archive.read(names[0])[:2] == b"\xff\xd8"
        assert archive.read(names[1]).count(b".") >= 2  # a compact JWS (and its disclosures)
    zipped = page.request.get(service.url + card.locator("a.download").get_attribute("href"))
    assert zipped.headers["cache-control"] == "no-store" and zipped.headers["content-type"] == "application/zip"
    thumb = page.request.get(service.url + page.get_attribute("img.thumb", "src"))
    assert thumb.status == 200 and thumb.headers["cache-control"] == "no-store"
    assert thumb.headers["content-type"] == "image/jpeg"
    assert "default-src 'self'" in thumb.headers["content-security-policy"]

    # the police system asks; the citizen sees who, for what and why, and approves
    asked = police.create_request(ID_A, "police.resident-id-card", "ZS-2026-0815", "补领居民身份证")
    assert asked["approve_url"] == f"{service.url}/me/requests/{asked['request_id']}"
    page.reload()
    request_card = page.locator(f"article.request[data-request='{asked['request_id']}']")
    expect(request_card).to_contain_text("市公安局")
    expect(request_card).to_contain_text("居民身份证")
    expect(request_card).to_contain_text("ZS-2026-0815")
    expect(request_card).to_contain_text("补领居民身份证")
    shots(page, "me-pending-request")
    request_card.locator("button[value=approve]").click()
    expect(page.locator("#notice")).to_contain_text("已同意")
    expect(page.locator("article.request")).to_have_count(0)
    grant = page.locator("li.grant.active")
    expect(grant).to_have_count(1)
    assert police.status(asked["request_id"])["status"] == "approved"
    wait_until(lambda: receiver.received, timeout=10, what="the decision webhook")
    headers, body, _ = receiver.received[-1]
    assert json.loads(body) == {"type": "request.decided", "request_id": asked["request_id"], "status": "approved"}
    assert headers["webhook-signature"].startswith("v1,")

    # the police system pulls; the pull shows in the history with its application reference
    pulled = police.photo(asked["request_id"])
    assert pulled.data[:2] == b"\xff\xd8" and pulled.signature
    page.reload()
    history = page.locator("#agency-history")
    pull_row = history.locator("li.event.pull")
    expect(pull_row).to_have_count(1)
    expect(pull_row).to_contain_text(zh("act_pull", agency=POLICE_NAME, credential="居民身份证"))
    expect(pull_row).to_contain_text("ZS-2026-0815")
    shots(page, "me-after-pull")

    # revoke: the agency can no longer pull
    grant.locator("button").click()
    expect(page.locator("#notice")).to_have_text(zh("done_revoked"))
    expect(page.locator("li.grant.revoked")).to_have_count(1)
    with pytest.raises(AgencyApiError) as refused:
        police.photo(asked["request_id"])
    assert (refused.value.status, refused.value.code) == (404, "library.not_found")

    # delete, with a confirmation step; the capture and its photos are gone
    thumb_url = service.url + page.get_attribute("img.thumb", "src")
    page.click("a.delete-link")
    expect(page.locator("h1")).to_have_text(zh("delete_title"))
    shots(page, "delete-confirm")
    page.click("#confirm-delete")
    expect(page.locator("#notice")).to_have_text(zh("done_deleted"))
    expect(page.locator("#no-captures")).to_be_visible()
    expect(page.locator("article.capture")).to_have_count(0)
    expect(page.locator("#agency-history li.event.pull")).to_have_count(1)  # the history stays
    shots(page, "me-after-delete")
    gone = page.request.get(thumb_url)
    assert gone.status == 404
    context.close()


@needs_chromium
def test_csrf_and_origin_checks(browser, service, codes):
    context = citizen(browser)
    page = context.new_page()
    log_in(page, service.url, codes["b"], ID_B[-6:])
    token = csrf_of(page)
    any_request = f"{service.url}/me/requests/{uuid.uuid4()}/decide"

    for url, form, headers in (
            (service.url + "/me/logout", {}, origin_headers(service)),  # no token
            (service.url + "/me/logout", {"csrf": "0" * 64}, origin_headers(service)),  # a wrong token
            (service.url + "/me/logout", {"csrf": token}, {"Origin": "http://evil.example"}),  # another site
            (service.url + "/me/logout", {"csrf": token}, {}),  # no Origin and no Referer
            (any_request, {"decision": "approve"}, origin_headers(service))):
        refused = page.request.post(url, form=form, headers=headers, max_redirects=0)
        assert refused.status == 403, (url, form, headers)
        assert "library.csrf" in refused.text() and zh("csrf_title") in refused.text()

    # the token of another session is refused too
    other = citizen(browser)
    other_page = other.new_page()
    log_in(other_page, service.url, codes["b"], ID_B[-6:])
    stolen = csrf_of(other_page)
    refused = page.request.post(service.url + "/me/logout", form={"csrf": stolen + "0"},
                                headers=origin_headers(service), max_redirects=0)
    assert refused.status == 403
    other.close()

    # with the token and from this origin, it works
    page.click("#logout")
    expect_url = service.url + "/me/login?done=logged_out"
    assert page.url == expect_url
    assert page.locator(".notice").inner_text() == zh("done_logged_out")
    page.goto(service.url + "/me")
    assert "/me/login" in page.url
    context.close()


def test_sessions_end_and_cannot_be_forged(service, codes, library):
    """The session is a signed JWT holding the person key only: an expired, re-signed or
    other-purpose token opens nothing, and the login page says the session ended."""
    from photocore.library.pages import SESSION_COOKIE, Sessions

    person = library.keys.person_key(ID_B)
    ours, theirs = Sessions(library.keys.session), Sessions(b"\x07" * 32)
    for token in (ours.issue("session", {"sub": person}, -5), theirs.issue("session", {"sub": person}, 600),
                  ours.issue("oidc", {"sub": person}, 600), "not-a-token"):
        with httpx.Client(base_url=service.url, cookies={SESSION_COOKIE: token}) as client:
            answer = client.get("/me")
            assert answer.status_code == 303 and answer.headers["location"] == "/me/login?next=/me"
            login = client.get(answer.headers["location"])
            assert zh("err_session") in login.text
    with httpx.Client(base_url=service.url, cookies={SESSION_COOKIE: ours.issue("session", {"sub": person}, 60)}) \
            as client:
        answer = client.get("/me")
        assert answer.status_code == 200 and STATION_ID in answer.text
        assert answer.headers["cache-control"] == "no-store"
        assert answer.headers["x-frame-options"] == "DENY"
        assert "script-src 'self'" in answer.headers["content-security-policy"]


@needs_chromium
def test_unknown_and_foreign_ids_get_the_same_page(browser, service, codes, police):
    foreign = police.create_request(ID_A, "police.passport", "ZS-X", "x")  # A's, not B's
    context = citizen(browser)
    page = context.new_page()
    log_in(page, service.url, codes["b"], ID_B[-6:])
    bodies = set()
    for path in (f"/me/requests/{foreign['request_id']}", f"/me/requests/{uuid.uuid4()}",
                 f"/me/photos/{uuid.uuid4()}/thumb", f"/me/captures/{uuid.uuid4()}/delete"):
        answer = page.request.get(service.url + path)
        assert answer.status == 404, path
        bodies.add(answer.text())
    assert len(bodies) == 1 and zh("nf_title") in bodies.pop()
    context.close()


@needs_chromium
def test_counter_qr_flow(browser, service, codes, police, shots):
    import zxingcpp
    from PIL import Image
    from playwright.sync_api import expect

    asked = police.create_request(ID_B, "police.passport", "ZS-2026-0901", "首次申领普通护照")
    request_id = asked["request_id"]
    assert asked["counter_url"].startswith(f"{service.url}/counter/{request_id}?t=")
    token = asked["counter_url"].split("?t=", 1)[1]

    clerk = browser.new_context(viewport={"width": 1024, "height": 900}, locale="zh-CN")
    counter = clerk.new_page()
    assert counter.goto(f"{service.url}/counter/{request_id}?t={'0' * 32}").status == 404
    counter.goto(asked["counter_url"])
    expect(counter.locator("#counter-credential")).to_have_text("普通护照")
    expect(counter.locator("#counter-status")).to_have_text(zh("counter_waiting"))
    body = counter.content()
    for personal in ("ZS-2026-0901", "首次申领", ID_B, ID_B[-6:]):
        assert personal not in body  # nothing about the person on the clerk's screen
    screenshot = shots(counter, "counter-pending", full_page=False)

    found = zxingcpp.read_barcodes(Image.open(screenshot))
    assert len(found) == 1 and found[0].format == zxingcpp.BarcodeFormat.QRCode
    target = found[0].text
    assert target == asked["approve_url"]

    # the citizen scans it with their phone: log in, see the request and the photo, approve
    phone = citizen(browser).new_page()
    phone.goto(target)
    assert "/me/login" in phone.url and "next=" in phone.url
    log_in(phone, service.url, codes["b"], ID_B[-6:])
    assert phone.url == target
    expect(phone.locator("#request-status")).to_have_text(zh("status_pending"))
    expect(phone.locator("section.request")).to_contain_text("ZS-2026-0901")
    assert phone.eval_on_selector("figure.share img", "img => img.complete && img.naturalWidth") > 300
    shots(phone, "phone-request")
    phone.click("#approve")
    expect(phone.locator("#request-status")).to_have_text(zh("status_approved"))
    expect(phone.locator("#notice")).to_contain_text("已同意")
    shots(phone, "phone-approved")

    # the counter page sees it by itself (its script polls the status)
    expect(counter.locator("#counter-status")).to_have_text(zh("counter_approved"), timeout=15000)
    expect(counter.locator("#counter")).to_have_attribute("data-state", "approved")
    shots(counter, "counter-approved", full_page=False)
    assert police.status(request_id)["status"] == "approved"
    status = httpx.get(f"{service.url}/counter/{request_id}/status", params={"t": token})
    assert status.json() == {"status": "approved", "label": zh("counter_approved"), "final": True}
    assert httpx.get(f"{service.url}/counter/{request_id}/status", params={"t": "x"}).status_code == 404

    # deciding twice is refused, with the page saying so
    again = phone.request.post(f"{service.url}/me/requests/{request_id}/decide",
                               form={"csrf": csrf_of(phone), "decision": "refuse", "back": "request"},
                               headers=origin_headers(service), max_redirects=0)
    assert again.status == 409 and zh("err_conflict") in again.text()
    phone.context.close()
    clerk.close()


@needs_chromium
def test_openid_login(browser, service, codes, issuer, shots):
    from playwright.sync_api import expect

    context = citizen(browser)
    page = context.new_page()
    page.goto(service.url + "/me/login")
    page.click("#oidc-login")
    assert page.url.startswith(issuer.url + "/authorize")
    page.fill("input[name=id_number]", ID_B)
    page.click("button[type=submit]")
    page.wait_for_url(service.url + "/me")
    expect(page.locator("article.capture")).to_have_count(1)
    expect(page.locator("article.capture")).to_contain_text(STATION_ID)
    shots(page, "me-openid")
    cookies = {c["name"]: c for c in context.cookies()}
    session = cookies["photocore_session"]
    assert session["httpOnly"] and session["sameSite"] == "Lax"
    assert "photocore_oidc" not in cookies  # the login in flight is forgotten

    # a callback with a forged state is refused
    page.goto(service.url + "/me/oidc/callback?code=abc&state=forged")
    expect(page.locator("#login-error")).to_have_text(zh("err_oidc"))
    context.close()


@needs_chromium
def test_english_is_remembered(browser, service, codes, hrss, shots):
    from playwright.sync_api import expect

    asked = hrss.create_request(ID_B, "hrss.social-security-card", "HRSS-77", "Replacement social security card")
    context = citizen(browser)
    page = context.new_page()
    page.goto(service.url + "/me/login")
    page.click("a.lang")
    assert page.url.endswith("lang=en")
    expect(page.locator("h1")).to_have_text(en("login_title"))
    assert page.get_attribute("html", "lang") == "en"
    shots(page, "login-en")
    log_in(page, service.url, "ZZZZZ-ZZZZZ", "123456")
    expect(page.locator("#login-error")).to_have_text(en("err_unauthorized"))
    log_in(page, service.url, codes["b"], ID_B[-6:])
    expect(page.locator("#captures h2")).to_have_text(en("captures_title"))
    expect(page.locator("li.photo[data-credential='police.passport'] .name")).to_have_text("Ordinary passport")
    card = page.locator(f"article.request[data-request='{asked['request_id']}']")
    expect(card.locator("h3")).to_have_text(en("request_line", agency="Human Resources and Social Security Bureau",
                                                credential="Social security card"))
    shots(page, "me-en")
    card.locator("button[value=refuse]").click()
    expect(page.locator("#notice")).to_have_text(en("done_refused"))
    expect(page.locator("article.request")).to_have_count(0)
    assert hrss.status(asked["request_id"])["status"] == "refused"
    page.click("a.lang")
    expect(page.locator("#captures h2")).to_have_text(zh("captures_title"))
    page.goto(service.url + "/me")
    expect(page.locator("#captures h2")).to_have_text(zh("captures_title"))
    context.close()
