"""Generates the values table of charts/tagdrift/README.md from the `# --` comments of values.yaml (the
helm-docs convention), or checks that the README's table is current.

A key with a `# --` comment block directly above it is one row: its dotted path, its type and default (from
the parsed values.yaml) and the comment as its description. The keys under a documented key are part of its
default, as with helm-docs. The table sits between the README's `<!-- values-table:start -->` and
`<!-- values-table:end -->` lines.

Usage: python3 values_table.py VALUES README (--check | --write)
"""

import json
import re
import sys
from pathlib import Path

import yaml

KEY = re.compile(r"^(\s*)([A-Za-z_][A-Za-z0-9_]*):")
START, END = "<!-- values-table:start -->", "<!-- values-table:end -->"


def rows(text: str):
    values = yaml.safe_load(text)
    lines = text.splitlines()
    stack, documented_indent = [], None  # stack: (indent, key)
    for i, line in enumerate(lines):
        match = KEY.match(line)
        if not match:
            continue
        indent, key = len(match.group(1)), match.group(2)
        if documented_indent is not None and indent > documented_indent:
            continue  # inside a documented key: its default shows it
        documented_indent = None
        while stack and stack[-1][0] >= indent:
            stack.pop()
        stack.append((indent, key))
        j, block = i - 1, []
        while j >= 0 and lines[j].strip().startswith("#"):
            block.insert(0, lines[j].strip().lstrip("#").strip())
            j -= 1
        if not block or not lines[j + 1].strip().startswith("# --"):
            continue
        block[0] = block[0][len("--"):].strip()
        path = [k for _, k in stack]
        value = values
        for k in path:
            value = value[k]
        documented_indent = indent
        yield ".".join(path), type_name(value), value, " ".join(b for b in block if b)


def type_name(value) -> str:
    return {bool: "bool", int: "int", float: "float", str: "string", list: "list", dict: "object"}.get(
        type(value), "string")


def table(text: str) -> str:
    out = ["| Key | Type | Default | Description |", "|-----|------|---------|-------------|"]
    for key, kind, value, description in rows(text):
        default = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
        # A pipe would end the cell, even inside backticks.
        default, description = default.replace("|", "\\|"), description.replace("|", "\\|")
        out.append(f"| `{key}` | {kind} | `{default}` | {description} |")
    return "\n".join(out)


def main(argv):
    values, readme, mode = Path(argv[0]), Path(argv[1]), argv[2]
    current = readme.read_text()
    if START not in current or END not in current:
        print(f"{readme}: no {START} ... {END} block")
        return 1
    head, rest = current.split(START, 1)
    _, tail = rest.split(END, 1)
    wanted = f"{head}{START}\n{table(values.read_text())}\n{END}{tail}"
    if mode == "--write":
        readme.write_text(wanted)
        print(f"{readme}: values table written")
        return 0
    if wanted != current:
        print(f"{readme}: the values table is not current; run `python3 .ci/values_table.py {values} {readme} --write`")
        return 1
    print(f"{readme}: values table current ({len(list(rows(values.read_text())))} values)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
