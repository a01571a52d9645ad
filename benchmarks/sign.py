"""Cost of signing: signatures per second (Ed25519, ES256), what signing adds to a
184-credential convert (without C2PA) against signing each manifest separately, and C2PA's
cost per rendition, in one run.

    PHOTOCORE_KEY_PASSPHRASE=... .venv/bin/python benchmarks/sign.py
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time

from speed import pin_one_core

from photocore.catalogue import load_catalogue
from photocore.convert import convert
from photocore.sign import CaptureInfo, ManifestSigner, init_keys, load_signer
from photocore.sign.c2pa import embed
from photocore.sign.stage import SigningOptions

SAMPLE = os.path.join(os.path.dirname(__file__), "..", "examples", "sample_capture.jpg")


def main() -> int:
    os.environ.setdefault("PHOTOCORE_KEY_PASSPHRASE", "benchmark-only")
    pin_one_core()
    credentials = list(load_catalogue().credentials)
    with tempfile.TemporaryDirectory() as tmp:
        for alg in ("EdDSA", "ES256"):
            init_keys(os.path.join(tmp, alg), alg=alg)
            signer = load_signer(os.path.join(tmp, alg))
            start, n = time.perf_counter(), 2000
            for i in range(n):
                signer.sign(b"%d" % i * 40)
            print(f"{alg}: {n / (time.perf_counter() - start):,.0f} raw signatures per second")
        signer = load_signer(os.path.join(tmp, "EdDSA"))
        options = SigningOptions(signer, CaptureInfo("bench-station"), c2pa=False)
        convert(SAMPLE, credentials)  # warm-up (models)
        plain, signing, separately = [], [], []
        for _ in range(11):
            plain.append(convert(SAMPLE, credentials).timings["total"])
            signed = convert(SAMPLE, credentials, signing=options)
            signing.append(signed.timings["sign"])
            # the same manifests signed one by one (one JWS each), for comparison in this run
            start, one_by_one = time.perf_counter(), ManifestSigner(signer)
            for photo in signed.signed.values():
                one_by_one.sign(photo.manifest)
            separately.append(time.perf_counter() - start)
        print(f"convert for {len(credentials)} credentials: median {statistics.median(plain) * 1000:.1f} ms; "
              f"signing adds {statistics.median(signing) * 1000:.1f} ms "
              f"({len(signed.signed)} manifests, one per credential's photo, under "
              f"{len({p.jws.split('~')[0] for p in signed.signed.values()})} signature); "
              f"signing each manifest separately would take {statistics.median(separately) * 1000:.1f} ms")
        photos = {o.rendition.render_key: o.rendition.data for o in signed.outcomes if o.ok}
        times = []
        for data in list(photos.values()) * 3:
            start = time.perf_counter()
            embed(data, signer, credential="police.resident-id-card", station_id="bench", captured_at=None,
                  title="x.jpg")
            times.append(time.perf_counter() - start)
        print(f"C2PA embed: median {statistics.median(times) * 1000:.1f} ms per rendition "
              f"({len(photos)} distinct renditions, 3 rounds)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
