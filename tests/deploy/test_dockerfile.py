"""The Dockerfile: multi-stage, locked release build, minimal non-root runtime."""

from __future__ import annotations

import re

from deploy_helpers import ROOT

DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"


def _instructions() -> list[tuple[str, str]]:
    text = DOCKERFILE.read_text(encoding="utf-8")
    text = re.sub(r"\\\n", " ", text)
    out = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        word, _, rest = line.partition(" ")
        out.append((word.upper(), rest.strip()))
    return out


def test_multi_stage_with_locked_release_build():
    ins = _instructions()
    froms = [rest for word, rest in ins if word == "FROM"]
    assert len(froms) == 2 and froms[0].endswith(" AS build")
    runs = " ".join(rest for word, rest in ins if word == "RUN")
    assert "cargo build --release --locked" in runs
    assert "k8sless" in runs


def test_runtime_is_minimal_and_non_root():
    ins = _instructions()
    last_from = max(i for i, (word, _) in enumerate(ins) if word == "FROM")
    runtime = ins[last_from:]
    assert runtime[0][1].startswith(("gcr.io/distroless/static", "scratch"))
    users = [rest for word, rest in runtime if word == "USER"]
    assert users and users[-1].split(":")[0] not in ("0", "root")
    assert ("ENTRYPOINT", '["/k8sless"]') in runtime
    assert ("CMD", '["serve"]') in runtime
    assert not any(word == "RUN" for word, _ in runtime), "no shell in the runtime image"


def test_dockerignore_keeps_the_context_small():
    lines = DOCKERIGNORE.read_text(encoding="utf-8").splitlines()
    ignored = {line.strip() for line in lines if line.strip() and not line.startswith("#")}
    assert {".git", "target", ".venv", "terraform"} <= ignored
    for needed in ("Cargo.toml", "Cargo.lock", "src"):
        assert needed not in ignored


def test_the_binary_is_static_by_statement_and_check():
    ins = _instructions()
    envs = " ".join(rest for word, rest in ins if word == "ENV")
    assert "target-feature=+crt-static" in envs
    runs = " ".join(rest for word, rest in ins if word == "RUN")
    assert "program interpreter" in runs, "the build fails on a dynamically linked binary"
