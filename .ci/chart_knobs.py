"""Checks of the rendered Deployment and extra objects against the knobs of values.yaml that well-kept charts
offer: probes and their toggles, init and sidecar containers, image pull secrets (global and local), revision
history, topology spread, the PodDisruptionBudget and extraObjects. Called by chart_render.py for every values
file, so a knob that is accepted by the schema but ignored by the templates fails here.
"""

import yaml

PROBES = {"livenessProbe": "/healthz", "readinessProbe": "/readyz", "startupProbe": "/healthz"}


def pull_secret_names(values: dict) -> list:
    """global.imagePullSecrets then imagePullSecrets, names or {name: ...}, each name once in first order."""
    names = []
    for ref in (values.get("global") or {}).get("imagePullSecrets", []) + values.get("imagePullSecrets", []):
        name = ref["name"] if isinstance(ref, dict) else ref
        if name not in names:
            names.append(name)
    return names


def check_knobs(c, values: dict, manifests: dict, dep: dict, names: tuple):
    name, fullname = names
    spec = dep["spec"]["template"]["spec"]
    containers = spec["containers"]
    ctr = containers[0]
    selector = {"app.kubernetes.io/name": name, "app.kubernetes.io/instance": "tagdrift"}
    c.expect(dep["spec"]["selector"]["matchLabels"] == selector, f"selector {dep['spec']['selector']}")

    for probe, path in PROBES.items():
        want = dict(values.get(probe, {}))
        if want.pop("enabled", probe != "startupProbe"):
            got = dict(ctr.get(probe) or {})
            action = got.pop("httpGet", {})
            c.expect(action == {"path": path, "port": "http"}, f"{probe} is not GET {path} on port http: {action}")
            c.expect(got == want, f"{probe} {got} differs from values {want}")
        else:
            c.expect(probe not in ctr, f"{probe} rendered while disabled")

    c.expect(spec.get("initContainers", []) == values.get("initContainers", []), "initContainers differ from values")
    c.expect(containers[1:] == values.get("extraContainers", []), "sidecars differ from extraContainers")
    c.expect([s["name"] for s in spec.get("imagePullSecrets", [])] == pull_secret_names(values),
             f"imagePullSecrets {spec.get('imagePullSecrets')} are not global + local, each once")
    c.expect(dep["spec"].get("revisionHistoryLimit") == values.get("revisionHistoryLimit"), "revisionHistoryLimit")

    want_spread = []
    for constraint in values.get("topologySpreadConstraints", []):
        constraint = dict(constraint)
        constraint.setdefault("labelSelector", {"matchLabels": selector})
        want_spread.append(constraint)
    c.expect(spec.get("topologySpreadConstraints", []) == want_spread,
             f"topologySpreadConstraints {spec.get('topologySpreadConstraints')} != {want_spread}")

    pdb_values = values.get("podDisruptionBudget", {})
    pdb = manifests.get(("PodDisruptionBudget", fullname))
    c.expect(bool(pdb) == bool(pdb_values.get("enabled")), "PodDisruptionBudget present iff enabled")
    if pdb:
        want = {"selector": {"matchLabels": selector}}
        if str(pdb_values.get("minAvailable", "")) != "":
            want["minAvailable"] = pdb_values["minAvailable"]
        else:
            want["maxUnavailable"] = 1 if str(pdb_values.get("maxUnavailable", "")) == "" else pdb_values["maxUnavailable"]
        c.expect(pdb["spec"] == want, f"PodDisruptionBudget spec {pdb['spec']} != {want}")

    extra = values.get("extraObjects", [])
    chart_kinds = {"ConfigMap", "Deployment", "Service", "ServiceAccount", "ServiceMonitor", "PrometheusRule",
                   "NetworkPolicy", "PodDisruptionBudget"}
    rendered_extra = [k for k in manifests if k[0] not in chart_kinds or k[1].endswith("-extra")]
    c.expect(len(rendered_extra) == len(extra), f"{len(extra)} extraObjects, rendered {rendered_extra}")
    for obj in extra:
        if isinstance(obj, dict):
            # The mapping form, its tpl-rendered strings aside: kind and data arrive unchanged.
            found = [m for k, m in manifests.items() if k[0] == obj["kind"] and m.get("data") == obj.get("data")
                     and "{{" not in yaml.safe_dump(m)]
            c.expect(len(found) == 1, f"extraObjects mapping of kind {obj['kind']} not rendered once through tpl")
