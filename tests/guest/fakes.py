"""Local stand-ins for what the guest reporter talks to on a VM.

- FakeKubelet serves kubelet's read-only ``/pods`` from a PodList the test sets.
- FakeMetadata serves the Compute Engine metadata server paths the reporter
  reads: attributes, access token, instance identity token, instance name,
  id, zone and ``preempted``; it checks the ``Metadata-Flavor`` header.
- FakeLogging records Cloud Logging ``entries:write`` requests.
- TcpProxy sits between the reporter and the Pub/Sub emulator and can refuse,
  reset or black-hole connections to simulate an outage.

All listen on 127.0.0.1 with a random port.
"""

from __future__ import annotations

import base64
import json
import socket
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class _Server:
    def __init__(self, handler_cls):
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler_cls)
        self.httpd.daemon_threads = True
        self.httpd.owner = self
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host}:{port}"

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


class _Quiet(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):  # keep pytest output readable
        pass

    def reply(self, code: int, body: bytes, ctype: str = "application/json"):
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class FakeKubelet(_Server):
    """Kubelet's read-only port: ``GET /pods`` returns the current PodList."""

    def __init__(self):
        self.lock = threading.Lock()
        self.pods: list[dict] = []
        self.up = True
        self.requests = 0

        class Handler(_Quiet):
            def do_GET(h):
                owner = h.server.owner
                if h.path != "/pods":
                    return h.reply(404, b"404 page not found\n", "text/plain")
                with owner.lock:
                    owner.requests += 1
                    if not owner.up:
                        return h.reply(503, b"starting\n", "text/plain")
                    body = json.dumps(
                        {"kind": "PodList", "apiVersion": "v1", "metadata": {}, "items": owner.pods},
                        separators=(",", ":"),
                    ).encode()
                h.reply(200, body)

        super().__init__(Handler)

    def set_pod(self, pod: dict | None):
        with self.lock:
            self.pods = [] if pod is None else [pod]


class FakeMetadata(_Server):
    """The metadata server, as much of it as the reporter reads."""

    def __init__(self, attributes: dict[str, str], instance_name="k8sless-demo-1a2b3c",
                 instance_id="4711471147114711", zone="us-central1-a"):
        self.attributes = dict(attributes)
        self.instance = {"name": instance_name, "id": instance_id,
                         "zone": f"projects/123456789/zones/{zone}"}
        self.preempted = False
        self.token_requests = 0
        self.identity_requests: list[dict] = []

        class Handler(_Quiet):
            def do_GET(h):
                owner = h.server.owner
                if h.headers.get("Metadata-Flavor") != "Google":
                    return h.reply(403, b"Missing Metadata-Flavor:Google header.\n", "text/plain")
                url = urllib.parse.urlsplit(h.path)
                path = url.path
                prefix = "/computeMetadata/v1/"
                if not path.startswith(prefix):
                    return h.reply(404, b"not found\n", "text/plain")
                path = path[len(prefix):]
                if path.startswith("instance/attributes/"):
                    key = path[len("instance/attributes/"):]
                    if key in owner.attributes:
                        return h.reply(200, owner.attributes[key].encode(), "application/text")
                    return h.reply(404, b"not found\n", "text/plain")
                if path in ("instance/name", "instance/id", "instance/zone"):
                    return h.reply(200, owner.instance[path.split("/")[1]].encode(), "application/text")
                if path == "project/project-id":
                    return h.reply(200, b"k8sless-test", "application/text")
                if path == "instance/preempted":
                    return h.reply(200, b"TRUE" if owner.preempted else b"FALSE", "application/text")
                if path == "instance/service-accounts/default/token":
                    owner.token_requests += 1
                    body = {"access_token": "ya29.fake-access-token", "expires_in": 3599,
                            "token_type": "Bearer"}
                    return h.reply(200, json.dumps(body).encode())
                if path == "instance/service-accounts/default/identity":
                    q = dict(urllib.parse.parse_qsl(url.query))
                    owner.identity_requests.append(q)
                    if not q.get("audience"):
                        return h.reply(400, b"non-empty audience parameter required\n", "text/plain")
                    return h.reply(200, owner.identity_token(q["audience"], q.get("format")).encode(),
                                   "text/html")
                return h.reply(404, b"not found\n", "text/plain")

        super().__init__(Handler)

    def identity_token(self, audience: str, fmt: str | None) -> str:
        """A JWT-shaped token (unsigned) carrying what Google's would."""
        def b64(obj):
            raw = json.dumps(obj, separators=(",", ":")).encode()
            return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()
        claims = {"aud": audience, "iss": "https://accounts.google.com", "azp": "1234",
                  "sub": "1234", "iat": int(time.time()), "exp": int(time.time()) + 3600}
        if fmt == "full":
            claims["google"] = {"compute_engine": {
                "project_id": "k8sless-test", "project_number": 123456789,
                "zone": self.instance["zone"].rsplit("/", 1)[-1],
                "instance_id": self.instance["id"], "instance_name": self.instance["name"],
                "instance_creation_timestamp": 1700000000}}
        return f"{b64({'alg': 'RS256', 'typ': 'JWT', 'kid': 'fake'})}.{b64(claims)}.c2lnbmF0dXJl"


