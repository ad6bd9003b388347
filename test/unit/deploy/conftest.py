"""Shared helpers of the deployment tests (pytest, run by `make k8s-test` / `make docker-test`
with the tools scripts/k8s-tools.sh installs into .cache/tools)."""
from __future__ import annotations

import copy
import functools
import os
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[3]
TOOLS = Path(os.environ.get("TOOLS_DIR", ROOT / ".cache" / "tools"))
BIN = TOOLS / "bin"
CHART = ROOT / "charts" / "event-search"
# The chart's minimum Kubernetes (Chart.yaml kubeVersion) and the newest kubernetes-validate ships.
K8S_VERSIONS = ("1.27.0", "1.37.0")
RELEASE = "event-search"

# Every values set the chart is rendered with: defaults, development, every optional feature.
VALUES_SETS = {
    "default": [],
    "dev": [CHART / "values-dev.yaml"],
    **{p.stem: [p] for p in sorted((CHART / "ci").glob("*.yaml"))},
}


def run(*args: str | Path, check: bool = True, **kwargs) -> subprocess.CompletedProcess[str]:
    result = subprocess.run([str(a) for a in args], capture_output=True, text=True, cwd=ROOT, **kwargs)
    if check and result.returncode != 0:
        pytest.fail(f"{' '.join(map(str, args))} exited {result.returncode}:\n{result.stdout}\n{result.stderr}")
    return result


def tool(name: str) -> Path:
    path = BIN / name
    if not path.exists():
        pytest.fail(f"{path} is missing: run `make deploy-tools` (bash scripts/k8s-tools.sh)")
    return path


def helm_template_text(values_files=(), set_values=(), kube_version=K8S_VERSIONS[-1], check=True):
    args = ["template", RELEASE, CHART, "--namespace", "search", "--kube-version", kube_version]
    for f in values_files:
        args += ["-f", f]
    for s in set_values:
        args += ["--set", s]
    return run(tool("helm"), *args, check=check)


@functools.lru_cache(maxsize=None)
def _render(values_files: tuple, set_values: tuple, kube_version: str) -> tuple:
    text = helm_template_text(values_files, set_values, kube_version).stdout
    return tuple(d for d in yaml.safe_load_all(text) if d)


def render(values_files=(), set_values=(), kube_version=K8S_VERSIONS[-1]) -> list[dict]:
    """The chart's objects for these values (rendered once, a fresh copy for each caller)."""
    return copy.deepcopy(list(_render(tuple(map(str, values_files)), tuple(set_values), kube_version)))


def only(objects: list[dict], kind: str, component: str | None = None) -> dict:
    found = [o for o in objects if o["kind"] == kind and (
        component is None or o["metadata"].get("labels", {}).get("app.kubernetes.io/component") == component)]
    assert len(found) == 1, f"expected one {kind} {component or ''}, found {len(found)}"
    return found[0]


def pod_specs(objects: list[dict]):
    """(object, pod spec) of every workload among objects."""
    for o in objects:
        kind = o["kind"]
        if kind in ("Deployment", "StatefulSet", "DaemonSet", "Job", "ReplicaSet"):
            yield o, o["spec"]["template"]["spec"]
        elif kind == "CronJob":
            yield o, o["spec"]["jobTemplate"]["spec"]["template"]["spec"]
        elif kind == "Pod":
            yield o, o["spec"]


def load_yaml_docs(path: Path) -> list[dict]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d]
