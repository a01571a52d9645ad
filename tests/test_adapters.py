"""Adapters (photocore/adapters/): entry-point discovery, the contract kit, the three reference
adapters through real servers on 127.0.0.1 (tests/servers.py), the systems file's
``adapter = "name"``, and an integrator's package (adapters/example-agency/) pip-installed and
found through its own entry point."""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from dataclasses import replace
from pathlib import Path

import boto3
import pytest
from botocore.config import Config
from servers import SftpServer

from photocore.adapters import (
    Adapted,
    Adapter,
    File,
    Payload,
    Request,
    adapter_class,
    available,
    make_adapter,
    make_sender,
)
from photocore.adapters.contract import LoopbackReceiver, check_adapter, sample_deliveries
from photocore.deliver.outbox import DELIVERED, Policy, connect_outbox, new_key
from photocore.deliver.push import push
from photocore.deliver.systems import load_systems
from photocore.deliver.transports.base import DeliveryError
from photocore.deliver.transports.folder import FolderTransport
from photocore.deliver.worker import Worker
from photocore.errors import ConfigError

pytestmark = pytest.mark.slow  # SFTP and S3 servers, an integrator's package pip-installed

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "adapters" / "example-agency"
USER, PASSWORD, PASSWORD_ENV = "agency", "correct horse battery", "PHOTOCORE_TEST_ADAPTER_SFTP_PASSWORD"
SOME = ["police.passport", "hrss.social-security-card", "maritime.seafarer-passport"]


@pytest.fixture
def sftp(tmp_path, monkeypatch):
    monkeypatch.setenv(PASSWORD_ENV, PASSWORD)
    root = tmp_path / "sftp-root"
    root.mkdir()
    server = SftpServer(root, passwords={USER: PASSWORD}).start()
    (tmp_path / "known_hosts").write_text(server.known_hosts_line())
    server.settings = {"host": "127.0.0.1", "port": server.port, "username": USER, "password": f"env:{PASSWORD_ENV}",
                       "known_hosts": str(tmp_path / "known_hosts"), "directory": "drop", "timeout": 10}
    yield server
    server.stop()


@pytest.fixture
def bucket(moto, monkeypatch, request):
    monkeypatch.setenv("PHOTOCORE_TEST_S3_KEY", "test")
    monkeypatch.setenv("PHOTOCORE_TEST_S3_SECRET", "test")
    name = f"archive-{request.node.name[:30].lower().replace('_', '-')}".rstrip("-")
    s3_client(moto).create_bucket(Bucket=name)
    moto.settings = {"endpoint_url": moto.url, "bucket": name, "access_key": "env:PHOTOCORE_TEST_S3_KEY",
                     "secret_key": "env:PHOTOCORE_TEST_S3_SECRET", "timeout": 10}
    return name


def s3_client(moto):
    return boto3.session.Session().client("s3", endpoint_url=moto.url, region_name="us-east-1",
                                          aws_access_key_id="test", aws_secret_access_key="test",
                                          config=Config(s3={"addressing_style": "path"}))


# -- discovery and configuration -------------------------------------------------------------------

def test_reference_adapters_are_found_through_entry_points():
    found = {i.name: i for i in available()}
    assert {"json-api", "folder-xml", "s3-archive"} <= set(found)
    assert found["folder-xml"].distribution == "photocore"
    assert adapter_class("folder-xml").transports == ("folder", "sftp", "s3")
    assert adapter_class("json-api").transports == ("http",)


