"""The shared photo library under load: authorised pulls per second with p50/p99 latency, the
time to publish a 184-credential conversion, and how alike the refusals are.

Real parts only, on 127.0.0.1: `photocore serve --workers 2` (uvicorn), the embedded SQLite and
a private PostgreSQL with fsync on (the audit log is durable in both), a keep-alive HTTP client
with 16 requests in flight. Pulls go through the whole agency path: bearer token check, grant
lookup, decrypting the photo and its signature, and the audit row committed before the answer.

    .venv/bin/python benchmarks/serve.py [--seconds 10] [--rounds 3] [--backends sqlite,postgresql]

The load comes from wrk (Debian's package, `apt-get install wrk`) when it is installed, else
from httpx in this process (which then competes with the service for the 2 cores).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
BIN = Path(sys.executable).parent
SAMPLE = ROOT / "examples" / "sample_capture.jpg"


def photocore(*args: str, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run([str(BIN / "photocore"), *args], env=env, check=True, capture_output=True, text=True)


def free_port() -> int:
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


class Service:
    def __init__(self, work: Path, data: Path, env: dict, database: str | None, workers: int):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        args = ["serve", "--port", str(self.port), "--data-dir", str(data), "--trust",
                str(work / "keys" / "root.pem"), "--clients", str(work / "clients.toml"), "--secret",
                "env:BENCH_SECRET", "--public-url", self.url, "--workers", str(workers)]
        if database:
            args += ["--database", database]
        self.process = subprocess.Popen([str(BIN / "photocore"), *args], env=env, stdout=subprocess.DEVNULL,
                                        stderr=subprocess.PIPE)
        deadline = time.time() + 60
        while time.time() < deadline:
            try:
                if httpx.get(self.url + "/v1/health", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.2)
        raise RuntimeError("the service did not start: " + self.process.stderr.read().decode()[-2000:])

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=30)


def setup(work: Path, env: dict, conversions: int) -> list[Path]:
    """A key store, `conversions` signed 184-credential conversions of the sample, agency clients."""
    photocore("keys", "init", str(work / "keys"), env=env)
    folders = []
    for i in range(conversions):
        out = work / f"conversion-{i}"
        photocore("convert", str(SAMPLE), "--all", "--out", str(out), "--sign", "--keys", str(work / "keys"),
                  "--station", "bench-station", env=env)
        folders.append(out)
    for name in ("police", "hrss"):
        key = ec.generate_private_key(ec.SECP256R1())
        (work / f"{name}.key.pem").write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                                                 serialization.PrivateFormat.PKCS8,
                                                                 serialization.NoEncryption()))
        (work / f"{name}.pub.pem").write_bytes(key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    (work / "clients.toml").write_text(
        '[[client]]\nid = "police-bench"\nagency = "police"\npublic_key = "police.pub.pem"\n\n'
        '[[client]]\nid = "hrss-bench"\nagency = "hrss"\npublic_key = "hrss.pub.pem"\n', encoding="utf-8")
    return folders


def load_wrk(url: str, token: str, paths: list[str], seconds: float, concurrency: int, work: Path) -> dict:
    """wrk (Debian's package; a C client that leaves the cores to the service): ``concurrency``
    keep-alive connections for ``seconds``, each request a random one of ``paths``."""
    script = work / "pulls.lua"
    script.write_text("paths = {" + ",".join(f'"{p}"' for p in paths) + "}\n"
                      "request = function() return wrk.format(nil, paths[math.random(#paths)]) end\n"
                      "done = function(summary, latency, requests)\n"
                      "  io.write(string.format('RESULT %d %d %d %f %f\\n', summary.requests, summary.errors.status,"
                      " summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,"
                      " latency:percentile(50) / 1000, latency:percentile(99) / 1000))\nend\n", encoding="utf-8")
    out = subprocess.run(["wrk", "-t1", f"-c{concurrency}", f"-d{seconds:g}s", "-s", str(script), "-H",
                          f"Authorization: Bearer {token}", url], capture_output=True, text=True, check=True).stdout
    requests, bad_status, errors, p50, p99 = next(line.split()[1:] for line in out.splitlines()
                                                  if line.startswith("RESULT"))
    return {"pulls": int(requests), "bad_status": int(bad_status), "errors": int(errors), "p50_ms": float(p50),
            "p99_ms": float(p99), "per_s": int(requests) / seconds}


async def load(url: str, token: str, paths: list[str], seconds: float, concurrency: int) -> tuple[list[float], dict]:
    """``concurrency`` requests in flight over keep-alive connections for ``seconds`` (httpx:
    used when wrk is missing; its own CPU use on a 2-core machine lowers what it measures)."""
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=30,
                                 headers={"Authorization": f"Bearer {token}"}) as client:
        stop = time.perf_counter() + seconds

        async def worker(i: int) -> None:
            rng = random.Random(i)
            while time.perf_counter() < stop:
                started = time.perf_counter()
                response = await client.get(rng.choice(paths))
                latencies.append(time.perf_counter() - started)
                statuses[response.status_code] = statuses.get(response.status_code, 0) + 1

        await asyncio.gather(*(worker(i) for i in range(concurrency)))
    return latencies, statuses


def guess_pickup_codes(url: str, id_number: str, tries: int) -> dict:
    """Guessed pickup codes (with the right last six digits) at the citizen's login form, from
    one address: how they are answered, and whether any opened a session."""
    import re

    from photocore.library.crypto import new_pickup_code

    answers: dict[int, int] = {}
    sessions = 0
    with httpx.Client(base_url=url, timeout=30) as client:
        for _ in range(tries):
            form = client.get("/me/login").text
            token = re.search(r'name="csrf" value="([^"]+)"', form).group(1)
            response = client.post("/me/login", headers={"Origin": url}, data={
                "csrf": token, "next": "/me", "code": new_pickup_code(), "last6": id_number[-6:]})
            answers[response.status_code] = answers.get(response.status_code, 0) + 1
            sessions += response.status_code == 303
    return {"answers": answers, "sessions": sessions}


def run_backend(name: str, work: Path, data: Path, env: dict, folders: list[Path], database: str | None,
                args) -> dict:
    from photocore.library.agency_auth import AgencyClient
    from photocore.library.config import LibraryConfig
    from photocore.library.publish import conversion_files, publish
    from photocore.library.service import Library
    from photocore.sign import load_signer

    service = Service(work, data, env, database, args.workers)
    try:
        signer = load_signer(work / "keys")
        people = [f"3301021990{i:04d}{random.randint(1000, 9999)}" for i in range(len(folders))]
        publish_ms = []
        with httpx.Client(timeout=60) as http:
            for folder, person in zip(folders, people, strict=True):
                files = conversion_files(folder)
                started = time.perf_counter()
                answer = publish(files, person, service.url, signer, client=http)
                publish_ms.append((time.perf_counter() - started) * 1000)
                assert answer["photos"] == 184 and answer["new"], answer
            again = []
            for folder, person in zip(folders, people, strict=True):
                started = time.perf_counter()
                publish(conversion_files(folder), person, service.url, signer, client=http)
                again.append((time.perf_counter() - started) * 1000)
        library = Library(LibraryConfig(data_dir=data, database=database, secret="env:BENCH_SECRET",
                                        trust=[work / "keys" / "root.pem"]))
        police = AgencyClient(service.url, "police-bench", (work / "police.key.pem").read_bytes())
        hrss = AgencyClient(service.url, "hrss-bench", (work / "hrss.key.pem").read_bytes())
        granted = []
        for i in range(args.requests):
            person = people[i % len(people)]
            request = police.create_request(person, "police.passport", f"APP-{i}", "passport renewal")
            library.decide(library.keys.person_key(person), request["request_id"], True)
            granted.append(request["request_id"])
        paths = [f"/v1/requests/{r}/photo" for r in granted]
        token = police.token()
        rounds = []
        for _ in range(args.rounds):
            if shutil.which("wrk"):
                result = load_wrk(service.url, token, paths, args.seconds, args.concurrency, work)
                assert result["bad_status"] == 0 and result["errors"] == 0, result
            else:
                latencies, statuses = asyncio.run(load(service.url, token, paths, args.seconds, args.concurrency))
                assert set(statuses) == {200}, statuses
                result = {"pulls": len(latencies), "per_s": len(latencies) / args.seconds,
                          "p50_ms": percentile(latencies, 0.5) * 1000, "p99_ms": percentile(latencies, 0.99) * 1000}
            rounds.append(result)

        # refusals: another agency's requests, guessed request ids, revoked grants
        overview = library.overview(library.keys.person_key(people[0]))
        for grant in overview["grants"][:50]:
            library.revoke_grant(library.keys.person_key(people[0]), grant["grant_id"])
        revoked = [g["request_id"] for g in overview["grants"][:50]]
        tries = {"wrong agency": (hrss, [random.choice(granted) for _ in range(350)]),
                 "guessed id": (police, [str(uuid.uuid4()) for _ in range(350)]),
                 "revoked grant": (police, [random.choice(revoked) for _ in range(300)])}
        # interleaved at random, so that drift in the machine's speed does not look like a signal
        attempts = [(label, client, request_id) for label, (client, ids) in tries.items() for request_id in ids]
        random.shuffle(attempts)
        answers, times = set(), {label: [] for label in tries}
        tokens = {police: police.token(), hrss: hrss.token()}
        one = httpx.Client(limits=httpx.Limits(max_connections=1))  # one connection: one service process
        for label, client, request_id in attempts:
            started = time.perf_counter()
            response = one.get(f"{service.url}/v1/requests/{request_id}/photo",
                               headers={"Authorization": f"Bearer {tokens[client]}"})
            times[label].append((time.perf_counter() - started) * 1000)
            answers.add((response.status_code, response.content, response.headers.get("content-type")))
        one.close()
        timing = {label: (statistics.median(t), percentile(t, 0.9), len(t)) for label, t in times.items()}
        guesses = guess_pickup_codes(service.url, people[0], 1000)
        police.close()
        hrss.close()
        from photocore.library import audit
        intact = audit.verify(library.engine).intact
    finally:
        service.stop()
    middle = sorted(rounds, key=lambda r: r["per_s"])[len(rounds) // 2]
    return {"backend": name, "pulls_per_s": middle["per_s"], "p50_ms": middle["p50_ms"], "p99_ms": middle["p99_ms"],
            "rounds": rounds, "guesses": guesses, "publish_ms": publish_ms, "republish_ms": again, "refusals": timing,
            "distinct_refusals": answers,
            "audit_intact": intact}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="length of one round of pulls")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of pulls per backend (the median is shown)")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--workers", type=int, default=2, help="service processes")
    parser.add_argument("--requests", type=int, default=200, help="approved requests the pulls spread over")
    parser.add_argument("--conversions", type=int, default=5, help="184-credential conversions published")
    parser.add_argument("--backends", default="sqlite,postgresql")
    args = parser.parse_args()
    env = {**os.environ, "BENCH_SECRET": base64.b64encode(os.urandom(32)).decode(),
           "PHOTOCORE_KEY_PASSPHRASE": os.environ.get("PHOTOCORE_KEY_PASSPHRASE") or "benchmark-only"}
    os.environ.update(BENCH_SECRET=env["BENCH_SECRET"], PHOTOCORE_KEY_PASSPHRASE=env["PHOTOCORE_KEY_PASSPHRASE"])
    with tempfile.TemporaryDirectory(prefix="photocore-serve-bench-") as tmp:
        work = Path(tmp)
        folders = setup(work, env, args.conversions)
        results = []
        for backend in args.backends.split(","):
            if backend == "postgresql":
                from pg import PostgresServer, available
                if not available():
                    print("postgresql: the server binaries are missing (.ci/run installs them); skipped")
                    continue
                server = PostgresServer(durable=True).start()
                try:
                    results.append(run_backend("PostgreSQL (fsync on)", work, work / "pg-objects", env, folders,
                                               server.fresh_database("bench"), args))
                finally:
                    server.stop()
            else:
                results.append(run_backend("SQLite (synchronous=FULL)", work, work / "data", env, folders, None, args))
    client = "wrk" if shutil.which("wrk") else "httpx (install Debian's wrk for a client that leaves the cores alone)"
    print(f"pulls: {args.concurrency} in flight over keep-alive connections ({client}), {args.rounds} rounds of "
          f"{args.seconds:g} s, {args.workers} service processes, {os.cpu_count()} cores shared with the client")
    print(f"{'backend':28} {'pulls/s':>8} {'p50 ms':>8} {'p99 ms':>8}   publish 184 (median, ms)   again (ms)")
    for r in results:
        print(f"{r['backend']:28} {r['pulls_per_s']:8.0f} {r['p50_ms']:8.1f} {r['p99_ms']:8.1f}   "
              f"{statistics.median(r['publish_ms']):6.0f} ({', '.join(f'{x:.0f}' for x in r['publish_ms'])})"
              f"   {statistics.median(r['republish_ms']):6.0f}")
        print(" " * 29 + "rounds: " + "; ".join(f"{x['per_s']:.0f}/s p50 {x['p50_ms']:.1f} p99 {x['p99_ms']:.1f}"
                                              for x in r["rounds"]))
    for r in results:
        print(f"\n{r['backend']}: {sum(n for *_, n in r['refusals'].values())} refused pulls, "
              f"{len(r['distinct_refusals'])} distinct answer(s) (status, body, type); audit log intact: "
              f"{r['audit_intact']}")
        for status, body, kind in r["distinct_refusals"]:
            print(f"  answer: {status} {kind} {body.decode()[:160]}")
        for label, (median, p90, n) in r["refusals"].items():
            print(f"  {label:14} n={n}  median {median:.2f} ms  p90 {p90:.2f} ms")
        g = r["guesses"]
        print(f"  {sum(g['answers'].values())} guessed pickup codes at the login form: answers "
              f"{dict(sorted(g['answers'].items()))} (401 wrong, 429 rate limited), sessions opened: {g['sessions']}")


if __name__ == "__main__":
    main()
