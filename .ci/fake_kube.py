"""A minimal in-memory Kubernetes API server, just enough for Helm's install action to run against it.

helm-sdkpy exposes no `helm template` or dry run, only a real install. Pointed at this server (loopback only),
Helm's engine renders the chart and creates every object through the API, so the objects it POSTs are exactly
what `helm template` prints. It serves the legacy discovery documents for the kinds the chart uses, stores
what is created, answers 404 for objects not created yet, and keeps the release Secrets Helm's storage driver
writes and lists. Anything else is answered 404 and recorded in `unexpected` so a caller can report it.
"""

import json
import re
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

# group/version -> [(plural, kind, namespaced)]
RESOURCES = {
    "v1": [
        ("configmaps", "ConfigMap", True),
        ("secrets", "Secret", True),
        ("services", "Service", True),
        ("serviceaccounts", "ServiceAccount", True),
        ("namespaces", "Namespace", False),
    ],
    "apps/v1": [("deployments", "Deployment", True)],
    "networking.k8s.io/v1": [("networkpolicies", "NetworkPolicy", True)],
    "policy/v1": [("poddisruptionbudgets", "PodDisruptionBudget", True)],
    "monitoring.coreos.com/v1": [
        ("servicemonitors", "ServiceMonitor", True),
        ("prometheusrules", "PrometheusRule", True),
    ],
}


def _resource_list(group_version):
    return {
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": group_version,
        "resources": [
            {
                "name": plural,
                "singularName": kind.lower(),
                "namespaced": namespaced,
                "kind": kind,
                "verbs": ["create", "delete", "get", "list", "patch", "update", "watch"],
            }
            for plural, kind, namespaced in RESOURCES[group_version]
        ],
    }


MONITORING = "monitoring.coreos.com/v1"


def _group_list(monitoring):
    groups = []
    for gv in RESOURCES:
        if "/" not in gv or (gv == MONITORING and not monitoring):
            continue
        group, version = gv.split("/")
        entry = {"groupVersion": gv, "version": version}
        groups.append({"name": group, "versions": [entry], "preferredVersion": entry})
    return {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}


