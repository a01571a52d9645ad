"""The S3 transport against a real moto server on 127.0.0.1 (tests/servers.py)."""

from __future__ import annotations

import hashlib
import itertools

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from servers import MotoServer

from photocore.deliver.transports.base import Delivery, DeliveryError
from photocore.deliver.transports.s3 import S3Transport, delivery_error
from photocore.errors import ConfigError, PhotocoreError

from conftest import DATA

ACCESS_ENV, SECRET_ENV = "PHOTOCORE_TEST_S3_ACCESS_KEY", "PHOTOCORE_TEST_S3_SECRET_KEY"
pytestmark = pytest.mark.slow  # moto's S3 server as a child process

PHOTO = (DATA / "london_neutral_001.jpg").read_bytes()
JWS = "eyJhbGciOiJFUzI1NiJ9.eyJwaG90byI6IjBiMWMifQ.c2lnbmF0dXJl"
_buckets = itertools.count()


def delivery(data=PHOTO, id="outbox-1", sm2=None) -> Delivery:
    return Delivery(id=id, photo_id="0b1c2d3e", credential="police.resident-id-card",
                    filename="police.resident-id-card.jpg", data=data, jws=JWS, sm2=sm2)


def client(url: str):
    return boto3.session.Session().client(
        "s3", endpoint_url=url, region_name="us-east-1", aws_access_key_id="test", aws_secret_access_key="test",
        config=Config(s3={"addressing_style": "path"}, retries={"total_max_attempts": 1}))


@pytest.fixture
def creds(monkeypatch):
    monkeypatch.setenv(ACCESS_ENV, "test")
    monkeypatch.setenv(SECRET_ENV, "test")


@pytest.fixture
def bucket(moto, creds):
    name = f"agency-{next(_buckets)}"
    client(moto.url).create_bucket(Bucket=name)
    return name


@pytest.fixture
def transports():
    made = []

    def make(url, bucket, **settings):
        cfg = {"transport": "s3", "endpoint_url": url, "bucket": bucket, "access_key": f"env:{ACCESS_ENV}",
               "secret_key": f"env:{SECRET_ENV}", "timeout": 5, **settings}
        made.append(S3Transport.from_config(cfg))
        return made[-1]

    yield make
    for transport in made:
        transport.close()


def test_moto_honours_if_none_match(moto, bucket):
    """moto 5.2.5 answers a second If-None-Match: * put with 412, so the idempotency below is real."""
    s3 = client(moto.url)
    s3.put_object(Bucket=bucket, Key="k", Body=b"one", IfNoneMatch="*")
    with pytest.raises(ClientError) as caught:
        s3.put_object(Bucket=bucket, Key="k", Body=b"two", IfNoneMatch="*")
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 412
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"one"


def test_stores_photo_and_sidecars_with_metadata(moto, bucket, transports):
    transport = transports(moto.url, bucket, prefix="incoming/")
    sent = []


    def record(request, **_):  # what goes on the wire, per PutObject
        headers = {k: v.decode() if isinstance(v, bytes) else v for k, v in request.headers.items()}
        sent.append((request.url.rsplit("/", 1)[-1], headers))

    transport._s3().meta.events.register("before-send.s3.PutObject", record)
    d = delivery(sm2=b'{"alg":"SM2","sig":"3045"}')
    receipt = transport.send(d)
    key = f"incoming/{d.photo_id}-{d.filename}"
    assert receipt.receipt_id == f"s3://{bucket}/{key}" and receipt.detail.startswith("stored (ETag ")

    s3 = client(moto.url)
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]]
    assert sorted(keys) == sorted([key, f"{key}.jws", f"{key}.sm2.json"])
    expected = {key: (PHOTO, "image/jpeg"), f"{key}.jws": (JWS.encode("ascii"), "application/sd-jwt"),
                f"{key}.sm2.json": (d.sm2, "application/json")}
    for name, (body, content_type) in expected.items():
        got = s3.get_object(Bucket=bucket, Key=name)
        assert got["Body"].read() == body
        assert got["ContentType"] == content_type
        assert got["Metadata"] == {"photo-id": d.photo_id, "credential": d.credential,
                                   "sha256": hashlib.sha256(body).hexdigest()}
    assert s3.head_object(Bucket=bucket, Key=key)["ETag"] in receipt.detail
    # sidecars before the photo, every put conditional, and none of the CRC checksums MinIO/Ceph may reject
    name = key.rsplit("/", 1)[-1]
    assert [url for url, _ in sent] == [f"{name}.jws", f"{name}.sm2.json", name]
    assert [h.get("If-None-Match") for _, h in sent] == ["*", "*", "*"]
    assert not [k for _, h in sent for k in h if k.lower().startswith(("x-amz-checksum-", "x-amz-sdk-checksum"))]


