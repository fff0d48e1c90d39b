"""Checks that every value in a chart's values.yaml is documented with a helm-docs `# --` comment.

A key is documented when the comment block right above it starts with `# --`, or when one of its parents is
(helm-docs then documents the whole subtree, e.g. `podSecurityContext`). Parents that only group documented
keys (`image:`) need no comment of their own. Usage: python3 check_values_docs.py values.yaml
"""

import re
import sys

KEY = re.compile(r"^(\s*)([A-Za-z_][A-Za-z0-9_]*):(.*)$")


def main(path):
    lines = open(path).read().splitlines()
    problems, stack, checked = [], [], 0  # stack: (indent, documented)
    for i, line in enumerate(lines):
        match = KEY.match(line)
        if not match:
            continue
        indent, key, rest = len(match.group(1)), match.group(2), match.group(3).strip()
        while stack and stack[-1][0] >= indent:
            stack.pop()
        if any(documented for _, documented in stack):
            stack.append((indent, True))
            continue
        # The comment block directly above the key.
        j, block = i - 1, []
        while j >= 0 and lines[j].strip().startswith("#"):
            block.insert(0, lines[j].strip())
            j -= 1
        documented = bool(block) and block[0].startswith("# --")
        following = next((l for l in lines[i + 1:] if l.strip() and not l.strip().startswith("#")), "")
        child = KEY.match(following)
        is_parent = rest in ("", ) and child is not None and len(child.group(1)) > indent
        if not documented and not is_parent:
            problems.append(f"{path}:{i + 1}: '{key}' has no '# --' comment")
        checked += 1
        stack.append((indent, documented))
    for problem in problems:
        print(problem)
    print(f"values docs: {checked} keys checked, {len(problems)} undocumented")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
