"""Shared helpers for the deployment checks (run by scripts/check-deploy).

The repository root is found from this file's location, so the tests run from any directory.
Terraform is parsed with python-hcl2; no terraform binary, network or cloud project is needed.
This is not a conftest.py, so that it cannot collide with another tests/ directory's conftest.

Run by scripts/check-deploy (which sets K8SLESS_CHECK_DEPLOY=1), a missing python-hcl2 or PyYAML
is an error; run by a wider pytest without them, these tests are skipped instead.
"""

from __future__ import annotations

import functools
import os
import re
from pathlib import Path

import pytest

if os.environ.get("K8SLESS_CHECK_DEPLOY"):
    import hcl2
    import yaml  # noqa: F401  (the tests import it themselves)
else:
    hcl2 = pytest.importorskip("hcl2")
    pytest.importorskip("yaml")
    if not hasattr(hcl2, "SerializationOptions"):  # e.g. checkov's bc-python-hcl2 fork
        pytest.skip("python-hcl2 >= 8 is needed", allow_module_level=True)

SerializationOptions = hcl2.SerializationOptions

ROOT = Path(__file__).resolve().parents[2]
TERRAFORM = ROOT / "terraform"
MODULE = TERRAFORM / "modules" / "k8sless"
EXAMPLE = TERRAFORM / "example"
DEPLOY_DOC = ROOT / "docs" / "deploy.md"
CONFIG_DOC = ROOT / "README.md"

_OPTIONS = SerializationOptions(strip_string_quotes=True, with_comments=False, explicit_blocks=False)


def tf_files(directory: Path = TERRAFORM) -> list[Path]:
    return sorted(p for p in directory.rglob("*.tf") if ".terraform" not in p.parts)


@functools.lru_cache(maxsize=None)
def parse(path: Path) -> dict:
    with path.open(encoding="utf-8") as f:
        return hcl2.load(f, serialization_options=_OPTIONS)


def resources(directory: Path = MODULE) -> dict[tuple[str, str], dict]:
    """{(type, name): body} of every resource in the .tf files of `directory` (recursively)."""
    found: dict[tuple[str, str], dict] = {}
    for path in tf_files(directory):
        for entry in parse(path).get("resource", []):
            for rtype, named in entry.items():
                for name, body in named.items():
                    assert (rtype, name) not in found, f"duplicate resource {rtype}.{name}"
                    found[(rtype, name)] = body
    return found


def blocks(directory: Path, kind: str) -> dict[str, dict]:
    """{name: body} of the top-level `variable`, `output` or `module` blocks of `directory`."""
    found: dict[str, dict] = {}
    for path in tf_files(directory):
        if path.parent != directory:
            continue
        for entry in parse(path).get(kind, []):
            found.update(entry)
    return found


def locals_of(directory: Path = MODULE) -> dict[str, object]:
    found: dict[str, object] = {}
    for path in tf_files(directory):
        for entry in parse(path).get("locals", []):
            found.update(entry)
    return found


def one(block):
    """A nested block as parsed (a one-element list) -> its body."""
    if isinstance(block, list):
        assert len(block) == 1, block
        return block[0]
    return block


def var_default(name: str, directory: Path = MODULE):
    return blocks(directory, "variable")[name].get("default")


def substitute_name(text: str) -> str:
    """Evaluate the module's name expressions with the default `name`."""
    name = var_default("name")
    return text.replace('${replace(var.name, "-", "_")}', name.replace("-", "_")).replace("${var.name}", name)


def markdown_section(text: str, heading: str) -> str:
    """The body of the markdown section whose heading line is `heading`, up to the next heading of
    the same or a higher level."""
    level = len(heading) - len(heading.lstrip("#"))
    lines = text.splitlines()
    try:
        start = lines.index(heading)
    except ValueError:
        pytest.fail(f"{heading!r} not found")
    out = []
    for line in lines[start + 1 :]:
        m = re.match(r"^(#+) ", line)
        if m and len(m.group(1)) <= level:
            break
        out.append(line)
    return "\n".join(out)


def markdown_table(section: str) -> list[list[str]]:
    """Rows (cells stripped) of the first markdown table in `section`, without header and rule."""
    rows = []
    for line in section.splitlines():
        if line.startswith("|"):
            rows.append([c.strip() for c in line.strip().strip("|").split("|")])
        elif rows:
            break
    assert len(rows) >= 2 and set(rows[1][0]) <= set("-: "), "no markdown table found"
    return rows[2:]
