"""Embedded provenance: a C2PA manifest in the JPEG, signed by the same station certificate.

The JWS sidecar stays the source of truth (agencies may re-encode, which breaks C2PA's hard
binding); C2PA lets any content-credentials reader see where the photo came from. Signing goes
through the same ``Signer`` callback, so an HSM-held key works here too. No thumbnail is
embedded (it would add a second copy of the face and ~23 KB). Needs the optional extra
``photocore[c2pa]`` (c2pa-python).
"""

from __future__ import annotations

import io
import json

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from ..errors import C2paUnavailable
from .signer import Signer

# EKUs our station certificates carry: documentSigning and emailProtection.
TRUST_CONFIG = "1.3.6.1.5.5.7.3.36\n1.3.6.1.5.5.7.3.4\n"
ASSERTION = "org.photocore.rendition.v1"


def _c2pa():
    try:
        import c2pa
    except ImportError as exc:  # the extra is not installed
        raise C2paUnavailable("C2PA embedding needs the optional extra: pip install 'photocore[c2pa]'") from exc
    return c2pa


def _pem_chain(signer: Signer, root_der: bytes | None = None) -> str:
    """The station certificate and any intermediates (not the root), as PEM."""
    ders = [d for d in signer.chain if d != root_der] if root_der else signer.chain[:1]
    return "".join(x509.load_der_x509_certificate(d).public_bytes(serialization.Encoding.PEM).decode() for d in ders)


def embed(jpeg: bytes, signer: Signer, *, credential: str, station_id: str, captured_at: str | None,
          title: str) -> bytes:
    """``jpeg`` with a signed C2PA manifest embedded (actions, and our rendition assertion)."""
    c2pa = _c2pa()
    alg = {"EdDSA": c2pa.C2paSigningAlg.ED25519, "ES256": c2pa.C2paSigningAlg.ES256}[signer.alg]
    manifest = {
        "claim_generator_info": [{"name": "photocore", "version": "0.1.0"}],
        "title": title,
        "assertions": [
            {"label": "c2pa.actions", "data": {"actions": [
                {"action": "c2pa.created",
                 "digitalSourceType": "http://cv.iptc.org/newscodes/digitalsourcetype/digitalCapture"},
                {"action": "c2pa.cropped"}, {"action": "c2pa.resized"}]}},
            {"label": ASSERTION, "data": {"credential": credential, "capture_station": station_id,
                                          **({"captured_at": captured_at} if captured_at else {})}},
        ],
    }
    context = c2pa.Context.from_dict({"builder": {"thumbnail": {"enabled": False}},
                                      "trust": {"trust_config": TRUST_CONFIG}})
    root_der = signer.chain[-1] if len(signer.chain) > 1 else None
    out = io.BytesIO()
    with c2pa.Signer.from_callback(signer.sign, alg, _pem_chain(signer, root_der), None) as c2pa_signer, \
            c2pa.Builder(json.dumps(manifest), context=context) as builder:
        builder.sign(c2pa_signer, "image/jpeg", io.BytesIO(jpeg), out)
    return out.getvalue()


def read(jpeg: bytes, root_pem: str) -> tuple[str, dict]:
    """(validation state, active manifest) of an embedded manifest, trusting ``root_pem``."""
    c2pa = _c2pa()
    context = c2pa.Context.from_dict({"verify": {"verify_trust": True},
                                      "trust": {"trust_anchors": root_pem, "trust_config": TRUST_CONFIG}})
    with c2pa.Reader("image/jpeg", io.BytesIO(jpeg), context=context) as reader:
        return reader.get_validation_state(), reader.get_active_manifest()
