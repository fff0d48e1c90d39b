"""Renders charts/tagdrift with Helm's own engine for each values file and checks the manifests.

helm-sdkpy has no `helm template`, so the chart is installed (wait off) into fake_kube.FakeKube, an in-memory
API server on 127.0.0.1: the release's `manifest` is exactly what `helm template` would print, and the objects
Helm created through the API must be the same set. Then every rendered manifest set is checked for what the
chart promises: the hardened security context with the Dockerfile's uid, probes, the desired state as a
directory mount (no subPath anywhere) with its checksum, credentials, RRSA and CCE workload identity wiring,
and the optional objects present exactly when switched on, with the shipped rules and dashboard embedded
unchanged.

Usage: python3 chart_render.py CHART DOCKERFILE VALUES... [--expect-fail VALUES...] [--dump-desired DIR]
                               [--promtool PATH]
Files after --without-crds (until --with-crds) are rendered against a cluster without the Prometheus
Operator's CRDs. With --dump-manifests DIR, each manifest is written to DIR/<values file's directory>-<its name>.
A file after --expect-fail must be refused; each of its `# error: TEXT` lines must be part of Helm's message.
With --dump-desired, the desired state each values file puts in its ConfigMap is written to
DIR/<values file name>, or, when it is in several parts (desiredStateFiles), each part to the directory
DIR/<values file name without .yaml>/, for `tagdrift validate` (.ci/chart-desired-states).
"""

import asyncio
import copy
import json
import re
import sys
import tempfile
from pathlib import Path

import helm_sdkpy
import yaml

from chart_knobs import check_knobs
from chart_lint import coalesce
from chart_monitoring import promtool_absent_test, rules_job, scrape_job
from fake_kube import FakeKube

NAMESPACE = "tagdrift-ci"
RELEASE = "tagdrift"


def dockerfile_uid(dockerfile: Path) -> int:
    users = re.findall(r"^USER\s+([0-9]+)", dockerfile.read_text(), re.MULTILINE)
    if not users:
        raise SystemExit(f"{dockerfile}: no numeric USER line")
    return int(users[-1])


def render(fake: FakeKube, chart: Path, values: dict):
    """(manifests by (kind, name), created objects) or raises helm_sdkpy.HelmError. The manifest text and the
    release notes are left in render.manifest and render.notes."""
    fake.reset()
    with tempfile.NamedTemporaryFile("w", suffix=".kubeconfig", delete=False) as kc:
        kc.write(fake.kubeconfig(NAMESPACE))
    config = helm_sdkpy.Configuration(namespace=NAMESPACE, kubeconfig=kc.name)
    release = asyncio.run(
        helm_sdkpy.Install(config).run(RELEASE, str(chart), values=values or None, wait=False, timeout=60)
    )
    Path(kc.name).unlink()
    render.manifest, render.notes = release["manifest"], release["info"].get("notes", "")
    docs = [d for d in yaml.safe_load_all(release["manifest"]) if d]
    return {(d["kind"], d["metadata"]["name"]): d for d in docs}, list(fake.created)


class Checker:
    def __init__(self, label):
        self.label = label
        self.problems = []

    def expect(self, ok, message):
        if not ok:
            self.problems.append(message)