def test_redelivery_is_idempotent(moto, bucket, transports):
    d = delivery()
    transports(moto.url, bucket).send(d)
    s3 = client(moto.url)
    key = f"{d.photo_id}-{d.filename}"
    before = s3.head_object(Bucket=bucket, Key=key)
    again = transports(moto.url, bucket).send(d)  # a fresh transport, as after a crash
    assert again.detail.startswith("already delivered") and before["ETag"] in again.detail
    after = s3.head_object(Bucket=bucket, Key=key)
    assert (after["ETag"], after["LastModified"]) == (before["ETag"], before["LastModified"])
    assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == PHOTO
    assert s3.list_objects_v2(Bucket=bucket)["KeyCount"] == 2


def test_other_bytes_under_the_same_key_are_a_permanent_conflict(moto, bucket, transports):
    transport = transports(moto.url, bucket)
    transport.send(delivery())
    changed = PHOTO[:-2] + b"\x00\xff\xd9"
    with pytest.raises(DeliveryError) as caught:
        transport.send(delivery(data=changed, id="outbox-2"))  # same .jws, other photo bytes
    assert caught.value.permanent and caught.value.code == "deliver.s3_conflict"
    body = client(moto.url).get_object(Bucket=bucket, Key="0b1c2d3e-police.resident-id-card.jpg")["Body"].read()
    assert body == PHOTO


def test_missing_bucket_is_permanent(moto, creds, transports):
    with pytest.raises(DeliveryError) as caught:
        transports(moto.url, "no-such-bucket").send(delivery())
    assert caught.value.permanent and caught.value.code == "deliver.s3_permanent"
    assert "NoSuchBucket" in str(caught.value)


def test_server_gone_is_transient(tmp_path, creds, transports):
    server = MotoServer(tmp_path / "moto.log").start()
    try:
        client(server.url).create_bucket(Bucket="agency")
        transport = transports(server.url, "agency", timeout=3)
        assert transport.send(delivery()).detail.startswith("stored")
    finally:
        server.stop()
    with pytest.raises(DeliveryError) as caught:
        transport.send(delivery(id="outbox-2"))
    assert not caught.value.permanent and caught.value.code == "deliver.s3_unavailable"


def test_missing_secret_is_a_config_error(moto, bucket, transports, monkeypatch):
    monkeypatch.delenv(SECRET_ENV)
    transport = transports(moto.url, bucket)  # secrets resolve at first use, not at configuration
    with pytest.raises(PhotocoreError) as caught:
        transport.send(delivery())
    assert caught.value.code == "config.secret_missing"


@pytest.mark.parametrize("status, code, permanent, retry_after", [
    (503, "SlowDown", False, 7.0), (500, "InternalError", False, None), (429, "TooManyRequests", False, 7.0),
    (408, "RequestTimeout", False, None), (409, "ConditionalRequestConflict", False, None),
    (403, "AccessDenied", True, None), (404, "NoSuchBucket", True, None), (400, "InvalidArgument", True, None)])
def test_error_mapping(status, code, permanent, retry_after):
    """The status classes moto cannot be made to answer, through the same mapping send() uses."""
    headers = {"retry-after": "7"} if retry_after else {}
    exc = ClientError({"Error": {"Code": code, "Message": "m"},
                       "ResponseMetadata": {"HTTPStatusCode": status, "HTTPHeaders": headers}}, "PutObject")
    error = delivery_error(exc, "s3://b/k")
    assert error.permanent is permanent and error.retry_after == retry_after
    assert error.code == ("deliver.s3_permanent" if permanent else "deliver.s3_unavailable")


def test_config_is_checked():
    base = {"transport": "s3", "bucket": "b", "access_key": "env:A", "secret_key": "env:B"}
    with pytest.raises(ConfigError, match="endpoint") as caught:
        S3Transport.from_config({**base, "endpoint": "http://127.0.0.1:1"})
    assert caught.value.code == "config.invalid"
    with pytest.raises(ConfigError, match="addressing_style"):
        S3Transport.from_config({**base, "addressing_style": "sideways"})
    transport = S3Transport.from_config(base)
    config = transport._config
    assert config.retries == {"total_max_attempts": 1} and config.s3 == {"addressing_style": "path"}
    assert config.request_checksum_calculation == config.response_checksum_validation == "when_required"
    assert (config.connect_timeout, config.read_timeout, transport.region) == (20.0, 20.0, "us-east-1")