class FakeKube:
    """Starts the server on 127.0.0.1 at a free port; `created` lists the objects created since `reset()`.
    With monitoring=False it is a cluster without the Prometheus Operator's CRDs (for the charts' renderMode)."""

    def __init__(self, monitoring=True):
        self.lock = threading.Lock()
        self.objects = {}  # (gv, plural, namespace, name) -> object
        self.created = []
        self.unexpected = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _send(self, status, body):
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _not_found(self, what):
                self._send(404, {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                                 "message": f"{what} not found", "reason": "NotFound", "code": 404})

            def _route(self):
                """(gv, plural, namespace, name, query) for a resource path, or None."""
                parts = urlsplit(self.path)
                segs = [s for s in parts.path.split("/") if s]
                query = parse_qs(parts.query)
                if segs[:1] == ["api"] and len(segs) >= 2:
                    gv, rest = segs[1], segs[2:]
                elif segs[:1] == ["apis"] and len(segs) >= 3:
                    gv, rest = f"{segs[1]}/{segs[2]}", segs[3:]
                else:
                    return None
                namespace = None
                if len(rest) >= 3 and rest[0] == "namespaces":
                    namespace, rest = rest[1], rest[2:]
                if not rest:
                    return (gv, None, namespace, None, query)
                return (gv, rest[0], namespace, rest[1] if len(rest) > 1 else None, query)

            def do_GET(self):
                path = urlsplit(self.path).path.rstrip("/")
                if path == "/version":
                    return self._send(200, {"major": "1", "minor": "30", "gitVersion": "v1.30.0",
                                            "platform": "linux/amd64"})
                if path == "/api":
                    return self._send(200, {"kind": "APIVersions", "versions": ["v1"],
                                            "serverAddressByClientCIDRs": []})
                if path == "/apis":
                    return self._send(200, _group_list(monitoring))
                route = self._route()
                if route is None:
                    fake.unexpected.append(f"GET {self.path}")
                    return self._not_found(self.path)
                gv, plural, namespace, name, query = route
                if plural is None and gv in RESOURCES and (gv != MONITORING or monitoring):
                    return self._send(200, _resource_list(gv))
                with fake.lock:
                    if name is not None:
                        obj = fake.objects.get((gv, plural, namespace, name))
                        return self._send(200, obj) if obj else self._not_found(f"{plural} {name}")
                    selector = dict(
                        kv.split("=", 1) for kv in query.get("labelSelector", [""])[0].split(",") if "=" in kv
                    )
                    items = [
                        o for (g, p, ns, _), o in fake.objects.items()
                        if g == gv and p == plural and ns == namespace
                        and all(o.get("metadata", {}).get("labels", {}).get(k) == v for k, v in selector.items())
                    ]
                kind = next((k for p, k, _ in RESOURCES.get(gv, []) if p == plural), "Object")
                self._send(200, {"kind": f"{kind}List", "apiVersion": gv, "metadata": {"resourceVersion": "1"},
                                 "items": items})

            def _body(self, name_hint):
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) or b"{}"
                if "protobuf" not in (self.headers.get("Content-Type") or ""):
                    return json.loads(raw)
                # client-go sends typed objects (Helm's release Secrets) as protobuf. Their content is not
                # needed: keep a JSON stub with the release name, which the answer is decoded from.
                match = re.search(rb"sh\.helm\.release\.v1\.[a-z0-9.-]+\.v[0-9]+", raw)
                name = name_hint or (match.group(0).decode() if match else "unknown")
                return {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name}, "type": "helm.sh/release.v1"}

            def _store(self, status, record):
                route = self._route()
                if route is None:
                    fake.unexpected.append(f"{self.command} {self.path}")
                    return self._not_found(self.path)
                gv, plural, namespace, name, _ = route
                obj = self._body(name)
                meta = obj.setdefault("metadata", {})
                name = name or meta.get("name")
                meta.setdefault("namespace", namespace)
                meta.setdefault("uid", str(uuid.uuid4()))
                meta["resourceVersion"] = str(len(fake.objects) + 1)
                meta.setdefault("creationTimestamp", "2026-01-01T00:00:00Z")
                with fake.lock:
                    fake.objects[(gv, plural, namespace, name)] = obj
                    # Helm's own release records are not chart objects.
                    if record and not (plural == "secrets" and name.startswith("sh.helm.release.")):
                        fake.created.append(obj)
                self._send(status, obj)

            def do_POST(self):
                self._store(201, record=True)

            def do_PUT(self):
                self._store(200, record=False)

            def do_PATCH(self):
                route = self._route()
                obj = fake.objects.get((route[0], route[1], route[2], route[3])) if route else None
                if obj is None:
                    fake.unexpected.append(f"PATCH {self.path}")
                    return self._not_found(self.path)
                self._send(200, obj)

            def do_DELETE(self):
                route = self._route()
                with fake.lock:
                    obj = fake.objects.pop((route[0], route[1], route[2], route[3]), None) if route else None
                self._send(200, obj) if obj else self._not_found(self.path)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self):
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def reset(self):
        with self.lock:
            self.objects.clear()
            self.created.clear()
            self.unexpected.clear()

    def kubeconfig(self, namespace):
        return (
            "apiVersion: v1\nkind: Config\n"
            f"clusters:\n- name: fake\n  cluster:\n    server: {self.url}\n"
            f"contexts:\n- name: fake\n  context:\n    cluster: fake\n    user: fake\n    namespace: {namespace}\n"
            "current-context: fake\n"
            "users:\n- name: fake\n  user:\n    token: fake\n"
        )

    def close(self):
        self.server.shutdown()
        self.server.server_close()