class TcpProxy:
    """Forwards 127.0.0.1:port to a target; ``mode`` simulates outages:

    - "pass": forward
    - "reset": accept and close at once (the client sees a reset or an empty reply)
    - "blackhole": accept and never answer (the client times out)
    """

    def __init__(self, target_host: str, target_port: int):
        self.target = (target_host, target_port)
        self.mode = "pass"
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.closed = False
        self.held: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _accept(self):
        while not self.closed:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            mode = self.mode
            if mode == "reset":
                conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
                conn.close()
            elif mode == "blackhole":
                self.held.append(conn)
            else:
                threading.Thread(target=self._pipe_pair, args=(conn,), daemon=True).start()

    def _pipe_pair(self, conn):
        try:
            upstream = socket.create_connection(self.target, timeout=10)
        except OSError:
            conn.close()
            return
        for a, b in ((conn, upstream), (upstream, conn)):
            threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(src, dst):
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def set_mode(self, mode: str):
        self.mode = mode
        if mode == "pass":
            for c in self.held:
                c.close()
            self.held.clear()

    def close(self):
        self.closed = True
        self.sock.close()
        for c in self.held:
            c.close()


class FakeLogging(_Server):
    """Cloud Logging's ``POST /v2/entries:write``: keeps each request body.

    ``fail_next`` answers that many requests with 503 first (a retry test).
    """

    def __init__(self):
        self.lock = threading.Lock()
        self.requests: list[dict] = []
        self.auth: list[str] = []
        self.fail_next = 0

        class Handler(_Quiet):
            def do_POST(h):
                owner = h.server.owner
                body = h.rfile.read(int(h.headers.get("Content-Length", "0")))
                if h.path != "/v2/entries:write":
                    return h.reply(404, b"{}")
                with owner.lock:
                    if owner.fail_next > 0:
                        owner.fail_next -= 1
                        return h.reply(503, b'{"error":{"code":503,"status":"UNAVAILABLE"}}')
                    owner.requests.append(json.loads(body))
                    owner.auth.append(h.headers.get("Authorization", ""))
                h.reply(200, b"{}")

        super().__init__(Handler)

    def entries(self) -> list[dict]:
        with self.lock:
            return [e for r in self.requests for e in r.get("entries", [])]


class FakeService(_Server):
    """The k8sless service, as much of it as the reporter calls: the log upload
    ``PUT /guest/v1/namespaces/NS/pods/NAME/logs/CONTAINER?uid=UID``. Accepts a
    bearer token only when it is an instance identity token (``format=full``)
    for ``audience``; keeps each log as the service would name it,
    ``logs/NS/NAME/UID/CONTAINER.log``. The real service's checks (signature,
    the pod's own VM) are tested in Rust (tests/e2e_lifecycle/logs.rs)."""

    def __init__(self, audience: str):
        self.audience = audience
        self.objects: dict[str, bytes] = {}
        self.uploads: list[dict] = []
        self.refuse_next = 0

        class Handler(_Quiet):
            def do_PUT(h):
                owner = h.server.owner
                url = urllib.parse.urlsplit(h.path)
                parts = url.path.split("/")
                body = h.rfile.read(int(h.headers.get("Content-Length") or 0))
                q = dict(urllib.parse.parse_qsl(url.query))
                owner.uploads.append({"path": url.path, "query": q, "size": len(body),
                                      "auth": h.headers.get("Authorization", "")})
                # /guest/v1/namespaces/NS/pods/NAME/logs/CONTAINER
                if len(parts) != 9 or parts[1:4] != ["guest", "v1", "namespaces"] \
                        or parts[5] != "pods" or parts[7] != "logs" or not q.get("uid"):
                    return h.reply(404, b'{"code":404}')
                if owner.refuse_next > 0:
                    owner.refuse_next -= 1
                    return h.reply(503, b'{"code":503}')
                claims = _claims(h.headers.get("Authorization", ""))
                if claims.get("aud") != owner.audience or "google" not in claims:
                    return h.reply(403, b'{"code":403}')
                ns, name, container = parts[4], parts[6], parts[8]
                owner.objects[f"logs/{ns}/{name}/{q['uid']}/{container}.log"] = body
                return h.reply(200, b'{"result":"archived"}')

        super().__init__(Handler)

    def read(self, key: str) -> bytes:
        return self.objects[key]

    def names(self, prefix: str) -> list[str]:
        return sorted(k for k in self.objects if k.startswith(prefix))


def _claims(auth: str) -> dict:
    token = auth.removeprefix("Bearer ").strip()
    try:
        payload = token.split(".")[1]
        return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (IndexError, ValueError):
        return {}
