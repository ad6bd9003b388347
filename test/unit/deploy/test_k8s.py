"""k8s/ (what `skaffold dev` deploys besides the chart) and skaffold.yaml, validated offline."""
from __future__ import annotations

import json
import re
from pathlib import Path
from urllib.parse import urlparse

import pytest
import yaml

from conftest import CHART, K8S_VERSIONS, RELEASE, ROOT, load_yaml_docs, pod_specs, render
from test_chart import kubeconform

MANIFESTS = sorted((ROOT / "k8s").glob("*.yaml"))
SKAFFOLD = ROOT / "skaffold.yaml"


def skaffold_configs() -> list[dict]:
    return load_yaml_docs(SKAFFOLD)


@pytest.mark.parametrize("kube_version", K8S_VERSIONS)
@pytest.mark.parametrize("manifest", MANIFESTS, ids=lambda p: p.name)
def test_manifests_are_valid_kubernetes(manifest, kube_version):
    report = kubeconform(manifest, kube_version)
    assert report["summary"]["valid"] == len(load_yaml_docs(manifest)) > 0, report["summary"]


def test_dev_pods_are_locked_down():
    for manifest in MANIFESTS:
        for obj, spec in pod_specs(load_yaml_docs(manifest)):
            where = f"{manifest.name}: {obj['kind']} {obj['metadata']['name']}"
            assert spec["securityContext"]["runAsNonRoot"] is True, where
            assert spec["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}, where
            assert spec["automountServiceAccountToken"] is False, where
            for container in spec["containers"]:
                sc = container["securityContext"]
                assert sc["allowPrivilegeEscalation"] is False and sc["capabilities"]["drop"] == ["ALL"], where
                assert container["resources"]["requests"], where


def services(manifests) -> dict[str, dict]:
    return {o["metadata"]["name"]: o for m in manifests for o in load_yaml_docs(m) if o["kind"] == "Service"}


def test_dev_values_point_at_the_dev_dependencies():
    values = yaml.safe_load((CHART / "values-dev.yaml").read_text())
    svc = services(MANIFESTS)
    for url in (values["elasticsearch"]["url"], values["ingester"]["provider"]["url"]):
        parsed = urlparse(url)
        assert parsed.hostname in svc, f"{url}: no Service {parsed.hostname} in k8s/"
        assert parsed.port in [p["port"] for p in svc[parsed.hostname]["spec"]["ports"]], url
    # The chart's defaults are the same development endpoints (elasticsearch.url is empty by
    # default so an existing Secret's URL wins; without one, the chart falls back to this URL).
    defaults = yaml.safe_load((CHART / "values.yaml").read_text())
    assert defaults["elasticsearch"]["url"] == ""
    assert values["elasticsearch"]["url"] in (CHART / "templates" / "_helpers.tpl").read_text()
    assert defaults["ingester"]["provider"]["url"] == values["ingester"]["provider"]["url"]


def test_provider_simulator_listens_where_its_service_points():
    docs = load_yaml_docs(ROOT / "k8s" / "provider-sim.yaml")
    (deployment, spec), = pod_specs(docs)
    container = spec["containers"][0]
    assert container["command"] == ["node", "dist/main/provider-sim.js"]
    assert (ROOT / "dist" / "main" / "provider-sim.js").is_file() and (ROOT / "src" / "main" / "provider-sim.ts").is_file()
    env = {e["name"]: e["value"] for e in container["env"]}
    assert env["HOST"] == "0.0.0.0", "the simulator listens on 127.0.0.1 by default (src/config.ts)"
    port = next(p for p in container["ports"] if p["name"] == "http")
    assert int(env["PORT"]) == port["containerPort"]
    service = services([ROOT / "k8s" / "provider-sim.yaml"])["provider-sim"]
    assert service["spec"]["selector"].items() <= deployment["spec"]["template"]["metadata"]["labels"].items()
    assert service["spec"]["ports"][0]["targetPort"] == "http"


def test_skaffold_yaml_parses_and_every_path_it_names_exists():
    configs = skaffold_configs()
    assert [c["apiVersion"] for c in configs] == ["skaffold/v4beta11"] * len(configs)
    names = [c["metadata"]["name"] for c in configs]
    paths: list[str] = []
    for config in configs:
        assert config["kind"] == "Config"
        for required in config.get("requires", []):
            assert set(required["configs"]) <= set(names[: names.index(config["metadata"]["name"])]), \
                "a required config is defined before the config requiring it"
        for artifact in config.get("build", {}).get("artifacts", []):
            paths.append(artifact.get("context", "."))
            paths.append(str(Path(artifact.get("context", ".")) / artifact["docker"]["dockerfile"]))
        paths += config.get("manifests", {}).get("rawYaml", [])
        for release in config.get("deploy", {}).get("helm", {}).get("releases", []):
            paths.append(release["chartPath"])
            paths += release.get("valuesFiles", [])
    assert len(paths) >= 6
    missing = [p for p in paths if not (ROOT / p).exists()]
    assert missing == [], f"skaffold.yaml names missing paths: {missing}"
    # Every manifest in k8s/ is deployed (the prometheus-adapter values are an example, not a manifest).
    raw = {p for c in configs for p in c.get("manifests", {}).get("rawYaml", [])}
    assert raw == {str(m.relative_to(ROOT)) for m in MANIFESTS}


def test_skaffold_builds_the_image_the_manifests_use():
    configs = skaffold_configs()
    images = {a["image"] for c in configs for a in c.get("build", {}).get("artifacts", [])}
    assert images == {"event-search"}
    sim = next(spec for _, spec in pod_specs(load_yaml_docs(ROOT / "k8s" / "provider-sim.yaml")))
    assert sim["containers"][0]["image"] in images
    release = next(r for c in configs for r in c.get("deploy", {}).get("helm", {}).get("releases", []))
    assert release["name"] == RELEASE
    assert release["setValueTemplates"] == {"image.repository": "{{.IMAGE_REPO_event_search}}",
                                            "image.tag": "{{.IMAGE_TAG_event_search}}"}


def test_skaffold_port_forwards_existing_services():
    chart_services = {o["metadata"]["name"]: o for o in render([CHART / "values-dev.yaml"]) if o["kind"] == "Service"}
    dev_services = services(MANIFESTS)
    forwards = [f for c in skaffold_configs() for f in c.get("portForward", [])]
    assert {f["localPort"] for f in forwards} >= {3000}
    for forward in forwards:
        assert forward["resourceType"] == "service"
        service = chart_services.get(forward["resourceName"]) or dev_services.get(forward["resourceName"])
        assert service, f"port-forward to unknown Service {forward['resourceName']}"
        assert forward["port"] in [p["port"] for p in service["spec"]["ports"]]


def test_prometheus_operator_profile_turns_on_the_operator_objects():
    configs = skaffold_configs()
    config = next(c for c in configs if c.get("deploy", {}).get("helm"))
    profile = next(p for p in config["profiles"] if p["name"] == "prometheus-operator")
    release = config["deploy"]["helm"]["releases"][0]
    set_values = dict(release["setValues"])
    for patch in profile["patches"]:
        parts = patch["path"].strip("/").split("/")
        assert parts[:5] == ["deploy", "helm", "releases", "0", "setValues"] and patch["op"] == "add"
        set_values[parts[5]] = patch["value"]
    objects = render([CHART / "values-dev.yaml"], [f"{k}={str(v).lower()}" for k, v in set_values.items()
                                                   if k.startswith("metrics.")])
    operator_objects = [o for o in objects if o["kind"] in ("ServiceMonitor", "PrometheusRule")]
    assert sorted(o["kind"] for o in operator_objects) == ["PrometheusRule", "ServiceMonitor"]
    # kube-prometheus-stack's default selectors want its release name as the `release` label.
    assert all(o["metadata"]["labels"]["release"] == "kube-prometheus-stack" for o in operator_objects)


def test_dev_sync_profile_syncs_dist_into_a_restarting_api():
    config = next(c for c in skaffold_configs() if c.get("deploy", {}).get("helm"))
    profile = next(p for p in config["profiles"] if p["name"] == "dev-sync")
    patches = {p["path"]: p for p in profile["patches"]}
    dockerfile = patches["/build/artifacts/0/docker/dockerfile"]["value"]
    assert (ROOT / dockerfile).is_file()
    (rule,) = patches["/build/artifacts/0/sync"]["value"]["manual"]
    assert rule == {"src": "dist/**/*.js", "dest": "/app"}
    # The dev image holds the local dist/ (a dependency of the artifact, so skaffold syncs it),
    # writable by the user the pod runs as; its build context admits dist/.
    text = (ROOT / dockerfile).read_text()
    assert "COPY --chown=1000:1000 dist ./dist" in text and "USER 1000:1000" in text
    image = re.compile(r"^ARG NODE_IMAGE=(\S+)$", re.M)
    assert image.search(text).group(1) == image.search((ROOT / "Dockerfile").read_text()).group(1), \
        "the dev image runs the same Node.js as the production image"
    ignore = (ROOT / f"{dockerfile}.dockerignore").read_text().splitlines()
    assert "!dist/" in ignore and "*" in ignore
    # The API restarts when a synced file changes; the root filesystem lets the sync write.
    values_file = patches["/deploy/helm/releases/0/valuesFiles/-"]["value"]
    objects = render([CHART / "values-dev.yaml", ROOT / values_file])
    api = next(o for o in objects if o["kind"] == "Deployment")
    container = api["spec"]["template"]["spec"]["containers"][0]
    assert container["command"][:2] == ["node", "--watch-path=dist"]
    assert container["command"][-1] == "dist/main/api.js"
    assert container["securityContext"]["readOnlyRootFilesystem"] is False
    # The workflow is a package script.
    assert "build:watch" in json.loads((ROOT / "package.json").read_text())["scripts"]