def test_unknown_and_broken_adapters_are_typed_errors(tmp_path, monkeypatch):
    with pytest.raises(ConfigError) as caught:
        adapter_class("no-such-adapter")
    assert caught.value.code == "deliver.unknown_adapter" and "folder-xml" in caught.value.message
    # a package whose entry point does not import, found on sys.path like any installed one
    dist = tmp_path / "site" / "broken_adapter-1.0.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: broken-adapter\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text("[photocore.adapters]\nbroken = no_such_module:Adapter\n"
                                           "not-an-adapter = json:dumps\n")
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    for name in ("broken", "not-an-adapter"):
        with pytest.raises(ConfigError) as caught:
            adapter_class(name)
        assert caught.value.code == "deliver.adapter_broken" and name in caught.value.message
    assert "broken" in {i.name for i in available()}
    # a transport the adapter cannot ride, and settings it does not take
    with pytest.raises(ConfigError, match="carried by http, not by sftp"):
        make_adapter("json-api", {}, transport="sftp", system="x")
    with pytest.raises(ConfigError, match="photo") as caught:
        make_adapter("json-api", {"photo": "inline"}, transport="http", system="x")
    assert caught.value.code == "config.invalid"
    with pytest.raises(ConfigError, match="may use only"):
        make_adapter("folder-xml", {"name": "{reference}-{sha256}"}, transport="folder", system="x")
    with pytest.raises(ConfigError, match="not portable"):
        make_adapter("folder-xml", {"name": "../{reference}"}, transport="folder", system="x")
    with pytest.raises(ConfigError, match="time zone"):
        make_adapter("s3-archive", {"timezone": "Mars/Olympus"}, transport="s3", system="x")


SYSTEM = '''[[system]]
id = "hrss-drop"
credentials = ["hrss.*"]
transport = "folder"
{adapter}
[system.folder]
directory = "{directory}"
{table}
'''


def systems_file(tmp_path, adapter="", table="", name="systems.toml"):
    path = tmp_path / name
    path.write_text(SYSTEM.format(adapter=adapter, table=table, directory=tmp_path / "drop"))
    return path


def test_systems_file_names_an_adapter(tmp_path):
    table = '[system.folder-xml]\nname = "{reference}"'
    systems = load_systems(systems_file(tmp_path, 'adapter = "folder-xml"', table))
    system = systems["hrss-drop"]
    assert (system.adapter, system.adapter_settings) == ("folder-xml", {"name": "{reference}"})
    assert system.destination_config()["adapter"] == "folder-xml"
    assert load_systems(systems_file(tmp_path, name="plain.toml"))["hrss-drop"].adapter is None

    with pytest.raises(ConfigError) as caught:
        load_systems(systems_file(tmp_path, 'adapter = "no-such-adapter"', name="unknown.toml"))
    assert caught.value.code == "deliver.unknown_adapter" and "hrss-drop" in caught.value.message
    with pytest.raises(ConfigError) as caught:
        load_systems(systems_file(tmp_path, 'adapter = "json-api"', name="mismatch.toml"))
    assert caught.value.code == "config.invalid" and "carried by http, not by folder" in caught.value.message
    with pytest.raises(ConfigError) as caught:  # settings of an adapter the system does not name
        load_systems(systems_file(tmp_path, "", '[system.folder-xml]\nname = "{reference}"', name="stray.toml"))
    assert "folder-xml" in caught.value.message
    with pytest.raises(ConfigError) as caught:  # a name that would shadow the system's own keys
        load_systems(systems_file(tmp_path, 'adapter = "folder"', name="reserved.toml"))
    assert caught.value.code == "deliver.unknown_adapter"
    with pytest.raises(ConfigError, match="adapter makes the body"):
        make_sender({"transport": "http", "settings": {"url": "http://127.0.0.1:9/x", "mode": "multipart"},
                     "adapter": "json-api"}, "x")


def test_sftp_without_known_hosts_stops_the_systems_file(tmp_path):
    path = tmp_path / "systems.toml"
    path.write_text('[[system]]\nid = "drop"\ncredentials = ["*"]\ntransport = "sftp"\n'
                    '[system.sftp]\nhost = "127.0.0.1"\nusername = "u"\npassword = "env:P"\n')
    with pytest.raises(ConfigError) as caught:
        load_systems(path)
    assert caught.value.code == "deliver.sftp_host_key" and "insecure_skip_host_key_check" in caught.value.message
    path.write_text(path.read_text() + "insecure_skip_host_key_check = true\n")
    assert load_systems(path)["drop"].settings["insecure_skip_host_key_check"] is True


# -- the contract kit --------------------------------------------------------------------------------

