"""A stand-in for the Hugging Face hub's HTTP API, as far as ``create_repo`` + ``upload_folder`` go.

Run as a process (``python fake_hub.py --store DIR``; it prints ``PORT <n>``) and point
huggingface_hub at it with ``HF_ENDPOINT=http://127.0.0.1:<n>``. It answers

* ``POST /api/validate-yaml``: a card's front matter must be a YAML mapping (``configs`` entries
  with ``config_name`` and ``data_files``), else 400 with the errors;
* ``POST /api/repos/create`` (records the payload: name, organization, type, visibility);
* ``POST /api/<type>s/<owner>/<name>/branch/<branch>``;
* ``POST /api/<type>s/<owner>/<name>/preupload/<revision>``: every file ``regular`` (inline);
* ``POST /api/<type>s/<owner>/<name>/commit/<revision>``: the ndjson commit; each file's bytes
  are written to ``DIR/<type>s/<owner>/<name>/<revision>/<path>``.

Every request is appended to ``DIR/requests.jsonl`` (method, path, whether it carried a bearer
token and that token's last four characters); anything else is answered 404. Imported by tests
for :class:`FakeHub`; unique module name.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import http.server
import json
import subprocess
import sys
import threading
from pathlib import Path
from urllib.parse import unquote, urlparse

_LOCK = threading.Lock()


def front_matter_errors(card: str) -> list[str]:
    """What the hub would refuse in a card's YAML front matter: not YAML, not a mapping, bad ``configs``."""
    import yaml

    if not card.startswith("---\n") or "\n---\n" not in card[4:]:
        return ["no YAML front matter"]
    try:
        meta = yaml.safe_load(card[4 : card.index("\n---\n", 4)])
    except yaml.YAMLError as err:
        return [f"invalid YAML: {err}"]
    if not isinstance(meta, dict):
        return ["the front matter is not a mapping"]
    errors = []
    for config in meta.get("configs") or []:
        if not isinstance(config, dict) or "config_name" not in config or "data_files" not in config:
            errors.append(f"configs entry {config!r} needs config_name and data_files")
    return errors


class Handler(http.server.BaseHTTPRequestHandler):
    store: Path

    def log_message(self, *args):
        pass

    def _send(self, status: int, obj) -> None:
        body = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _record(self, extra: dict) -> None:
        auth = self.headers.get("Authorization", "")
        token = auth[len("Bearer ") :] if auth.startswith("Bearer ") else ""
        entry = {"method": self.command, "path": urlparse(self.path).path, "token_tail": token[-4:], **extra}
        with _LOCK, open(self.store / "requests.jsonl", "a", encoding="utf-8") as fh:
            fh.write(json.dumps(entry) + "\n")

    def _body(self) -> bytes:
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def do_GET(self):
        self._record({})
        self._send(404, {"error": "not served by the fake hub"})

    do_HEAD = do_GET

    def do_POST(self):
        body = self._body()
        path = unquote(urlparse(self.path).path)
        base = f"http://127.0.0.1:{self.server.server_address[1]}"
        if path == "/api/validate-yaml":
            payload = json.loads(body)
            errors = front_matter_errors(payload["content"])
            self._record({"validate_yaml": payload.get("repoType"), "errors": errors})
            return self._send(400 if errors else 200, {"errors": [{"message": e} for e in errors], "warnings": []})
        if path == "/api/repos/create":
            payload = json.loads(body)
            self._record({"payload": payload})
            prefix = "" if payload.get("type", "model") == "model" else f"{payload['type']}s/"
            repo = f"{payload['organization']}/{payload['name']}" if payload.get("organization") else payload["name"]
            return self._send(200, {"url": f"{base}/{prefix}{repo}"})
        parts = path.strip("/").split("/")
        if len(parts) >= 6 and parts[0] == "api" and parts[1] in ("models", "datasets"):
            kind, owner, name, verb, rev = parts[1], parts[2], parts[3], parts[4], "/".join(parts[5:])
            repo_dir = self.store / kind / owner / name
            if verb == "branch":
                self._record({"branch": rev})
                (repo_dir / rev).mkdir(parents=True, exist_ok=True)
                return self._send(200, {})
            if verb == "preupload":
                files = json.loads(body)["files"]
                self._record({"preupload": [f["path"] for f in files]})
                return self._send(
                    200, {"files": [{"path": f["path"], "uploadMode": "regular", "shouldIgnore": False} for f in files]}
                )
            if verb == "commit":
                lines = [json.loads(x) for x in body.decode().splitlines() if x.strip()]
                written = []
                for item in lines:
                    if item["key"] == "file":
                        rel = item["value"]["path"]
                        target = repo_dir / rev / rel
                        target.parent.mkdir(parents=True, exist_ok=True)
                        target.write_bytes(base64.b64decode(item["value"]["content"]))
                        written.append(rel)
                    elif item["key"] != "header":
                        return self._send(400, {"error": f"the fake hub takes inline files only, not {item['key']}"})
                self._record({"commit": written, "revision": rev})
                oid = hashlib.sha1(body).hexdigest()
                return self._send(200, {"commitUrl": f"{base}/{kind}/{owner}/{name}/commit/{oid}", "commitOid": oid})
        self._record({})
        self._send(404, {"error": "not served by the fake hub"})


class FakeHub:
    """A running fake hub process; ``endpoint`` for ``HF_ENDPOINT``, ``store`` holds what was committed."""

    def __init__(self, store: Path):
        self.store = store
        store.mkdir(parents=True, exist_ok=True)
        self.proc = subprocess.Popen(
            [sys.executable, __file__, "--store", str(store)], stdout=subprocess.PIPE, text=True
        )
        line = self.proc.stdout.readline()
        if not line.startswith("PORT "):
            self.proc.kill()
            raise RuntimeError(f"fake hub did not start: {line!r}")
        self.endpoint = f"http://127.0.0.1:{int(line.split()[1])}"

    def requests(self) -> list[dict]:
        log = self.store / "requests.jsonl"
        return [json.loads(x) for x in log.read_text().splitlines()] if log.exists() else []

    def files(self, kind: str, repo: str, revision: str = "main") -> dict[str, bytes]:
        """``{path: bytes}`` committed to ``repo`` (``kind`` ``models`` or ``datasets``) at ``revision``."""
        root = self.store / kind / repo / revision
        return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}

    def stop(self) -> None:
        self.proc.kill()
        self.proc.wait(timeout=10)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--store", type=Path, required=True)
    args = parser.parse_args()
    Handler.store = args.store
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    print(f"PORT {server.server_address[1]}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
