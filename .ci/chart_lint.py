"""Lints charts/tagdrift with Helm's own engine (the helm-sdkpy wheel), once per values file.

helm-sdkpy's Lint action is `helm lint CHART`: it renders every template with the chart's values.yaml,
validates the values against values.schema.json and parses the rendered YAML. It takes no values file, so
for each ci/*-values.yaml the chart is copied to a temporary directory and its values.yaml replaced by the
chart defaults overlaid with that file, merged the way Helm coalesces values (maps merge key by key, lists and
scalars replace, null deletes a key).

Usage: python3 chart_lint.py CHART [VALUES_FILE ...] [--expect-error VALUES_FILE ...]
A file after --expect-error must make lint report an error (Severity 3). Exit 1 on any unexpected result.

The wheel's JSON loses the text of Go errors (`"Err": {}`), so a failure shows only severity and path; run the
same file through `check-jsonschema` or remove templates one at a time to find the cause.
"""

import asyncio
import copy
import json
import shutil
import sys
import tempfile
from pathlib import Path

import helm_sdkpy
import yaml

SEVERITY = {0: "unknown", 1: "info", 2: "warning", 3: "error"}


def coalesce(base, overlay):
    """Helm's value coalescing: overlay wins; maps merge recursively; null removes the key."""
    out = copy.deepcopy(base)
    for key, value in overlay.items():
        if value is None:
            out.pop(key, None)
        elif isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = coalesce(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def lint(config, chart_dir: Path, values_file: Path | None):
    """Runs helm lint on a copy of the chart whose values.yaml carries the merged values; returns messages."""
    with tempfile.TemporaryDirectory(prefix="tagdrift-lint-") as tmp:
        copy_dir = Path(tmp) / chart_dir.name
        shutil.copytree(chart_dir, copy_dir)
        if values_file is not None:
            defaults = yaml.safe_load((chart_dir / "values.yaml").read_text()) or {}
            overlay = yaml.safe_load(values_file.read_text()) or {}
            merged = coalesce(defaults, overlay)
            (copy_dir / "values.yaml").write_text(yaml.safe_dump(merged, sort_keys=False))
        result = asyncio.run(helm_sdkpy.Lint(config).run(str(copy_dir)))
    return result.get("Messages") or []


def main(argv):
    chart = Path(argv[0])
    expected_ok, expected_error = [], []
    target = expected_ok
    for arg in argv[1:]:
        if arg == "--expect-error":
            target = expected_error
            continue
        target.append(Path(arg))

    config = helm_sdkpy.Configuration(namespace="default")
    failures = 0
    for values_file, want_error in [(None, False)] + [(f, False) for f in expected_ok] + [
        (f, True) for f in expected_error
    ]:
        label = "chart defaults" if values_file is None else str(values_file)
        messages = lint(config, chart, values_file)
        worst = max((m.get("Severity", 0) for m in messages), default=0)
        details = ", ".join(f"{SEVERITY.get(m.get('Severity'), '?')} at {m.get('Path')}" for m in messages)
        # Warnings fail too, as `helm lint --strict` does; the Chart.yaml icon recommendation is info.
        failed = worst >= 2
        if failed == want_error and (not want_error or worst == 3):
            verdict = "ok" if not want_error else "ok (rejected as expected)"
        else:
            verdict = "FAIL" if not want_error else "FAIL (expected an error, lint passed)"
            failures += 1
        print(f"helm lint [{label}]: {verdict}" + (f" ({details})" if details else ""))
    print(f"helm lint: {failures} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