@pytest.mark.parametrize("name, settings", [
    ("json-api", None),
    ("json-api", {"photo": "base64", "fields": {"reference": "applyNo", "photo": "zp"}, "extra": {"channel": "ct"}}),
    ("folder-xml", None),
    ("s3-archive", {"agency": "msa-zhoushan", "timezone": "Asia/Shanghai"}),
])
def test_reference_adapters_keep_the_contract_for_every_credential(name, settings, tmp_path):
    """Every credential of the catalogue; round trip through the kit's folder or its HTTP
    receiver on 127.0.0.1."""
    report = check_adapter(name, settings, workdir=tmp_path)
    assert report.ok, report.summary()
    assert [f.check for f in report.findings] == [
        "loads", "every credential", "kind", "deterministic", "portable names and no biometric data in names",
        "metadata valid", "round trip through a real transport"]


def test_contract_round_trips_through_sftp_and_s3(sftp, moto, bucket, tmp_path):
    for name in ("folder-xml", "s3-archive"):
        report = check_adapter(name, None, credentials=SOME, workdir=tmp_path,
                               transport={"transport": "sftp", "settings": sftp.settings})
        assert report.ok, report.summary()
    stored = sorted(p.relative_to(sftp.root / "drop").as_posix() for p in (sftp.root / "drop").rglob("*")
                    if p.is_file())
    assert "CT-00001.xml" in stored and "CT-00001.jpg" in stored and not [s for s in stored if ".tmp" in s]
    assert "police/2026/03/31/CT-00001/police.passport.json" in stored
    for name in ("s3-archive", "folder-xml"):
        report = check_adapter(name, {"timezone": "Asia/Shanghai"}, credentials=SOME, workdir=tmp_path,
                               transport={"transport": "s3", "settings": moto.settings})
        assert report.ok, report.summary()
    keys = {o["Key"] for o in s3_client(moto).list_objects_v2(Bucket=bucket)["Contents"]}
    # signed 2026-03-31 17:30 UTC: 1 April in Zhoushan
    assert "police/2026/04/01/CT-00001/police.passport.jpg" in keys and "CT-00001.xml" in keys


class NamedByDigest(Adapter):
    """Names files by the photo's SHA-256: biometric-derived data in a name."""

    transports = ("folder",)

    def payload(self, delivery):
        f = self.facts(delivery)
        return Payload(files=(File(f"{f.sha256}.jws", delivery.jws.encode(), "application/jose"),
                              File(f"{f.sha256}.jpg", delivery.data, "image/jpeg")))


class Stamped(Adapter):
    """Writes the time of the upload into its sidecar, and no signature: not deterministic."""

    transports = ("folder",)

    def payload(self, delivery):
        import time
        meta = json.dumps({"reference": self.facts(delivery).reference, "uploaded": time.time_ns()}).encode()
        return Payload(files=(File(f"{delivery.reference}.json", meta, "application/json"),
                              File(f"{delivery.reference}.jpg", delivery.data, "image/jpeg")))


class OneName(Adapter):
    """Every delivery on the same name, with a space in it; and a thumbnail beside the photo."""

    transports = ("folder",)

    def payload(self, delivery):
        return Payload(files=(File("photo sidecar.jws", delivery.jws.encode(), "application/jose"),
                              File("thumb.jpg", delivery.data[:100], "image/jpeg"),
                              File("photo.jpg", delivery.data, "image/jpeg")))


class WrongKind(Adapter):
    transports = ("folder",)

    def payload(self, delivery):
        return Payload(request=Request(delivery.data, "image/jpeg"))


class FailsSometimes(Adapter):
    transports = ("folder",)

    def payload(self, delivery):
        if delivery.credential.startswith("maritime."):
            raise KeyError("maritime")
        sm2 = (File(f"{delivery.reference}.sm2.json", delivery.sm2, "application/json"),) if delivery.sm2 else ()
        return Payload(files=(File(f"{delivery.reference}.jws", delivery.jws.encode(), "application/jose"), *sm2,
                              File(f"{delivery.reference}.jpg", delivery.data, "image/jpeg")))


def failed(report) -> dict[str, str]:
    return {f.check: f.detail for f in report.findings if not f.ok}


