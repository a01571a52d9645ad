"""The sign stage: every rendition provably from an accredited capture station, unchanged.

``keys`` holds the issuing root and station certificates; ``manifest`` builds and signs the
per-photo manifest as a JWS; ``verify`` checks a photo against it with only the root
certificate; ``c2pa`` embeds the same provenance in the JPEG; ``sm2`` adds a national-crypto
signature where a deployment needs one.
"""

from .keys import KeyStoreError, add_station_key, init_keys, list_keys, load_root, load_signer, revoke, revoked
from .manifest import CaptureInfo, ManifestSigner, build_manifest, sign_manifest
from .signer import FileSigner, Signer, thumbprint
from .verify import Verification, verify

__all__ = ["CaptureInfo", "FileSigner", "ManifestSigner", "KeyStoreError", "Signer", "Verification", "add_station_key",
           "build_manifest", "init_keys", "list_keys", "load_root", "load_signer", "revoke", "revoked", "sign_manifest",
           "thumbprint", "verify"]
