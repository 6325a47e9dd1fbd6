"""cloudbuild.yaml parses, defines every substitution it uses, and deploys by digest."""

from __future__ import annotations

import re


from deploy_helpers import ROOT

import yaml  # noqa: E402  (deploy_helpers checks that it is installed)

BUILD = ROOT / "cloudbuild.yaml"

# Substitutions Cloud Build defines itself.
BUILT_IN = {
    "PROJECT_ID",
    "PROJECT_NUMBER",
    "BUILD_ID",
    "LOCATION",
    "TRIGGER_NAME",
    "COMMIT_SHA",
    "SHORT_SHA",
    "REVISION_ID",
    "REPO_NAME",
    "REPO_FULL_NAME",
    "BRANCH_NAME",
    "TAG_NAME",
    "REF_NAME",
    "TRIGGER_BUILD_CONFIG_PATH",
    "SERVICE_ACCOUNT_EMAIL",
    "SERVICE_ACCOUNT",
}

# $NAME or ${NAME}, but not $$ (a literal dollar for the shell).
USE = re.compile(r"(?<!\$)(?:\$\$)*\$(?:\{([A-Za-z_][A-Za-z0-9_]*)\}|([A-Za-z_][A-Za-z0-9_]*))")


def _config() -> dict:
    return yaml.safe_load(BUILD.read_text(encoding="utf-8"))


def _strings(node):
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict):
        for k, v in node.items():
            if k != "substitutions":
                yield from _strings(v)
    elif isinstance(node, list):
        for v in node:
            yield from _strings(v)


def used_substitutions(config: dict) -> set[str]:
    used = set()
    for s in _strings(config):
        for m in USE.finditer(s):
            used.add(m.group(1) or m.group(2))
    return used


def test_parses():
    config = _config()
    assert isinstance(config, dict) and config["steps"]


def test_every_substitution_used_is_defined_and_every_defined_one_is_used():
    config = _config()
    defined = set(config.get("substitutions", {}))
    used = used_substitutions(config)
    assert all(name.startswith("_") for name in defined), "user substitutions start with _"
    assert used - BUILT_IN <= defined, f"undefined: {used - BUILT_IN - defined}"
    # Cloud Build rejects a build whose defined substitutions are unused (unless ALLOW_LOOSE).
    assert defined <= used, f"defined but unused: {defined - used}"
    assert {"_REGION", "_REPOSITORY", "_SERVICE"} <= defined


def test_substitution_pattern_skips_shell_dollars():
    assert used_substitutions({"steps": ['x="$$(cat f)" "$$ref" ${_A} $PROJECT_ID']}) == {"_A", "PROJECT_ID"}


def test_steps_test_build_push_deploy_by_digest():
    steps = {s["id"]: s for s in _config()["steps"]}
    assert list(steps) == ["test", "build", "push", "deploy"]
    assert "cargo test --locked" in " ".join(steps["test"]["args"])
    assert "build" in steps["build"]["args"]
    assert set(steps["push"]["waitFor"]) == {"test", "build"}, "nothing is pushed unless tests pass"
    push = " ".join(steps["push"]["args"])
    assert "docker push" in push and "RepoDigests" in push
    deploy = " ".join(steps["deploy"]["args"])
    assert "gcloud run deploy" in deploy and "@sha256:" in deploy
    image = "${_REGION}-docker.pkg.dev/${PROJECT_ID}/${_REPOSITORY}/"
    assert image in " ".join(steps["build"]["args"]) and image in push


def test_logs_go_to_cloud_logging():
    # Required when the build runs as a user-specified service account.
    assert _config()["options"]["logging"] == "CLOUD_LOGGING_ONLY"


def test_builder_images_are_pinned():
    """No step runs an image by a moving tag (`latest`, `slim`, none): a builder that
    changes under the build changes what is deployed."""
    config = _config()
    subs = config["substitutions"]
    for step in config["steps"]:
        name = step["name"]
        for key, value in subs.items():
            name = name.replace("${" + key + "}", str(value))
        repo, _, tag = name.rpartition(":") if "@" not in name else (name, "", "digest")
        assert repo and tag, f"{step['id']}: {name} has no tag"
        assert tag not in ("latest", "slim", "alpine", "stable"), f"{step['id']}: {name}"
        assert any(c.isdigit() for c in tag), f"{step['id']}: {name} is not pinned to a version"


def test_deploy_moves_traffic_to_the_new_revision():
    """After a rollback (`update-traffic --to-revisions`), `gcloud run deploy` leaves new
    revisions at 0 %; the deploy step sends traffic to the latest revision again."""
    deploy = " ".join(next(s for s in _config()["steps"] if s["id"] == "deploy")["args"])
    assert "gcloud run services update-traffic" in deploy and "--to-latest" in deploy
    assert deploy.index("gcloud run deploy") < deploy.index("--to-latest")