def test_contract_catches_what_breaks_it(tmp_path):
    bad = failed(check_adapter(NamedByDigest, credentials=SOME, workdir=tmp_path / "a", raise_on_failure=False))
    assert "round trip through a real transport" not in bad and "both write" in bad["every credential"]
    assert "SM2 sidecar does not travel" in bad["metadata valid"]
    assert "change with the photo's pixels" in bad["portable names and no biometric data in names"]

    bad = failed(check_adapter(Stamped, credentials=SOME, workdir=tmp_path / "b", raise_on_failure=False))
    assert "deterministic" in bad and "signature does not travel" in bad["metadata valid"]

    bad = failed(check_adapter(OneName, credentials=SOME, workdir=tmp_path / "c", raise_on_failure=False))
    assert "both write photo.jpg" in bad["every credential"]
    assert "not portable" in bad["portable names and no biometric data in names"]
    assert "a picture that is not the delivered photo" in bad["metadata valid"]

    bad = failed(check_adapter(WrongKind, credentials=SOME, raise_on_failure=False))
    assert list(bad) == ["kind"]
    bad = failed(check_adapter(FailsSometimes, credentials=SOME, workdir=tmp_path / "d", raise_on_failure=False))
    assert list(bad) == ["every credential"] and "maritime.seafarer-passport: KeyError" in bad["every credential"]

    with pytest.raises(AssertionError, match="BREAKS the photocore adapter contract"):
        check_adapter(NamedByDigest, credentials=SOME, workdir=tmp_path / "e")


def test_adapted_transport_refuses_unsafe_names_before_writing(tmp_path):
    class Escapes(Adapter):
        transports = ("folder",)

        def payload(self, delivery):
            return Payload(files=(File("../outside.jpg", delivery.data, "image/jpeg"),))

    delivery = sample_deliveries(SOME[:1])[0]
    with pytest.raises(DeliveryError) as caught:
        Adapted(Escapes(), FolderTransport(str(tmp_path / "drop"))).send(delivery)
    assert caught.value.permanent and caught.value.code == "deliver.bad_name"
    assert not (tmp_path / "outside.jpg").exists() and not (tmp_path / "drop").exists()
    with pytest.raises(DeliveryError) as caught:
        Payload(files=(File("a.jpg", b"x"),), request=Request(b"x", "image/jpeg"))
    assert caught.value.code == "deliver.bad_payload"


# -- delivery end to end: systems file, push with a reference, the worker, real servers ---------