def find_subpaths(node, path="$"):
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "subPath" or key == "subPathExpr":
                yield f"{path}.{key}"
            yield from find_subpaths(value, f"{path}.{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from find_subpaths(value, f"{path}[{i}]")


def names(values: dict):
    """(name, fullname) as templates/_helpers.tpl computes them for release RELEASE."""
    name = (values.get("nameOverride") or "tagdrift")[:63].rstrip("-")
    if values.get("fullnameOverride"):
        return name, values["fullnameOverride"][:63].rstrip("-")
    return name, (RELEASE if name in RELEASE else f"{RELEASE}-{name}")[:63].rstrip("-")


def check(c: Checker, chart: Path, values: dict, manifests: dict, created: list, uid: int, promtool: str):
    name, fullname = names(values)
    by_kind = {}
    for (kind, _), doc in manifests.items():
        by_kind.setdefault(kind, []).append(doc)
    created_keys = sorted((o["kind"], o["metadata"]["name"]) for o in created)
    c.expect(created_keys == sorted(manifests), f"created objects {created_keys} differ from the manifest")

    for doc in manifests.values():
        c.expect(doc["metadata"].get("namespace") in (NAMESPACE, values.get("serviceMonitor", {}).get("namespace"),
                                                      values.get("prometheusRule", {}).get("namespace"),
                                                      values.get("grafanaDashboard", {}).get("namespace")),
                 f"{doc['kind']} {doc['metadata']['name']} has no namespace")
        labels = doc["metadata"].get("labels", {})
        c.expect(labels.get("app.kubernetes.io/name") == name, f"{doc['kind']} lacks app.kubernetes.io/name {name}")
    for path in find_subpaths(list(manifests.values())):
        c.problems.append(f"subPath used at {path}: a subPath mount never sees ConfigMap updates")

    deployments = by_kind.get("Deployment", [])
    c.expect(len(deployments) == 1, f"{len(deployments)} Deployments")
    if not deployments:
        return
    dep = deployments[0]
    c.expect("helm.sh/chart" not in dep["spec"]["selector"]["matchLabels"], "helm.sh/chart in the selector")
    # One replica, and the old pod gone before the new one starts: never two checks, never two writers
    # (reconcile.mode apply).
    c.expect(dep["spec"].get("replicas") == 1, f"replicas {dep['spec'].get('replicas')}")
    c.expect(dep["spec"].get("strategy", {}).get("type") == "Recreate", "the Deployment strategy is not Recreate")
    reconcile = values.get("reconcile", {})
    cm = manifests.get(("ConfigMap", fullname))
    if reconcile.get("mode") and cm:
        rendered = yaml.safe_load(cm["data"][values.get("configKey", "desired-state.yaml")])
        want = {"mode": reconcile["mode"], "max_changes_per_check": reconcile.get("maxChangesPerCheck", 50),
                "min_consecutive_checks": reconcile.get("minConsecutiveChecks", 2)}
        if reconcile.get("match"):
            want["match"] = reconcile["match"]
        c.expect(rendered.get("reconcile") == want, f"desired state reconcile {rendered.get('reconcile')} != {want}")
    pod = dep["spec"]["template"]
    spec = pod["spec"]
    psc = spec.get("securityContext", {})
    c.expect(psc.get("runAsNonRoot") is True, "pod runAsNonRoot is not true")
    c.expect(psc.get("runAsUser") == uid, f"pod runAsUser {psc.get('runAsUser')} != Dockerfile USER {uid}")
    c.expect(psc.get("seccompProfile", {}).get("type") == "RuntimeDefault", "pod seccompProfile not RuntimeDefault")
    c.expect(spec.get("automountServiceAccountToken") is False, "automountServiceAccountToken is not false")
    containers = spec["containers"]
    c.expect(containers[0]["name"] == "tagdrift", "tagdrift is not the first container")
    ctr = containers[0]
    sc = ctr.get("securityContext", {})
    c.expect(sc.get("allowPrivilegeEscalation") is False, "allowPrivilegeEscalation is not false")
    c.expect(sc.get("readOnlyRootFilesystem") is True, "readOnlyRootFilesystem is not true")
    c.expect(sc.get("runAsUser", uid) == uid, f"container runAsUser {sc.get('runAsUser')} != {uid}")
    c.expect("ALL" in sc.get("capabilities", {}).get("drop", []), "capabilities do not drop ALL")
    check_knobs(c, values, manifests, dep, names(values))
    ports = {p["name"]: p["containerPort"] for p in ctr.get("ports", [])}
    c.expect(ports.get("http") == values.get("containerPort", 9898), f"container port {ports}")
    c.expect(ctr.get("resources") == values.get("resources", {}), "resources differ from values")

    # The desired state: a directory mount of the ConfigMap, the --config path inside it, the checksum.
    config_dir = values.get("configMountPath", "/etc/tagdrift")
    config_key = values.get("configKey", "desired-state.yaml")
    mounts = {m["name"]: m for m in ctr.get("volumeMounts", [])}
    volumes = {v["name"]: v for v in spec.get("volumes", [])}
    c.expect(mounts.get("desired-state", {}).get("mountPath") == config_dir, "desired state not mounted at configMountPath")
    cm_name = values.get("existingConfigMap") or fullname
    c.expect(volumes.get("desired-state", {}).get("configMap", {}).get("name") == cm_name,
             f"desired-state volume is not ConfigMap {cm_name}")
    args = ctr.get("args", [])
    parts = values.get("desiredStateFiles") or {}
    directory = bool(parts) or bool(values.get("configDirectory"))
    want_config = config_dir if directory else f"{config_dir}/{config_key}"
    c.expect(args[:3] == ["run", "--config", want_config], f"args {args}")
    annotations = pod["metadata"].get("annotations") or {}
    if values.get("existingConfigMap"):
        c.expect(("ConfigMap", fullname) not in manifests, "ConfigMap rendered despite existingConfigMap")
    else:
        cm = manifests.get(("ConfigMap", fullname))
        c.expect(cm is not None, "no desired-state ConfigMap")
        if cm:
            desired = values.get("desiredState") or {}
            # Every part is a key of its own, as given (text byte for byte, a mapping as the same mapping).
            for name, part in parts.items():
                got = cm["data"].get(name)
                c.expect(got is not None, f"part {name} not in the ConfigMap")
                if got is not None:
                    same = got.rstrip("\n") == part.rstrip("\n") if isinstance(part, str) else yaml.safe_load(got) == part
                    c.expect(same, f"ConfigMap part {name} differs from desiredStateFiles.{name}")
            if parts and not desired and not values.get("reconcile", {}).get("mode"):
                c.expect(config_key not in cm["data"], f"an empty {config_key} beside desiredStateFiles")
            elif values.get("reconcile", {}).get("mode"):
                # The chart adds the reconcile section (checked above); the rest is the desired state as given.
                rendered = yaml.safe_load(cm["data"][config_key])
                rendered.pop("reconcile", None)
                given = yaml.safe_load(desired) if isinstance(desired, str) else desired
                if parts and not given:
                    given = {"version": 1}  # reconcile alone, as a part of its own
                c.expect(rendered == given, "ConfigMap content differs from desiredState (reconcile aside)")
            elif isinstance(desired, str):  # --set-file: the text itself, byte for byte
                c.expect(cm["data"][config_key].rstrip("\n") == desired.rstrip("\n"),
                         "ConfigMap text differs from the desiredState string")
            else:
                c.expect(yaml.safe_load(cm["data"][config_key]) == desired,
                         "ConfigMap content differs from desiredState")
        c.expect(re.fullmatch(r"[0-9a-f]{64}", annotations.get("checksum/config", "")),
                 "no checksum/config pod annotation")

    env = {e["name"]: e.get("value") for e in ctr.get("env", [])}
    c.expect(env.get("TAGDRIFT_LOG_FORMAT") == (values.get("logFormat") or None), "TAGDRIFT_LOG_FORMAT vs logFormat")
    c.expect(env.get("RUST_LOG") == values.get("logLevel"), "RUST_LOG vs logLevel")
    env_from = ctr.get("envFrom", [])
    creds = values.get("credentials", {})
    if creds.get("existingSecret"):
        if creds.get("as", "env") == "env":
            c.expect({"secretRef": {"name": creds["existingSecret"]}} in env_from, "credentials Secret not in envFrom")
        else:
            c.expect(volumes.get("credentials", {}).get("secret", {}).get("secretName") == creds["existingSecret"],
                     "credentials Secret not a volume")
            c.expect(mounts.get("credentials", {}).get("mountPath") == creds.get("mountPath", "/var/run/secrets/tagdrift"),
                     "credentials not mounted at credentials.mountPath")

    sa_name = spec.get("serviceAccountName")
    sa = manifests.get(("ServiceAccount", sa_name))
    if values.get("serviceAccount", {}).get("create", True):
        c.expect(sa is not None, f"ServiceAccount {sa_name} not rendered")

    rrsa = values.get("alibabaRrsa", {})
    if rrsa.get("enabled") and rrsa.get("mode", "webhook") == "webhook":
        c.expect(sa and sa["metadata"].get("annotations", {}).get("pod-identity.alibabacloud.com/role-name")
                 == rrsa["roleName"], "RRSA role-name annotation missing on the ServiceAccount")
        c.expect(pod["metadata"]["labels"].get("pod-identity.alibabacloud.com/injection") == "on",
                 "RRSA injection label missing on the pod")
    elif rrsa.get("enabled"):
        token_dir = rrsa.get("tokenMountPath", "/var/run/secrets/ack.alibabacloud.com/rrsa-tokens")
        c.expect(env.get("ALIBABA_CLOUD_ROLE_ARN") == rrsa["roleArn"], "ALIBABA_CLOUD_ROLE_ARN not set")
        c.expect(env.get("ALIBABA_CLOUD_OIDC_PROVIDER_ARN") == rrsa["oidcProviderArn"], "ALIBABA_CLOUD_OIDC_PROVIDER_ARN not set")
        c.expect(env.get("ALIBABA_CLOUD_OIDC_TOKEN_FILE") == f"{token_dir}/token", "ALIBABA_CLOUD_OIDC_TOKEN_FILE wrong")
        src = volumes.get("rrsa-oidc-token", {}).get("projected", {}).get("sources", [{}])[0].get("serviceAccountToken", {})
        c.expect(src.get("audience") == rrsa.get("audience", "sts.aliyuncs.com") and src.get("path") == "token",
                 f"RRSA projected token {src}")
        c.expect(mounts.get("rrsa-oidc-token", {}).get("mountPath") == token_dir, "RRSA token not mounted")
    else:
        c.expect("pod-identity.alibabacloud.com/injection" not in pod["metadata"]["labels"], "RRSA label while off")

    hw = values.get("huaweiWorkloadIdentity", {})
    if hw.get("enabled"):
        token_dir = hw.get("tokenMountPath", "/var/run/secrets/tokens")
        token_file = hw.get("tokenFileName", "oidc-token")
        src = volumes.get("huawei-oidc-token", {}).get("projected", {}).get("sources", [{}])[0].get("serviceAccountToken", {})
        c.expect(src.get("audience") == hw["audience"], f"CCE token audience {src.get('audience')}")
        c.expect(src.get("expirationSeconds") == hw.get("expirationSeconds", 3600), "CCE token expiry")
        c.expect(mounts.get("huawei-oidc-token", {}).get("mountPath") == token_dir, "CCE token not mounted")
        c.expect(env.get("HUAWEICLOUD_SDK_ID_TOKEN_FILE") == f"{token_dir}/{src.get('path')}" == f"{token_dir}/{token_file}",
                 "HUAWEICLOUD_SDK_ID_TOKEN_FILE does not point at the projected token")
        c.expect(env.get("HUAWEICLOUD_SDK_IDP_ID") == hw["idpId"], "HUAWEICLOUD_SDK_IDP_ID not set")
    else:
        c.expect("HUAWEICLOUD_SDK_ID_TOKEN_FILE" not in env, "CCE env while off")

    # Optional objects: present exactly when switched on.
    for key, kind in [("serviceMonitor", "ServiceMonitor"), ("prometheusRule", "PrometheusRule"),
                      ("networkPolicy", "NetworkPolicy")]:
        on = values.get(key, {}).get("enabled", False)
        c.expect(bool(by_kind.get(kind)) == on, f"{kind} {'missing' if on else 'rendered while off'}")
    dash_on = values.get("grafanaDashboard", {}).get("enabled", False)
    dash = manifests.get(("ConfigMap", f"{fullname}-dashboard"))
    c.expect(bool(dash) == dash_on, f"dashboard ConfigMap {'missing' if dash_on else 'rendered while off'}")
    if dash:
        shipped = json.loads((chart / "files/dashboard.json").read_text())
        c.expect(json.loads(dash["data"]["tagdrift.json"]) == shipped, "dashboard ConfigMap differs from files/dashboard.json")
        c.expect(dash["metadata"]["labels"].get("grafana_dashboard") == "1", "dashboard lacks grafana_dashboard: \"1\"")
    for rule in by_kind.get("PrometheusRule", []):
        shipped = yaml.safe_load((chart / "files/prometheus-rules.yaml").read_text())["groups"]
        base = values.get("prometheusRule", {}).get("runbookBaseUrl")
        if base:
            shipped = json.loads(json.dumps(shipped).replace(
                "https://github.com/tagdrift/tagdrift/blob/main/docs/runbook.md", base))
        extra = values.get("prometheusRule", {}).get("extraGroups", [])
        c.expect(rule["spec"]["groups"] == shipped + extra, "PrometheusRule groups differ from the shipped rules")
    svc = manifests.get(("Service", fullname))
    c.expect(svc is not None and svc["spec"]["ports"][0]["targetPort"] == "http", "Service missing or wrong port")
    shipped_job = rules_job({"spec": yaml.safe_load((chart / "files/prometheus-rules.yaml").read_text())})
    for sm in by_kind.get("ServiceMonitor", []):
        ep = sm["spec"]["endpoints"][0]
        c.expect(ep["port"] == "http" and ep["path"] == "/metrics", "ServiceMonitor endpoint")
        for key in ("interval", "scrapeTimeout"):  # empty: left out, so Prometheus' own default applies
            want = values["serviceMonitor"].get(key) or None
            c.expect(ep.get(key) == want, f"ServiceMonitor {key} {ep.get(key)!r}, values say {want!r}")
        # The job TagDriftAbsent selects, whatever nameOverride or fullnameOverride make of the Service.
        job = scrape_job(sm, svc) if svc else None
        c.expect(job == shipped_job, f"the ServiceMonitor's targets get job={job!r}, the rules select {shipped_job!r}")
        for rule in by_kind.get("PrometheusRule", []):
            failed = promtool_absent_test(promtool, rule, job)
            c.expect(failed is None, f"promtool on the rendered rules with job={job!r}: {failed}")


def main(argv):
    chart, dockerfile = Path(argv[0]), Path(argv[1])
    uid = dockerfile_uid(dockerfile)
    ok_files, fail_files, dump_dir, manifests_dir, promtool = [], [], None, None, "promtool"
    target, crds = ok_files, True
    args = iter(argv[2:])
    for arg in args:
        if arg == "--expect-fail":
            target = fail_files
            continue
        if arg in ("--without-crds", "--with-crds"):
            crds = arg == "--with-crds"
            continue
        if arg == "--dump-manifests":
            manifests_dir = Path(next(args))
            manifests_dir.mkdir(parents=True, exist_ok=True)
            continue
        if arg == "--promtool":
            promtool = next(args)
            continue
        if arg == "--dump-desired":
            dump_dir = Path(next(args))
            dump_dir.mkdir(parents=True, exist_ok=True)
            continue
        target.append((Path(arg), crds))
    defaults = yaml.safe_load((chart / "values.yaml").read_text())
    # Two API servers: one with the Prometheus Operator's CRDs, one without (renderMode). Separate servers,
    # so no discovery cache can carry one's API list over to the other.
    fakes = {True: FakeKube(), False: FakeKube(monitoring=False)}
    failures = 0
    try:
        for path, crds in ok_files:
            fake = fakes[crds]
            overlay = yaml.safe_load(path.read_text()) or {}
            c = Checker(str(path) + ("" if crds else " without the monitoring CRDs"))
            try:
                manifests, created = render(fake, chart, overlay)
            except helm_sdkpy.HelmError as err:
                c.problems.append(f"render failed: {err}")
                manifests = None
            if manifests is not None:
                merged = coalesce(copy.deepcopy(defaults), overlay)
                if manifests_dir is not None:
                    (manifests_dir / f"{path.parent.name}-{path.name}").write_text(render.manifest)
                expect = copy.deepcopy(merged)
                for key, kind in [("serviceMonitor", "ServiceMonitor"), ("prometheusRule", "PrometheusRule")]:
                    skipped = not crds and merged[key]["enabled"] and merged[key]["renderMode"] == "skipIfMissing"
                    line = f"SKIPPED: the {kind} was not created because the cluster has no monitoring.coreos.com/v1"
                    c.expect(skipped == (line in render.notes), f"notes {'lack' if skipped else 'have'} '{line}'")
                    if skipped:
                        expect[key]["enabled"] = False
                check(c, chart, expect, manifests, created, uid, promtool)
                cm = manifests.get(("ConfigMap", names(merged)[1]))
                if dump_dir is not None and cm and merged.get("desiredStateFiles"):
                    # A directory of parts, validated as one desired state.
                    part_dir = dump_dir / path.name.removesuffix(".yaml")
                    part_dir.mkdir()
                    for name, text in cm["data"].items():
                        (part_dir / name).write_text(text)
                elif dump_dir is not None and cm and merged.get("desiredState"):
                    (dump_dir / path.name).write_text(cm["data"][merged.get("configKey", "desired-state.yaml")])
            c.problems.extend(f"unexpected API call {u}" for u in fake.unexpected)
            kinds = sorted({k for k, _ in manifests}) if manifests else []
            print(f"helm render [{c.label}]: {'ok' if not c.problems else 'FAIL'} ({len(manifests or {})} objects: "
                  f"{', '.join(kinds)})")
            for problem in c.problems:
                print(f"    {problem}")
            failures += bool(c.problems)
        for path, crds in fail_files:
            fake = fakes[crds]
            text = path.read_text()
            overlay = yaml.safe_load(text) or {}
            # A `# error: TEXT` line pins the reason: refused for something else is a failure too.
            want = [line[len("# error:"):].strip() for line in text.splitlines() if line.startswith("# error:")]
            try:
                render(fake, chart, overlay)
                print(f"helm render [{path}]: FAIL (rendered, but must be refused)")
                failures += 1
            except helm_sdkpy.HelmError as err:
                missing = [w for w in want if w not in str(err)]
                if missing:
                    print(f"helm render [{path}]: FAIL (refused, but not with {missing}: {err})")
                    failures += 1
                else:
                    print(f"helm render [{path}]: ok (refused: {str(err).splitlines()[0][:160]})")
    finally:
        for fake in fakes.values():
            fake.close()
    print(f"helm render: {len(ok_files) + len(fail_files)} values files, {failures} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
