"""Secure defaults in the code itself (issue 18 item 8): no process-wide warning filters set on
import, no imports of other packages' private modules, and EdDSA signatures made and checked
without joserfc's deprecation warning, by a per-registry choice rather than a global filter.
(SFTP host keys: tests/test_transport_sftp.py and tests/test_adapters.py.)"""

from __future__ import annotations

import ast
import warnings
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SOURCES = sorted([*(ROOT / "photocore").rglob("*.py"), *(ROOT / "examples").rglob("*.py"),
                  *(ROOT / "adapters").rglob("*.py")])
FILTERS = {"filterwarnings", "simplefilter", "resetwarnings"}


def _module_level(tree: ast.Module):
    """Statements run on import: the module body, and what if/try/with blocks at that level hold."""
    todo = list(tree.body)
    while todo:
        node = todo.pop()
        yield node
        if isinstance(node, (ast.If, ast.Try, ast.With)):
            todo += [*node.body, *getattr(node, "orelse", []), *getattr(node, "finalbody", []),
                     *[s for h in getattr(node, "handlers", []) for s in h.body]]


@pytest.mark.slow
def test_no_warning_filters_are_installed_on_import():
    found = []
    for path in SOURCES:
        for node in _module_level(ast.parse(path.read_text(encoding="utf-8"))):
            for call in (n for n in ast.walk(node) if isinstance(n, ast.Call)):
                name = call.func.attr if isinstance(call.func, ast.Attribute) else getattr(call.func, "id", "")
                if name in FILTERS and not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                    found.append(f"{path.relative_to(ROOT)}:{call.lineno}")
    assert not found, f"process-wide warning filters set at import: {found}"


@pytest.mark.slow
def test_no_private_modules_of_other_packages_are_imported():
    found = []
    for path in SOURCES:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = ([node.module] if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module else
                     [a.name for a in node.names] if isinstance(node, ast.Import) else [])
            for name in names:
                top, *rest = name.split(".")
                if top not in ("photocore", "photocore_example_agency") and any(p.startswith("_") for p in rest):
                    found.append(f"{path.relative_to(ROOT)}:{node.lineno}: {name}")
    assert not found, f"private modules imported: {found}"


def test_eddsa_without_deprecation_warnings_and_without_a_global_filter(tmp_path, monkeypatch):
    from joserfc import jws
    from joserfc.jwk import OKPKey

    from photocore.sign import init_keys, load_signer
    from photocore.sign.manifest import sign_manifest
    from photocore.sign.signer import allowing, public_jwk, registry

    monkeypatch.setenv("PHOTOCORE_KEY_PASSPHRASE", "secure-defaults")
    init_keys(tmp_path / "keys")
    signer = load_signer(tmp_path / "keys")
    assert signer.alg == "EdDSA"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        token = sign_manifest({"credential": "police.passport", "photo_id": "p", "image": {}, "verdicts": {}},
                              signer)
        compact = token.split("~", 1)[0]
        jws.deserialize_compact(compact, public_jwk(signer.chain[0]), registry=registry())  # as verify does
        # as the library checks an agency's EdDSA client assertion
        assertion = jws.serialize_compact({"alg": "EdDSA"}, b"{}", _okp(signer),
                                          registry=allowing(["EdDSA"]))
        jws.deserialize_compact(assertion, _okp(signer), registry=allowing(["EdDSA"]))
    assert not [w for w in caught if "EdDSA" in str(w.message)]
    # joserfc itself still warns anyone else who picks EdDSA: nothing was silenced process-wide
    key = OKPKey.generate_key("Ed25519")
    with pytest.warns(Warning, match="EdDSA is deprecated"):
        jws.serialize_compact({"alg": "EdDSA"}, b"payload", key, algorithms=["EdDSA"])


def _okp(signer):
    from cryptography.hazmat.primitives import serialization
    from joserfc.jwk import OKPKey

    return OKPKey.import_key(signer.private_key.private_bytes(serialization.Encoding.PEM,
                                                              serialization.PrivateFormat.PKCS8,
                                                              serialization.NoEncryption()))