def test_worker_delivers_through_each_reference_adapter(sftp, moto, bucket, tmp_path, monkeypatch):
    receiver = LoopbackReceiver()
    try:
        path = tmp_path / "systems.toml"
        sftp_settings = "\n".join(f"{k} = {json.dumps(v)}" for k, v in sftp.settings.items())
        s3_settings = "\n".join(f"{k} = {json.dumps(v)}" for k, v in moto.settings.items())
        path.write_text(f'''
[[system]]
id = "exit-entry-api"
credentials = ["police.*"]
transport = "http"
adapter = "json-api"
[system.http]
url = "{receiver.url}"
[system.json-api]
fields = {{ reference = "applyNo", credential = "certType" }}

[[system]]
id = "hrss-drop"
credentials = ["hrss.*"]
transport = "sftp"
adapter = "folder-xml"
[system.sftp]
{sftp_settings}

[[system]]
id = "maritime-archive"
credentials = ["maritime.*"]
transport = "s3"
adapter = "s3-archive"
[system.s3]
{s3_settings}
[system.s3-archive]
agency = "msa-zhoushan"
timezone = "Asia/Shanghai"
''')
        systems = load_systems(path)
        box = connect_outbox(str(tmp_path / "outbox.sqlite3"), base64.b64decode(new_key()),
                     Policy(base_delay=0.05, max_delay=0.2, max_attempts=3, lease=5.0))
        photos = {}
        references = ("SQ2026-0001", "SQ2026-0002", "ZS-77")
        for delivery, reference in zip(sample_deliveries(SOME, sm2=True), references, strict=True):
            folder = tmp_path / "signed" / reference
            folder.mkdir(parents=True)
            photo = folder / delivery.filename
            photo.write_bytes(delivery.data)
            photo.with_name(photo.name + ".jws").write_text(delivery.jws, encoding="ascii")
            photo.with_name(photo.name + ".sm2.json").write_bytes(delivery.sm2)
            photos[delivery.credential] = (photo, reference, delivery)
            system = next(s for s in systems.values() if s.takes(delivery.credential))
            assert push(box, [photo], system, reference=reference)["queued"] == 1

        stats = Worker(box, threads=2, once=True).run(install_signals=False)
        assert stats.delivered == 3 and box.counts() == {DELIVERED: 3}, box.rows()

        # json-api: one multipart POST, the system's field names, the photo byte-exact
        photo, reference, delivery = photos["police.passport"]
        ((headers, body),) = receiver.requests
        assert headers["idempotency-key"] in {r["id"] for r in box.rows() if r["credential"] == "police.passport"}
        assert f'filename="{reference}.jpg"'.encode() in body and delivery.data in body
        metadata = json.loads(body.split(b"\r\n\r\n", 1)[1].split(b"\r\n--", 1)[0])
        assert metadata["applyNo"] == reference and metadata["certType"] == "police.passport"
        assert metadata["signature"] == delivery.jws and metadata["sm2"] == delivery.sm2.decode()

        # folder-xml over SFTP: <reference>.xml then <reference>.jpg
        photo, reference, delivery = photos["hrss.social-security-card"]
        drop = sftp.root / "drop"
        assert sorted(p.name for p in drop.iterdir()) == [f"{reference}.jpg", f"{reference}.xml"]
        assert (drop / f"{reference}.jpg").read_bytes() == delivery.data
        xml = ET.fromstring((drop / f"{reference}.xml").read_bytes())
        assert xml.findtext("reference") == reference and xml.findtext("signature") == delivery.jws
        assert xml.find("file").get("sha256") == __import__("hashlib").sha256(delivery.data).hexdigest()

        # s3-archive: agency/date/reference, the record beside the photo, S3 metadata on both
        photo, reference, delivery = photos["maritime.seafarer-passport"]
        s3 = s3_client(moto)
        prefix = f"msa-zhoushan/2026/04/01/{reference}/maritime.seafarer-passport"
        assert sorted(o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]) == [
            f"{prefix}.jpg", f"{prefix}.json"]
        got = s3.get_object(Bucket=bucket, Key=f"{prefix}.jpg")
        assert got["Body"].read() == delivery.data and got["Metadata"]["reference"] == reference
        record = json.loads(s3.get_object(Bucket=bucket, Key=f"{prefix}.json")["Body"].read())
        assert record["photo"]["key"] == f"{prefix}.jpg" and record["signature"] == delivery.jws
    finally:
        receiver.stop()


def test_push_reference_names_one_photo(tmp_path):
    box = connect_outbox(str(tmp_path / "outbox.sqlite3"), base64.b64decode(new_key()))
    systems = load_systems(systems_file(tmp_path, 'adapter = "folder-xml"'))
    folder = tmp_path / "signed"
    folder.mkdir()
    for delivery in sample_deliveries(["hrss.social-security-card", "hrss.e-social-security-card"]):
        (folder / delivery.filename).write_bytes(delivery.data)
        (folder / (delivery.filename + ".jws")).write_text(delivery.jws, encoding="ascii")
    with pytest.raises(ConfigError) as caught:
        push(box, [folder], systems["hrss-drop"], reference="SQ 1/../x")
    assert caught.value.code == "push.bad_reference"
    with pytest.raises(ConfigError) as caught:
        push(box, [folder], systems["hrss-drop"], reference="SQ2026-0001")
    assert caught.value.code == "push.reference_ambiguous" and box.counts() == {}
    assert push(box, [folder], systems["hrss-drop"])["queued"] == 2  # no reference: the photo ids name them
    Worker(box, once=True).run(install_signals=False)
    assert sorted(p.suffix for p in (tmp_path / "drop").iterdir()) == [".jpg", ".jpg", ".xml", ".xml"]


def test_rows_of_a_removed_adapter_are_dead_letters_with_the_reason(tmp_path):
    box = connect_outbox(str(tmp_path / "outbox.sqlite3"), base64.b64decode(new_key()))
    box.register_destination("gone", {"transport": "folder", "settings": {"directory": str(tmp_path / "d")},
                                      "adapter": "uninstalled-adapter", "adapter_settings": {}})
    delivery = sample_deliveries(SOME[:1])[0]
    box.enqueue(photo_id=delivery.photo_id, credential=delivery.credential, destination="gone",
                filename=delivery.filename, data=delivery.data, jws=delivery.jws, reference="R-1")
    stats = Worker(box, once=True).run(install_signals=False)
    assert stats.dead == 1 and box.rows()[0]["last_error"].startswith("deliver.unknown_adapter")


