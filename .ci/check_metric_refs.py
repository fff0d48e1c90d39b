"""Checks that the Grafana dashboard and the alert rules use only metrics of the contract in docs/metrics.md.

Usage: python3 check_metric_refs.py docs/metrics.md --dashboard DASHBOARD.json --rules RULES.yaml \
           --runbook docs/runbook.md

The contract is read from docs/metrics.md: every backticked `tagdrift_*` name in the first column of a table,
with `_bucket`, `_sum` and `_count` added for histograms. Each PromQL expression (dashboard targets and
template-variable queries, alert `expr`s) is reduced to its bare identifiers (strings, label matchers,
durations, grouping clauses, function calls and keywords removed); every one left is a metric name and must
be in the contract (alert rules may also use `up`, which Prometheus itself records). Every expression must use at least one
tagdrift metric (alert rules may use `up` instead). The dashboard is also checked for structure: unique panel ids, a query in every panel.
With --runbook (after --rules), every alert must carry a severity, summary, description and a runbook_url
ending in docs/runbook.md#<alert name lowercased>, and the runbook must have a `## <AlertName>` section.
Exit 1 with one line per problem.
"""

import json
import re
import sys
from pathlib import Path

import yaml

KEYWORDS = {
    "by", "without", "on", "ignoring", "group_left", "group_right", "bool", "offset", "and", "or",
    "unless", "inf", "nan", "atan2",
}
# Prometheus' own series that the rules may use next to the contract.
PROMETHEUS_SERIES = {"up"}


def contract(metrics_md: Path) -> set[str]:
    names = set()
    for line in metrics_md.read_text().splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) < 2:
            continue
        match = re.fullmatch(r"`(tagdrift_[a-z0-9_]+)`", cells[0])
        if not match:
            continue
        name = match.group(1)
        names.add(name)
        if "histogram" in cells[1]:
            names.update(f"{name}{suffix}" for suffix in ("_bucket", "_sum", "_count"))
    return names


def metric_identifiers(expr: str) -> set[str]:
    """The bare identifiers of a PromQL expression, which are its metric names."""
    text = re.sub(r'"(?:\\.|[^"\\])*"', '""', expr)  # string literals (label values)
    text = re.sub(r"'(?:\\.|[^'\\])*'", "''", text)
    text = re.sub(r"\{[^}]*\}", "", text)  # label matchers
    text = re.sub(r"\[[^\]]*\]", "", text)  # range and subquery durations
    text = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", text)
    text = re.sub(r"\$\{?[A-Za-z_][A-Za-z0-9_]*\}?", " ", text)  # Grafana variables
    text = re.sub(r"\b[0-9][0-9.eE+-]*[smhdwy]?\b", " ", text)  # numbers and durations
    idents = set()
    for match in re.finditer(r"[A-Za-z_:][A-Za-z0-9_:]*", text):
        rest = text[match.end():].lstrip()
        if rest.startswith("("):  # a function or aggregation
            continue
        if match.group(0).lower() in KEYWORDS:
            continue
        idents.add(match.group(0))
    return idents


def check_expr(where: str, expr: str, allowed: set[str], problems: list[str], extra=frozenset()):
    names = metric_identifiers(expr)
    for name in sorted(names - allowed - extra):
        problems.append(f"{where}: metric '{name}' is not in docs/metrics.md (expr: {expr.strip()})")
    if not any(n.startswith("tagdrift_") or n in extra for n in names):
        problems.append(f"{where}: uses no tagdrift metric (expr: {expr.strip()})")


