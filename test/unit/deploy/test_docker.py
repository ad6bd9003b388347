"""The Dockerfile and docker-compose.yml, validated without a Docker engine: hadolint, a parser of
the Dockerfile (dockerfile-parse), the Docker SDK's .dockerignore matcher, and compose-go (the
library `docker compose` uses) through scripts/deploy-check."""
from __future__ import annotations

import json
import re
from pathlib import Path
from urllib.parse import urlparse

import pytest
import yaml
from docker.utils.build import exclude_paths
from dockerfile_parse import DockerfileParser

from conftest import ROOT, TOOLS, run, tool

DOCKERFILE = ROOT / "Dockerfile"
API_COMMAND = ["node", "--import", "./dist/observability/register.js", "dist/main/api.js"]


def stages() -> list[list[dict]]:
    """The Dockerfile's instructions, grouped by stage (ARGs before the first FROM dropped)."""
    parser = DockerfileParser(path=str(DOCKERFILE))
    result: list[list[dict]] = []
    for instruction in parser.structure:
        if instruction["instruction"] == "FROM":
            result.append([])
        if result:
            result[-1].append(instruction)
    return result


def args_of(stage, name: str) -> list[str]:
    return [i["value"] for i in stage if i["instruction"] == name]


def compose_model() -> dict:
    return json.loads(run(tool("deploy-check"), "compose-json", ROOT / "docker-compose.yml").stdout)


@pytest.mark.parametrize("dockerfile", [DOCKERFILE, ROOT / "Dockerfile.dev"], ids=lambda p: p.name)
def test_hadolint_passes(dockerfile):
    hadolint = TOOLS / "venv" / "bin" / "hadolint"
    assert hadolint.exists(), "run `make deploy-tools`"
    result = run(hadolint, "--no-color", dockerfile, check=False)
    assert result.returncode == 0 and result.stdout == "", result.stdout + result.stderr


def test_base_image_is_pinned_and_every_stage_uses_it():
    parser = DockerfileParser(path=str(DOCKERFILE))
    assert parser.baseimage is not None
    default = re.search(r"^ARG NODE_IMAGE=(\S+)$", DOCKERFILE.read_text(), re.M).group(1)
    # The image runs the exact Node.js that make test and make run use (.node-version).
    node_version = (ROOT / ".node-version").read_text().strip()
    assert default == f"node:{node_version}-bookworm-slim"
    for stage in stages():
        assert args_of(stage, "FROM")[0].split()[0] == "${NODE_IMAGE}"


def test_build_and_runtime_stages():
    build, prod_deps, runtime = stages()
    assert "npm ci --no-audit --no-fund" in args_of(build, "RUN")
    # The build, then the ingester's compile cache over what it built (ADR 0016), in one layer.
    assert "npm run build && node dist/main/compile-cache.js" in args_of(build, "RUN")
    assert any(r.startswith("npm ci --omit=dev") for r in args_of(prod_deps, "RUN"))
    # The final stage installs nothing and runs no npm; it copies production node_modules only.
    assert args_of(runtime, "RUN") == []
    copies = args_of(runtime, "COPY")
    assert "--from=prod-deps /app/node_modules ./node_modules" in copies
    assert "--from=build /app/dist ./dist" in copies
    assert not any("--from=build /app/node_modules" in c for c in copies)
    # The ingester's compile cache is copied from the build stage.
    assert "--from=build /app/.cache/node-compile-cache ./.cache/node-compile-cache" in copies


def test_runtime_runs_node_as_pid_1_as_a_non_root_user():
    runtime = stages()[-1]
    user = args_of(runtime, "USER")[-1]
    assert user.split(":")[0] not in ("0", "root")
    env = " ".join(args_of(runtime, "ENV"))
    assert "NODE_ENV=production" in env
    cmd = json.loads(args_of(runtime, "CMD")[-1])  # exec form: JSON array, no shell
    assert cmd == API_COMMAND
    assert not args_of(runtime, "ENTRYPOINT"), "no wrapper between PID 1 and node"
    healthcheck = args_of(runtime, "HEALTHCHECK")[-1]
    probe = json.loads(healthcheck[healthcheck.index("CMD") + 3:].strip())
    assert probe[0] == "node" and "/healthz" in probe[-1], "curl is not in the slim image"


def test_every_copied_path_exists_and_is_in_the_build_context():
    context = exclude_paths(str(ROOT), (ROOT / ".dockerignore").read_text().splitlines())
    sources = []
    for stage in stages():
        for value in args_of(stage, "COPY"):
            if value.startswith("--from="):
                continue
            sources += value.split()[:-1]
    assert {"package.json", "package-lock.json", "src", "openapi.yaml", "test/fixtures"} <= set(sources)
    for source in sources:
        assert (ROOT / source).exists(), f"COPY {source}: missing"
        assert source in context, f"COPY {source}: excluded by .dockerignore"
    # Nothing bulky or secret is sent to the builder.
    for excluded in (".cache", "node_modules", "dist", ".git", "test/unit", "charts"):
        assert excluded not in context


def test_image_holds_what_the_processes_read_at_run_time():
    runtime_sources = " ".join(args_of(stages()[-1], "COPY"))
    # dist/api/docs-page.js reads ../../openapi.yaml; dist/sim/service.js reads ../../test/fixtures/.
    app = (ROOT / "src" / "api" / "docs-page.ts").read_text()
    sim = (ROOT / "src" / "sim" / "service.ts").read_text()
    assert "'../../openapi.yaml'" in app and "openapi.yaml" in runtime_sources
    assert "'../../test/fixtures/'" in sim and "test/fixtures ./test/fixtures" in runtime_sources