# -- an integrator's package, installed for real ---------------------------------------------------

@pytest.fixture(scope="module")
def example_site(tmp_path_factory):
    """adapters/example-agency pip-installed (no network, no build isolation) into a folder of its
    own: its dist-info and entry point are what photocore finds, as in any environment."""
    work = tmp_path_factory.mktemp("example")
    source = work / "src"
    shutil.copytree(EXAMPLE, source, ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__"))
    site = work / "site"
    done = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-index",
                           "--no-build-isolation", "--target", str(site), str(source)],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return site


def test_example_agency_package_is_discovered_and_keeps_the_contract(example_site, sftp, tmp_path, monkeypatch):
    assert (example_site / "photocore_example_agency-0.1.0.dist-info" / "entry_points.txt").exists()
    assert "example-card-drop" not in {i.name for i in available()}
    monkeypatch.syspath_prepend(str(example_site))
    found = {i.name: i for i in available()}
    assert found["example-card-drop"].distribution == "photocore-example-agency"
    report = check_adapter("example-card-drop", {"bureau": "zs-card"}, credentials=SOME, workdir=tmp_path,
                           transport={"transport": "sftp", "settings": sftp.settings})
    assert report.ok, report.summary()
    names = {p.relative_to(sftp.root / "drop").as_posix() for p in (sftp.root / "drop").rglob("*") if p.is_file()}
    assert "20260401/CT-00001/photo.jpg" in names and "20260401/CT-00001/info.json" in names
    # and as a system names it: loaded, validated, sent by the worker
    systems = load_systems(systems_file(tmp_path, 'adapter = "example-card-drop"',
                                        '[system.example-card-drop]\nbureau = "zs-card"'))
    box = connect_outbox(str(tmp_path / "outbox.sqlite3"), base64.b64decode(new_key()))
    box.register_destination("hrss-drop", systems["hrss-drop"].destination_config())
    d = sample_deliveries(["hrss.social-security-card"])[0]
    box.enqueue(photo_id=d.photo_id, credential=d.credential, destination="hrss-drop", filename=d.filename,
                data=d.data, jws=d.jws, reference="SQ2026-0042")
    assert Worker(box, once=True).run(install_signals=False).delivered == 1
    info = json.loads((tmp_path / "drop" / "20260401" / "SQ2026-0042" / "info.json").read_text())
    assert info == {"applyNo": "SQ2026-0042", "certType": "hrss.social-security-card", "bureau": "zs-card",
                    "photoSha256": __import__("hashlib").sha256(d.data).hexdigest(), "photoBytes": len(d.data),
                    "signedAt": "2026-03-31T17:30:00+00:00", "station": "contract-station"}


def test_example_agency_in_a_fresh_process(example_site):
    """What an integrator runs: their own test (the contract kit) and `photocore adapters`."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(example_site), os.environ.get("PYTHONPATH", "")]),
           "PYTHONDONTWRITEBYTECODE": "1"}
    listed = subprocess.run([sys.executable, "-m", "photocore.cli", "adapters"], capture_output=True, text=True,
                            env=env, timeout=120)
    assert listed.returncode == 0, listed.stderr
    assert "example-card-drop    photocore_example_agency:CardBureauDrop  (photocore-example-agency 0.1.0)" in \
        listed.stdout
    own = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(EXAMPLE / "tests")],
                         capture_output=True, text=True, env=env, timeout=300, cwd=EXAMPLE)
    assert own.returncode == 0, own.stdout[-3000:] + own.stderr[-2000:]
    assert "1 passed" in own.stdout


def test_delivery_with_reference_survives_the_outbox(tmp_path):
    box = connect_outbox(str(tmp_path / "outbox.sqlite3"), base64.b64decode(new_key()))
    d = sample_deliveries(SOME[:1])[0]
    box.enqueue(photo_id=d.photo_id, credential=d.credential, destination="x", filename=d.filename, data=d.data,
                jws=d.jws, reference="SQ-9")
    ((claimed, _),) = box.claim(1)
    assert claimed.reference == "SQ-9" and replace(claimed, attempt=1, id=d.id, reference=d.reference) == d