def check_dashboard(path: Path, allowed: set[str], problems: list[str]) -> int:
    dashboard = json.loads(path.read_text())
    exprs = 0
    ids = set()

    def panels(items):
        for p in items:
            yield p
            yield from panels(p.get("panels", []))

    for panel in panels(dashboard.get("panels", [])):
        pid = panel.get("id")
        if pid in ids:
            problems.append(f"{path}: duplicate panel id {pid}")
        ids.add(pid)
        if panel.get("type") == "row":
            continue
        targets = panel.get("targets") or []
        if not targets:
            problems.append(f"{path}: panel '{panel.get('title')}' has no query")
        for target in targets:
            expr = target.get("expr")
            if not expr:
                problems.append(f"{path}: panel '{panel.get('title')}' target {target.get('refId')} has no expr")
                continue
            exprs += 1
            check_expr(f"{path}: panel '{panel.get('title')}'", expr, allowed, problems)
    for var in dashboard.get("templating", {}).get("list", []):
        if var.get("type") != "query":
            continue
        query = var["query"]["query"] if isinstance(var.get("query"), dict) else var.get("query", "")
        inner = re.fullmatch(r"label_values\((.*),\s*[A-Za-z_][A-Za-z0-9_]*\)", query.strip())
        if not inner:
            problems.append(f"{path}: variable '{var.get('name')}' query is not label_values(...): {query}")
            continue
        exprs += 1
        check_expr(f"{path}: variable '{var.get('name')}'", inner.group(1), allowed, problems)
    return exprs


def check_rules(path: Path, allowed: set[str], problems: list[str]) -> int:
    exprs = 0
    for group in yaml.safe_load(path.read_text())["groups"]:
        for rule in group["rules"]:
            exprs += 1
            check_expr(
                f"{path}: {rule.get('alert') or rule.get('record')}", rule["expr"], allowed, problems, PROMETHEUS_SERIES
            )
    return exprs


def check_runbook(rules: Path, runbook: Path, problems: list[str]) -> int:
    """Every alert has severity, summary, description and a runbook_url whose anchor is a runbook heading."""
    headings = {
        re.sub(r"[^a-z0-9 _-]", "", line.lstrip("#").strip().lower()).replace(" ", "-")
        for line in runbook.read_text().splitlines()
        if line.startswith("## ")
    }
    alerts = 0
    for group in yaml.safe_load(rules.read_text())["groups"]:
        for rule in group["rules"]:
            if "alert" not in rule:
                continue
            alerts += 1
            name = rule["alert"]
            if rule.get("labels", {}).get("severity") not in ("critical", "warning", "info"):
                problems.append(f"{rules}: {name}: severity label missing or not critical/warning/info")
            annotations = rule.get("annotations", {})
            for key in ("summary", "description", "runbook_url"):
                if not annotations.get(key):
                    problems.append(f"{rules}: {name}: annotation {key} missing")
            url = annotations.get("runbook_url", "")
            if not url.endswith(f"/docs/runbook.md#{name.lower()}"):
                problems.append(f"{rules}: {name}: runbook_url {url} does not end in /docs/runbook.md#{name.lower()}")
            if name.lower() not in headings:
                problems.append(f"{runbook}: no '## {name}' section")
    return alerts


def main(argv):
    metrics_md = Path(argv[0])
    allowed = contract(metrics_md)
    if len(allowed) < 20:
        print(f"{metrics_md}: only {len(allowed)} metric names found; the table format changed?")
        return 1
    problems: list[str] = []
    counts = []
    rules_file = None
    args = argv[1:]
    while args:
        flag, target = args[0], Path(args[1])
        args = args[2:]
        if flag == "--dashboard":
            counts.append(f"{check_dashboard(target, allowed, problems)} dashboard queries")
        elif flag == "--rules":
            counts.append(f"{check_rules(target, allowed, problems)} rule expressions")
            rules_file = target
        elif flag == "--runbook":
            counts.append(f"{check_runbook(rules_file, target, problems)} alerts against the runbook")
        else:
            print(f"unknown argument {flag}")
            return 2
    for problem in problems:
        print(problem)
    print(f"metric references: {', '.join(counts)} checked against {len(allowed)} contract names, "
          f"{len(problems)} problems")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
