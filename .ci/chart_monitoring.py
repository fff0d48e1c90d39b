"""Checks of the monitoring objects a render produced: the job label Prometheus will give the target, and the
shipped alert rules evaluated by promtool against that job.

The Prometheus Operator turns a ServiceMonitor endpoint into a scrape config whose `job` is the Service's
name (or the value of the Service label that `jobLabel` names), then applies the endpoint's `relabelings` in
order. `scrape_job` replays that, so a chart change that lets `nameOverride` move the job away from the one the
rules select (TagDriftAbsent's `job="tagdrift"`) fails here, and `promtool_absent_test` proves it with the
rendered PrometheusRule: healthy `up` under that job keeps TagDriftAbsent quiet, no `up` makes it fire.
"""

import re
import subprocess
import tempfile
from pathlib import Path

import yaml


def _expand(replacement: str, match: re.Match) -> str:
    # Prometheus writes groups as $1 or ${1}.
    return re.sub(r"\$\{?(\w+)\}?", lambda m: match.group(int(m.group(1))) if m.group(1).isdigit()
                  else match.group(m.group(1)), replacement)


def scrape_job(service_monitor: dict, service: dict) -> str:
    """The `job` label of the first endpoint's targets, as the operator and Prometheus would set it."""
    labels = {"job": service["metadata"]["name"]}
    job_label = service_monitor["spec"].get("jobLabel")
    if job_label and job_label in service["metadata"].get("labels", {}):
        labels["job"] = service["metadata"]["labels"][job_label]
    for rule in service_monitor["spec"]["endpoints"][0].get("relabelings", []):
        action = rule.get("action", "replace").lower()
        if action != "replace":
            if rule.get("targetLabel") == "job" or action in ("labeldrop", "labelkeep"):
                raise ValueError(f"relabeling {rule} may change job; scrape_job replays only `replace`")
            continue
        source = rule.get("separator", ";").join(labels.get(name, "") for name in rule.get("sourceLabels", []))
        match = re.fullmatch(rule.get("regex", "(.*)"), source)
        if match and rule.get("targetLabel"):
            labels[rule["targetLabel"]] = _expand(rule.get("replacement", "$1"), match)
    return labels["job"]


def rules_job(prometheus_rule: dict) -> str:
    """The job TagDriftAbsent selects on."""
    for group in prometheus_rule["spec"]["groups"]:
        for rule in group["rules"]:
            if rule.get("alert") == "TagDriftAbsent":
                found = re.search(r'job="([^"]+)"', rule["expr"])
                if found:
                    return found.group(1)
    raise ValueError("no TagDriftAbsent rule with a job matcher in the PrometheusRule")


def promtool_absent_test(promtool: str, prometheus_rule: dict, job: str) -> str | None:
    """Runs `promtool test rules` on the rendered groups; None when it passes, else promtool's output."""
    absent = next(r for g in prometheus_rule["spec"]["groups"] for r in g["rules"] if r.get("alert") == "TagDriftAbsent")
    # Its annotations name no label, so they are what promtool will see, as rendered (runbook URL included).
    fired = {"exp_labels": dict(absent.get("labels", {})), "exp_annotations": dict(absent.get("annotations", {}))}
    tests = {
        "rule_files": ["rules.yaml"],
        "evaluation_interval": "1m",
        "tests": [
            {
                "name": f"a healthy target of job {job} keeps TagDriftAbsent quiet",
                "interval": "1m",
                "input_series": [{"series": f'up{{job="{job}",instance="10.0.0.1:9898"}}', "values": "1x30"}],
                "alert_rule_test": [{"eval_time": "20m", "alertname": "TagDriftAbsent", "exp_alerts": []}],
            },
            {
                "name": "no target makes TagDriftAbsent fire",
                "interval": "1m",
                "input_series": [{"series": 'up{job="something-else",instance="10.0.0.2:80"}', "values": "1x30"}],
                "alert_rule_test": [{"eval_time": "20m", "alertname": "TagDriftAbsent",
                                     "exp_alerts": [fired]}],
            },
        ],
    }
    with tempfile.TemporaryDirectory(prefix="tagdrift-promtool-") as tmp:
        Path(tmp, "rules.yaml").write_text(yaml.safe_dump({"groups": prometheus_rule["spec"]["groups"]}))
        Path(tmp, "test.yaml").write_text(yaml.safe_dump(tests))
        run = subprocess.run([promtool, "test", "rules", "test.yaml"], cwd=tmp, capture_output=True, text=True)
    if run.returncode != 0:
        return (run.stdout + run.stderr).strip()
    return None