def test_compose_file_is_valid_for_compose():
    result = run(tool("deploy-check"), "compose", ROOT / "docker-compose.yml")
    assert "valid (9 services)" in result.stdout


@pytest.mark.parametrize("change, message", [
    (("condition: service_healthy", "condition: service_happy"), "depends_on.elasticsearch.condition value must be one of"),
    (("      provider-sim:\n        condition: service_started", "      provider-simulator:\n        condition: service_started"),
     'depends on undefined service "provider-simulator"'),
    (("- '127.0.0.1:9091:9091'", "- '127.0.0.1:ninety:9091'"), "ninety"),
])
def test_compose_refuses_what_compose_would_refuse(change, message):
    text = (ROOT / "docker-compose.yml").read_text()
    assert change[0] in text
    broken = ROOT / ".cache" / "docker-compose.broken.yml"
    broken.write_text(text.replace(change[0], change[1], 1))
    try:
        result = run(tool("deploy-check"), "compose", broken, check=False)
    finally:
        broken.unlink()
    assert result.returncode != 0 and message in result.stderr, result.stderr


def test_compose_services_wire_together():
    services = compose_model()["services"]
    assert set(services) == {"elasticsearch", "bootstrap", "api", "ingester", "provider-sim", "prometheus",
                             "pushgateway", "grafana", "jaeger"}
    es = services["elasticsearch"]
    assert es["image"] == "docker.elastic.co/elasticsearch/elasticsearch:9.2.8"
    assert es["environment"]["discovery.type"] == "single-node"
    assert es["environment"]["xpack.security.enabled"] == "false"
    assert "/_cluster/health" in " ".join(es["healthcheck"]["test"])
    assert services["bootstrap"]["depends_on"]["elasticsearch"]["condition"] == "service_healthy"
    for name in ("api", "ingester"):
        assert services[name]["depends_on"]["bootstrap"]["condition"] == "service_completed_successfully"
    assert services["api"]["command"] == API_COMMAND
    ingester = services["ingester"]
    assert ingester["command"][-1] == "dist/main/ingest-scheduler.js"
    assert ingester["environment"]["INGEST_INTERVAL"] == "60"
    feed = urlparse(ingester["environment"]["PROVIDER_URL"])
    sim = services["provider-sim"]
    assert feed.hostname == "provider-sim" and str(feed.port) == sim["environment"]["PORT"]
    assert sim["environment"]["HOST"] == "0.0.0.0"
    assert urlparse(ingester["environment"]["PUSHGATEWAY_URL"]).hostname == "pushgateway"
    for name in ("api", "ingester"):
        assert urlparse(services[name]["environment"]["OTEL_EXPORTER_OTLP_ENDPOINT"]).hostname == "jaeger"
    assert services["jaeger"]["environment"]["COLLECTOR_OTLP_ENABLED"] == "true"
    # Every command the app services run is an entry point the build produces.
    for name in ("bootstrap", "api", "ingester", "provider-sim"):
        script = next(a for a in services[name]["command"] if a.startswith("dist/main/"))
        assert (ROOT / script).is_file() and (ROOT / "src" / script[len("dist/"):]).with_suffix(".ts").is_file()


def test_compose_publishes_ports_on_loopback_only():
    """Elasticsearch without security, anonymous Grafana: nothing is published to the network."""
    published = [(name, p) for name, svc in compose_model()["services"].items() for p in svc.get("ports", [])]
    assert any(name == "elasticsearch" for name, _ in published)
    assert [(name, p) for name, p in published if p.get("host_ip") != "127.0.0.1"] == []
    makefile = (ROOT / "mk" / "docker.mk").read_text()
    assert "up --build --wait" in makefile


def test_prometheus_scrapes_the_api_and_loads_the_alerts():
    services = compose_model()["services"]
    prom = services["prometheus"]
    mount = next(v for v in prom["volumes"] if v["target"] == "/etc/prometheus")
    config_dir = Path(mount["source"])
    config = yaml.safe_load((config_dir / "prometheus.yml").read_text())
    jobs = {j["job_name"]: j for j in config["scrape_configs"]}
    api = jobs["event-search-api"]
    assert api["metrics_path"] == "/metrics"
    host, port = api["static_configs"][0]["targets"][0].split(":")
    assert host == "api" and int(port) == services["api"]["ports"][0]["target"]
    assert jobs["pushgateway"]["honor_labels"] is True
    for rule_file in config["rule_files"]:
        rules = yaml.safe_load((config_dir / rule_file).read_text())
        assert rules["groups"], rule_file


def test_grafana_is_provisioned_with_the_dashboard_folder():
    grafana = compose_model()["services"]["grafana"]
    mounts = {v["target"]: Path(v["source"]) for v in grafana["volumes"]}
    provisioning = mounts["/etc/grafana/provisioning"]
    providers = yaml.safe_load((provisioning / "dashboards" / "event-search.yml").read_text())["providers"]
    folder_in_container = providers[0]["options"]["path"]
    dashboards = mounts[folder_in_container]
    assert dashboards == ROOT / "observability" / "grafana" / "dashboards"
    assert json.loads((dashboards / "event-search.json").read_text())["panels"]
    home = grafana["environment"]["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"]
    assert Path(home).parent == Path(folder_in_container) and (dashboards / Path(home).name).is_file()
    datasources = yaml.safe_load((provisioning / "datasources" / "prometheus.yml").read_text())["datasources"]
    prometheus = next(d for d in datasources if d["type"] == "prometheus")
    assert urlparse(prometheus["url"]).hostname == "prometheus" and prometheus["isDefault"] is True
