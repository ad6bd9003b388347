"""The Helm chart, validated without a cluster: helm lint, strict schema validation of every rendered
object (kubeconform against the Kubernetes schemas of kubernetes-validate; the Prometheus Operator
objects against the operator's API types and CRD-generated validators), and assertions over the
rendered output."""
from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import yaml

from conftest import (CHART, K8S_VERSIONS, RELEASE, ROOT, TOOLS, VALUES_SETS, helm_template_text, only,
                      pod_specs, render, run, tool)

FULL = VALUES_SETS["full-values"]
EXTENSIONS = VALUES_SETS["extensions-values"]
CRD_KINDS = ("ServiceMonitor", "PrometheusRule")
# Gateway API objects: no schema in kubernetes-validate; the CRD validators check them.
SKIPPED_KINDS = (*CRD_KINDS, "HTTPRoute")
CHART_DASHBOARD = CHART / "files" / "event-search.json"
# The chart's own containers (the others come from values: sidecars, initContainers).
CHART_CONTAINERS = {"api", "ingester", "bootstrap", "search"}
WORKLOADS = (("Deployment", "api"), ("CronJob", "ingester"), ("Job", "bootstrap"))


# ---- lint and schemas --------------------------------------------------------------------------

@pytest.mark.parametrize("values", VALUES_SETS, ids=str)
def test_helm_lint_strict(values):
    args = ["lint", "--strict", CHART, "--kube-version", K8S_VERSIONS[-1]]
    for f in VALUES_SETS[values]:
        args += ["-f", f]
    result = run(tool("helm"), *args)
    # helm lint reports a template's `fail` as [INFO] and still succeeds: treat it as the error it is.
    problems = [l for l in result.stdout.splitlines() if "[ERROR]" in l or "[WARNING]" in l or "Fail:" in l]
    assert problems == [], result.stdout


def kubeconform(path: Path, kube_version: str) -> dict:
    schemas = TOOLS / "k8s-schemas" / "{{.NormalizedKubernetesVersion}}-standalone{{.StrictSuffix}}" / \
        "{{.ResourceKind}}{{.KindSuffix}}.json"
    result = run(tool("kubeconform"), "-strict", "-summary", "-output", "json", "-kubernetes-version", kube_version,
                 "-schema-location", schemas, "-skip", ",".join(SKIPPED_KINDS), path, check=False)
    report = json.loads(result.stdout)
    failures = [r for r in report["resources"] if r["status"] not in ("statusValid", "statusSkipped")]
    assert result.returncode == 0 and failures == [], json.dumps(failures, indent=1) + result.stderr
    return report


@pytest.mark.parametrize("kube_version", K8S_VERSIONS)
@pytest.mark.parametrize("values", VALUES_SETS, ids=str)
def test_every_rendered_object_is_valid_kubernetes(values, kube_version, tmp_path):
    rendered = tmp_path / "rendered.yaml"
    rendered.write_text(helm_template_text(VALUES_SETS[values], kube_version=kube_version).stdout)
    objects = render(VALUES_SETS[values], kube_version=kube_version)
    report = kubeconform(rendered, kube_version)
    summary = report["summary"]
    crds = [o for o in objects if o["kind"] in SKIPPED_KINDS]
    assert summary["valid"] == len(objects) - len(crds), summary
    # Only the operator's CRDs and the Gateway API route are skipped here; the validators generated
    # from their CRDs check them (test_operator_objects_match_their_crds).
    assert summary["skipped"] == len(crds), summary


@pytest.mark.parametrize("values", ["full-values", "extensions-values"])
def test_operator_objects_match_their_crds(values, tmp_path):
    rendered = tmp_path / "rendered.yaml"
    rendered.write_text(helm_template_text(VALUES_SETS[values]).stdout)
    kinds = sorted(o["kind"] for o in render(VALUES_SETS[values]) if o["kind"] in CRD_KINDS)
    assert kinds == sorted(CRD_KINDS)
    # Unknown fields and wrong types: the operator's Go API types, strictly.
    strict = run(tool("deploy-check"), "operator", rendered)
    assert strict.stdout.count(" valid") == 2, strict.stdout
    # Types, required fields, enums and patterns: validators generated from the CRD schemas (the
    # Gateway API's HTTPRoute too, when rendered).
    routes = [o for o in render(VALUES_SETS[values]) if o["kind"] == "HTTPRoute"]
    assert len(routes) == (values == "extensions-values")
    crd = run("node", ROOT / "scripts" / "k8s-crd-validate.mjs", rendered, env={**os.environ, "TOOLS_DIR": str(TOOLS)})
    assert crd.stdout.count(" valid") == 2 + len(routes), crd.stdout


def test_the_crd_validators_catch_mistakes(tmp_path):
    broken = tmp_path / "broken.yaml"
    objects = [o for o in render(FULL) if o["kind"] in CRD_KINDS]
    sm = next(o for o in objects if o["kind"] == "ServiceMonitor")
    sm["spec"]["endpoints"][0]["intervall"] = "15s"  # unknown field
    rule = next(o for o in objects if o["kind"] == "PrometheusRule")
    rule["spec"]["groups"][0]["rules"][0]["for"] = "five minutes"  # not a duration
    route = only(render(EXTENSIONS), "HTTPRoute")
    route["spec"]["rules"][0]["matches"][0]["path"]["type"] = "Glob"  # not an allowed match type
    objects.append(route)
    broken.write_text(yaml.safe_dump_all(objects))
    strict = run(tool("deploy-check"), "operator", broken, check=False)
    assert strict.returncode != 0 and 'unknown field "intervall"' in strict.stderr, strict.stderr
    crd = run("node", ROOT / "scripts" / "k8s-crd-validate.mjs", broken, check=False,
              env={**os.environ, "TOOLS_DIR": str(TOOLS)})
    assert crd.returncode != 0 and "PrometheusRule" in crd.stderr and "INVALID" in crd.stderr, crd.stderr
    assert "HTTPRoute" in crd.stderr and "INVALID" in crd.stderr, crd.stderr


@pytest.mark.parametrize("setting, message", [
    ("api.replicas=3", "additional properties 'replicas' not allowed"),
    ("api.autoscaling.minReplicas=0", "/api/autoscaling/minReplicas"),
    ("ingester.concurrencyPolicy=Sometimes", "/ingester/concurrencyPolicy"),
    ("elasticsearch.indexPrefix=Events", "/elasticsearch/indexPrefix"),
    ("ingester.provider.url=ftp://provider", "/ingester/provider/url"),
    ("api.autoscaling.minReplicas=9,api.autoscaling.maxReplicas=3", "minReplicas (9) exceeds maxReplicas (3)"),
    ("elasticsearch.api.existingSecret=es,elasticsearch.api.apiKey=k", "elasticsearch.api: set either existingSecret"),
    ("elasticsearch.ingester.username=u", "elasticsearch.ingester.username is set without"),
    ("elasticsearch.apiKey=k", "additional properties 'apiKey' not allowed"),
    ("metrics.runbookBaseUrl=docs/runbook.md", "/metrics/runbookBaseUrl"),
    ("metrics.alerts.dataStale.for=soon", "/metrics/alerts/dataStale/for"),
    ("httpRoute.enabled=true", "httpRoute.parentRefs is required"),
    ("api.terminationGracePeriodSeconds=15", "must exceed api.preStopSleepSeconds + api.shutdownTimeoutSeconds"),
    ("api.podDisruptionBudget.minAvailable=1", "set either minAvailable or maxUnavailable"),
    ("otel.enabled=true", "otel.endpoint is required"),
])
def test_bad_values_are_refused_with_a_precise_message(setting, message):
    result = helm_template_text(set_values=[setting], check=False)
    assert result.returncode != 0
    assert message in result.stderr, result.stderr


# ---- what matters in the rendered output ---------------------------------------------------------

def api_routes_served() -> dict[str, int]:
    """Starts the built API (dist/main/api.js) with an unreachable Elasticsearch and returns the
    status of each path the chart probes."""
    env = {**os.environ, "PORT": "0", "ELASTICSEARCH_URL": "http://127.0.0.1:9", "OTEL_SDK_DISABLED": "true",
           "LOG_LEVEL": "info", "FRESHNESS_POLL_MS": "60000"}
    proc = subprocess.Popen(["node", "dist/main/api.js"], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    try:
        port = None
        deadline = time.monotonic() + 20
        lines = []
        while port is None and time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            lines.append(line)
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if "listening" in str(record.get("msg")) and record.get("port"):
                port = record["port"]
        assert port, "the API did not report its port:\n" + "".join(lines)
        statuses = {}
        for path in ("/healthz", "/readyz", "/no-such-route"):
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as response:
                    statuses[path] = response.status
            except urllib.error.HTTPError as err:
                statuses[path] = err.code
        return statuses
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()


def test_probe_paths_are_routes_the_api_serves():
    deployment = only(render(), "Deployment", "api")
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    probes = {name: container[name]["httpGet"] for name in ("startupProbe", "livenessProbe", "readinessProbe")}
    assert probes["startupProbe"]["path"] == "/healthz"
    assert probes["livenessProbe"]["path"] == "/healthz"
    # Readiness: "this pod can serve" (started, warmed, not draining), never "Elasticsearch
    # answers": an outage of the shared dependency must not empty the Service (issue 13).
    assert probes["readinessProbe"]["path"] == "/readyz"
    assert all(set(p) == {"path", "port"} for p in probes.values()), "no host, scheme or headers to another service"
    kubernetes_md = (ROOT / "docs" / "kubernetes.md").read_text()
    assert "readiness probe" in kubernetes_md.lower() and "/readyz" in kubernetes_md
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert all(p["port"] in ports for p in probes.values())
    statuses = api_routes_served()
    assert statuses["/no-such-route"] == 404  # the check below can tell a missing route
    # Liveness answers without Elasticsearch; readiness is a real route (503 while ES is unreachable).
    assert statuses["/healthz"] == 200
    assert statuses["/readyz"] in (200, 503)
    # The chart's port is the one the API listens on by default (PORT=3000, src/config.ts).
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert ports["http"] == int(env["PORT"]) == 3000


def test_processes_run_entry_points_the_image_has():
    objects = render()
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert re.search(r"^COPY --from=build /app/dist \./dist$", dockerfile, re.M), "the image must hold dist/"
    commands = {
        "ingester": only(objects, "CronJob", "ingester")["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]["command"],
        "bootstrap": only(objects, "Job", "bootstrap")["spec"]["template"]["spec"]["containers"][0]["command"],
        "api": only(objects, "Deployment", "api")["spec"]["template"]["spec"]["containers"][0]["command"],
    }
    assert commands["ingester"] == [
        "node",
        "--max-semi-space-size=4",
        "--max-old-space-size=128",
        "--import",
        "./dist/observability/register.js",
        "dist/main/ingest.js",
    ]
    # The bootstrap hook bootstraps, then migrates the events index when needed (ADR 0015).
    assert commands["bootstrap"] == ["node", "dist/main/migrate.js"]
    assert commands["api"][-1] == "dist/main/api.js"
    for command in commands.values():
        for arg in command[1:]:
            if arg.endswith(".js"):
                built = ROOT / arg
                source = ROOT / "src" / Path(arg).relative_to("dist").with_suffix(".ts")
                assert built.is_file(), f"{arg} is not built (npm run build)"
                assert source.is_file(), f"{source} does not exist"


def test_cronjob_schedule_and_limits_come_from_values():
    cron = only(render(), "CronJob", "ingester")
    assert cron["spec"]["concurrencyPolicy"] == "Forbid"
    custom = only(render(set_values=[
        "ingester.schedule=*/5 * * * *", "ingester.startingDeadlineSeconds=77", "ingester.activeDeadlineSeconds=900",
        "ingester.backoffLimit=1", "ingester.successfulJobsHistoryLimit=2", "ingester.failedJobsHistoryLimit=5",
        "ingester.timeZone=Europe/Madrid", "ingester.provider.url=https://p.example/feed",
    ]), "CronJob", "ingester")
    spec = custom["spec"]
    assert (spec["schedule"], spec["startingDeadlineSeconds"], spec["timeZone"]) == ("*/5 * * * *", 77, "Europe/Madrid")
    assert (spec["successfulJobsHistoryLimit"], spec["failedJobsHistoryLimit"]) == (2, 5)
    job = spec["jobTemplate"]["spec"]
    assert (job["activeDeadlineSeconds"], job["backoffLimit"]) == (900, 1)
    env = {e["name"]: e.get("value") for e in job["template"]["spec"]["containers"][0]["env"]}
    assert env["PROVIDER_URL"] == "https://p.example/feed"
    assert job["template"]["spec"]["restartPolicy"] == "Never"


TWO_PROVIDERS = [
    "ingester.providers[0].name=madrid", "ingester.providers[0].url=https://madrid.example/feed",
    "ingester.providers[0].timeZone=Europe/Madrid", "ingester.providers[0].schedule=*/5 * * * *",
    "ingester.providers[0].scheduleTimeZone=Europe/Madrid",
    "ingester.providers[1].name=newyork", "ingester.providers[1].urlSecret.name=ny-feed",
    "ingester.providers[1].format=ndjson", "ingester.providers[1].timeZone=America/New_York",
    "ingester.providers[1].schedule=0 * * * *", "ingester.providers[1].scheduleTimeZone=America/New_York",
    "ingester.providers[1].suspend=true", "ingester.providers[1].resources.requests.cpu=100m",
    "ingester.providers[1].env.PROVIDER_RETRIES=5", "ingester.providers[1].heap.oldSpaceMB=512",
]


def test_two_providers_render_two_cronjobs_with_their_own_schedule_zone_and_feed():
    objects = render(set_values=TWO_PROVIDERS)
    crons = {o["metadata"]["labels"]["event-search/provider"]: o for o in objects if o["kind"] == "CronJob"}
    assert set(crons) == {"madrid", "newyork"}
    for name, cron in crons.items():
        assert cron["metadata"]["name"].endswith(f"-ingest-{name}") and len(cron["metadata"]["name"]) <= 52
    madrid, newyork = crons["madrid"], crons["newyork"]
    assert (madrid["spec"]["schedule"], madrid["spec"]["timeZone"], madrid["spec"]["suspend"]) == (
        "*/5 * * * *", "Europe/Madrid", False)
    assert (newyork["spec"]["schedule"], newyork["spec"]["timeZone"], newyork["spec"]["suspend"]) == (
        "0 * * * *", "America/New_York", True)
    env = {name: container_env(cron) for name, cron in crons.items()}
    assert env["madrid"]["PROVIDER_URL"] == {"name": "PROVIDER_URL", "value": "https://madrid.example/feed"}
    assert env["newyork"]["PROVIDER_URL"]["valueFrom"] == {"secretKeyRef": {"name": "ny-feed", "key": "url"}}
    assert {n: (e["PROVIDER_NAME"]["value"], e["PROVIDER_FORMAT"]["value"], e["PROVIDER_TIMEZONE"]["value"])
            for n, e in env.items()} == {"madrid": ("madrid", "xml", "Europe/Madrid"),
                                         "newyork": ("newyork", "ndjson", "America/New_York")}
    assert env["newyork"]["PROVIDER_RETRIES"]["value"] == "5" and "PROVIDER_RETRIES" not in env["madrid"]
    resources = {n: pod_template(c)["spec"]["containers"][0]["resources"] for n, c in crons.items()}
    assert resources["newyork"] == {"requests": {"cpu": "100m"}}
    assert resources["madrid"]["requests"]["cpu"] == "250m"  # the ingester's shared default
    # V8's heap bounds: a provider's own old generation, the shared young one (ingester.heap).
    flags = {n: [a for a in pod_template(c)["spec"]["containers"][0]["command"] if a.startswith("--max-")]
             for n, c in crons.items()}
    assert flags == {"madrid": ["--max-semi-space-size=4", "--max-old-space-size=128"],
                     "newyork": ["--max-semi-space-size=4", "--max-old-space-size=512"]}


def test_the_migration_gets_every_provider_zone_and_the_api_none():
    """ADR 0004/0015: the API reads no PROVIDER_TIMEZONE; the bootstrap hook's migration gets the
    zone of every provider of the list, and of kept providers removed from it."""
    objects = render(set_values=TWO_PROVIDERS + ["bootstrap.providerTimezones.gone=Asia/Tokyo",
                                                 "bootstrap.leaseWaitSeconds=60"])
    assert "PROVIDER_TIMEZONE" not in container_env(only(objects, "Deployment", "api"))
    env = container_env(only(objects, "Job", "bootstrap"))
    assert env["MIGRATE_PROVIDER_TIMEZONES"]["value"] == (
        "gone=Asia/Tokyo,madrid=Europe/Madrid,newyork=America/New_York")
    assert env["MIGRATE_LEASE_WAIT_MS"]["value"] == "60000"
    legacy = container_env(only(render(set_values=["ingester.provider.name=legacy",
                                                   "api.providerTimezone=Europe/Madrid"]), "Job", "bootstrap"))
    assert legacy["MIGRATE_PROVIDER_TIMEZONES"]["value"] == "legacy=Europe/Madrid"


def test_without_a_providers_list_the_single_provider_values_keep_their_cronjob():
    """Migration: the values of earlier versions (ingester.provider) render the one CronJob, under
    its old name, with the API's time zone for the provider."""
    cron = only(render(set_values=["ingester.provider.name=legacy", "api.providerTimezone=Europe/Madrid"]),
                "CronJob", "ingester")
    assert cron["metadata"]["name"] == "event-search-ingester"  # the name of earlier versions
    env = container_env(cron)
    assert (env["PROVIDER_NAME"]["value"], env["PROVIDER_TIMEZONE"]["value"]) == ("legacy", "Europe/Madrid")


@pytest.mark.parametrize("settings, message", [
    (["ingester.providers[0].name=a", "ingester.providers[0].url=https://a/feed",
      "ingester.providers[1].name=a", "ingester.providers[1].url=https://b/feed"], 'the name "a" appears twice'),
    (["ingester.providers[0].name=Bad_Name", "ingester.providers[0].url=https://a/feed"], "/ingester/providers/0/name"),
    (["ingester.providers[0].name=a"], "/ingester/providers/0"),
])
def test_bad_provider_lists_are_refused(settings, message):
    result = helm_template_text(set_values=settings, check=False)
    assert result.returncode != 0 and message in result.stderr, result.stderr


def test_hpa_bounds_and_metrics_come_from_values():
    hpa = only(render(set_values=[
        "api.autoscaling.minReplicas=7", "api.autoscaling.maxReplicas=13",
        "api.autoscaling.targetCPUUtilizationPercentage=42",
        "api.autoscaling.requestsPerSecond.enabled=true", "api.autoscaling.requestsPerSecond.averageValue=321",
    ]), "HorizontalPodAutoscaler")
    spec = hpa["spec"]
    assert (spec["minReplicas"], spec["maxReplicas"]) == (7, 13)
    cpu, rps = spec["metrics"]
    assert cpu["resource"] == {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 42}}
    assert rps["pods"] == {"metric": {"name": "event_search_http_requests_per_second"},
                           "target": {"type": "AverageValue", "averageValue": "321"}}
    deployment = only(render(), "Deployment", "api")
    assert spec["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment",
                                      "name": deployment["metadata"]["name"]}
    assert "replicas" not in deployment["spec"], "the HPA owns the replica count"
    # Default: CPU only; behaviour tuned for peaks (scale up at once, scale down slowly).
    default = only(render(), "HorizontalPodAutoscaler")["spec"]
    assert [m["type"] for m in default["metrics"]] == ["Resource"]
    assert default["behavior"]["scaleUp"]["stabilizationWindowSeconds"] == 0
    assert default["behavior"]["scaleDown"]["stabilizationWindowSeconds"] >= 300
    # Autoscaling off: no HPA, a fixed replica count.
    fixed = render(set_values=["api.autoscaling.enabled=false", "api.replicaCount=4"])
    assert not [o for o in fixed if o["kind"] == "HorizontalPodAutoscaler"]
    assert only(fixed, "Deployment", "api")["spec"]["replicas"] == 4


def test_prometheus_adapter_rule_serves_the_hpa_metric():
    adapter = yaml.safe_load((ROOT / "k8s" / "prometheus-adapter" / "values.yaml").read_text())
    rule = adapter["rules"]["custom"][0]
    chart_values = yaml.safe_load((CHART / "values.yaml").read_text())
    assert rule["name"]["as"] == chart_values["api"]["autoscaling"]["requestsPerSecond"]["metricName"]
    series = re.match(r"^(\w+)\{", rule["seriesQuery"]).group(1)
    assert series == "event_search_http_requests_total"
    metrics_ts = (ROOT / "src" / "observability" / "metrics.ts").read_text()
    assert "`${METRIC_PREFIX}http_requests_total`" in metrics_ts, "the adapter reads a metric the API exports"


@pytest.mark.parametrize("values", VALUES_SETS, ids=str)
def test_security_context_on_every_pod(values):
    workloads = list(pod_specs(render(VALUES_SETS[values])))
    assert {o["kind"] for o, _ in workloads} >= {"Deployment", "Job"}
    for obj, spec in workloads:
        where = f"{obj['kind']} {obj['metadata']['name']}"
        pod = spec["securityContext"]
        assert pod["runAsNonRoot"] is True and pod["runAsUser"] != 0, where
        assert pod["seccompProfile"] == {"type": "RuntimeDefault"}, where
        assert spec["automountServiceAccountToken"] is False, where
        mounts_by_volume = {v["name"]: v for v in spec["volumes"]}
        for container in spec["containers"] + spec.get("initContainers", []):
            sc = container["securityContext"]
            assert sc["readOnlyRootFilesystem"] is True, where
            assert sc["allowPrivilegeEscalation"] is False, where
            assert sc["capabilities"]["drop"] == ["ALL"], where
            assert "add" not in sc["capabilities"], where
            assert sc["seccompProfile"] == {"type": "RuntimeDefault"}, where
            if container["name"] not in CHART_CONTAINERS:
                continue  # a sidecar or init container given as a value: its own mounts and resources
            tmp = next(m for m in container["volumeMounts"] if m["mountPath"] == "/tmp")
            assert "emptyDir" in mounts_by_volume[tmp["name"]], f"{where}: /tmp must be a writable emptyDir"
            assert container["resources"]["requests"] and container["resources"]["limits"], where


def test_service_accounts_carry_no_token():
    for values in VALUES_SETS.values():
        accounts = [o for o in render(values) if o["kind"] == "ServiceAccount"]
        assert accounts and all(a["automountServiceAccountToken"] is False for a in accounts)
    objects = render()
    names = {a["metadata"]["name"] for a in objects if a["kind"] == "ServiceAccount"}
    for _, spec in pod_specs(objects):
        assert spec["serviceAccountName"] in names


def test_api_rollout_and_shutdown():
    spec = only(render(), "Deployment", "api")["spec"]
    pod = spec["template"]["spec"]
    container = pod["containers"][0]
    assert spec["strategy"]["rollingUpdate"]["maxUnavailable"] == 0
    sleep = container["lifecycle"]["preStop"]["exec"]["command"]
    assert sleep[0] == "sleep" and int(sleep[1]) > 0
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert pod["terminationGracePeriodSeconds"] > int(sleep[1]) + int(env["SHUTDOWN_TIMEOUT_MS"]) / 1000
    spread = {c["topologyKey"]: c for c in pod["topologySpreadConstraints"]}
    assert set(spread) == {"kubernetes.io/hostname", "topology.kubernetes.io/zone"}
    selector = spec["selector"]["matchLabels"]
    assert all(c["labelSelector"]["matchLabels"] == selector for c in spread.values())
    pdb = only(render(), "PodDisruptionBudget")["spec"]
    assert pdb["selector"]["matchLabels"] == selector and pdb["maxUnavailable"] == 1
    service = only(render(), "Service", "api")["spec"]
    assert service["selector"] == selector and service["ports"][0]["targetPort"] == "http"


def test_bootstrap_is_a_pre_install_and_pre_upgrade_hook():
    for values in (VALUES_SETS["default"], VALUES_SETS["inline-credentials-values"]):
        objects = render(values)
        job = only(objects, "Job", "bootstrap")
        annotations = job["metadata"]["annotations"]
        assert annotations["helm.sh/hook"] == "pre-install,pre-upgrade"
        assert "before-hook-creation" in annotations["helm.sh/hook-delete-policy"]
        # Everything the hook Job uses exists before it: hooks of a lower weight, or nothing from
        # the release (pre-install hooks run before the release's own objects are created).
        pod = job["spec"]["template"]["spec"]
        hooks = {(o["kind"], o["metadata"]["name"]): o for o in objects
                 if "helm.sh/hook" in o["metadata"].get("annotations", {})}
        used = {("ServiceAccount", pod["serviceAccountName"])}
        used |= {("Secret", e["valueFrom"]["secretKeyRef"]["name"]) for e in pod["containers"][0]["env"]
                 if "valueFrom" in e}
        used |= {("Secret", v["secret"]["secretName"]) for v in pod["volumes"] if "secret" in v}
        for kind, name in used:
            hook = hooks.get((kind, name))
            assert hook, f"the bootstrap hook uses {kind} {name}, which is not a hook"
            assert int(hook["metadata"]["annotations"]["helm.sh/hook-weight"]) < int(annotations["helm.sh/hook-weight"])


def container_env(obj: dict) -> dict[str, dict]:
    spec = obj["spec"]["jobTemplate"]["spec"] if obj["kind"] == "CronJob" else obj["spec"]
    return {e["name"]: e for e in spec["template"]["spec"]["containers"][0]["env"]}


def pod_template(obj: dict) -> dict:
    return obj["spec"]["jobTemplate"]["spec"]["template"] if obj["kind"] == "CronJob" else obj["spec"]["template"]


@pytest.mark.parametrize("values", ["default", "inline-credentials-values", "extensions-values"])
def test_each_process_reads_its_own_credential_secret(values):
    """Least privilege: the API (read), the ingester (write) and the bootstrap (manage templates)
    each take ES_API_KEY / ES_USERNAME / ES_PASSWORD from a Secret of their own."""
    objects = render(VALUES_SETS[values])
    sources = {}
    for kind, component in WORKLOADS:
        env = container_env(only(objects, kind, component))
        names = {env[v]["valueFrom"]["secretKeyRef"]["name"] for v in ("ES_API_KEY", "ES_USERNAME", "ES_PASSWORD")}
        assert len(names) == 1, (component, names)
        sources[component] = names.pop()
    assert len(set(sources.values())) == 3, sources
    if values == "extensions-values":
        assert sources == {"api": "es-api-reader", "ingester": "es-ingester-writer", "bootstrap": "es-bootstrap-admin"}
        assert not [o for o in objects if o["kind"] == "Secret"], "existing Secrets: the chart creates none"
    else:
        secrets = {o["metadata"]["name"]: o for o in objects if o["kind"] == "Secret"}
        assert set(sources.values()) <= set(secrets), "each chart-created Secret exists"


def test_inline_credentials_land_in_their_role_secret_only():
    objects = render(VALUES_SETS["inline-credentials-values"])
    data = {}
    for kind, component in WORKLOADS:
        name = container_env(only(objects, kind, component))["ES_API_KEY"]["valueFrom"]["secretKeyRef"]["name"]
        secret = next(o for o in objects if o["kind"] == "Secret" and o["metadata"]["name"] == name)
        data[component] = set(secret["data"])
    assert data == {"api": {"api-key", "ca.crt"}, "ingester": {"username", "password", "ca.crt"},
                    "bootstrap": {"username", "password", "ca.crt"}}
    # The CA is a mounted file and ES_CA_FILE names it, in every pod.
    for kind, component in WORKLOADS:
        obj = only(objects, kind, component)
        pod = pod_template(obj)["spec"]
        ca_file = Path(container_env(obj)["ES_CA_FILE"]["value"])
        mount = next(m for m in pod["containers"][0]["volumeMounts"] if m["mountPath"] == str(ca_file.parent))
        volume = next(v for v in pod["volumes"] if v["name"] == mount["name"])
        assert [i["path"] for i in volume["secret"]["items"]] == [ca_file.name]


def test_url_precedence_an_existing_secret_is_not_overridden_by_a_default():
    """A default elasticsearch.url must not silently win over the URL in an existing Secret."""
    existing = render(set_values=["elasticsearch.existingSecret=es-connection"])
    for kind, component in WORKLOADS:
        url = container_env(only(existing, kind, component))["ELASTICSEARCH_URL"]
        assert url == {"name": "ELASTICSEARCH_URL",
                       "valueFrom": {"secretKeyRef": {"name": "es-connection", "key": "url"}}}, component
    # An explicit value wins (a deliberate choice, documented on the value).
    explicit = render(set_values=["elasticsearch.existingSecret=es-connection", "elasticsearch.url=https://es:9200"])
    assert container_env(only(explicit, "Deployment", "api"))["ELASTICSEARCH_URL"]["value"] == "https://es:9200"
    # Neither: the development Elasticsearch of k8s/.
    default = container_env(only(render(), "Deployment", "api"))["ELASTICSEARCH_URL"]
    assert default["value"] == "http://elasticsearch:9200"
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    assert values["elasticsearch"]["url"] == "", "a non-empty default would hide the Secret's URL"


def test_index_replicas_reach_the_bootstrap_job():
    env = container_env(only(render(), "Job", "bootstrap"))
    assert env["ES_INDEX_REPLICAS"]["value"] == "1", "production default: one replica"
    dev = container_env(only(render(VALUES_SETS["dev"]), "Job", "bootstrap"))
    assert dev["ES_INDEX_REPLICAS"]["value"] == "0", "single-node development cluster"
    two = container_env(only(render(set_values=["elasticsearch.indexReplicas=2"]), "Job", "bootstrap"))
    assert two["ES_INDEX_REPLICAS"]["value"] == "2"


def test_proxy_hops_match_the_ingress():
    env = container_env(only(render(), "Deployment", "api"))
    assert env["PROXY_HOPS"]["value"] == "1", "one ingress-nginx hop in front of the pods"
    direct = container_env(only(render(set_values=["api.proxyHops=0"]), "Deployment", "api"))
    assert direct["PROXY_HOPS"]["value"] == "0"


def test_the_bulkhead_is_set_from_values():
    env = container_env(only(render(), "Deployment", "api"))
    assert (env["ES_MAX_CONCURRENT_QUERIES"]["value"], env["ES_MAX_OPEN_PITS"]["value"]) == ("16", "4")
    tuned = container_env(only(render(set_values=["api.maxConcurrentQueries=32", "api.maxOpenPointsInTime=2"]), "Deployment", "api"))
    assert (tuned["ES_MAX_CONCURRENT_QUERIES"]["value"], tuned["ES_MAX_OPEN_PITS"]["value"]) == ("32", "2")


def test_the_query_line_is_set_from_values():
    env = container_env(only(render(), "Deployment", "api"))
    assert (env["ES_QUERY_QUEUE"]["value"], env["ES_QUERY_QUEUE_WAIT_MS"]["value"]) == ("64", "500")
    tuned = container_env(only(render(set_values=["api.queryQueue=0", "api.queryQueueWaitMs=250"]), "Deployment", "api"))
    assert (tuned["ES_QUERY_QUEUE"]["value"], tuned["ES_QUERY_QUEUE_WAIT_MS"]["value"]) == ("0", "250")


def test_the_msearch_batch_is_set_from_values():
    env = container_env(only(render(), "Deployment", "api"))
    # Unset by default: the API derives it from the query slots (a third of them).
    assert "ES_MSEARCH_MAX_BATCH" not in env
    tuned = container_env(only(render(set_values=["api.msearchMaxBatch=1"]), "Deployment", "api"))
    assert tuned["ES_MSEARCH_MAX_BATCH"]["value"] == "1"


@pytest.mark.parametrize("kind, component", WORKLOADS)
def test_extension_values_are_rendered_in_every_workload(kind, component):
    obj = only(render(EXTENSIONS), kind, component)
    template = pod_template(obj)
    pod = template["spec"]
    main = pod["containers"][0]
    env = {e["name"]: e.get("value") for e in main["env"]}
    assert env["EXTRA_MAP"] == component and env["EXTRA_ENV"] == component
    assert main["envFrom"] == [{"configMapRef": {"name": f"{component}-env"}}]
    assert {"name": "extra", "configMap": {"name": f"{component}-extra"}} in pod["volumes"]
    assert {"name": "extra", "mountPath": "/etc/extra", "readOnly": True} in main["volumeMounts"]
    assert [c["name"] for c in pod["containers"]] == [component if component != "ingester" else "ingester", "sidecar"]
    assert [c["name"] for c in pod["initContainers"]] == ["init"]
    assert template["metadata"]["labels"]["extra-label"] == component
    assert template["metadata"]["annotations"]["extra-annotation"] == component
    # The selector labels stay the chart's.
    assert template["metadata"]["labels"]["app.kubernetes.io/component"] == component
    if component == "bootstrap":
        assert obj["metadata"]["annotations"]["job-annotation"] == "bootstrap"
        assert obj["metadata"]["annotations"]["helm.sh/hook"] == "pre-install,pre-upgrade"
        assert obj["metadata"]["labels"]["job-label"] == "bootstrap"
    # Off by default: nothing extra.
    default = pod_template(only(render(), kind, component))["spec"]
    assert "initContainers" not in default and len(default["containers"]) == 1
    assert "envFrom" not in default["containers"][0]


def test_service_monitor_relabelings_namespace_and_honor_labels():
    monitor = only(render(EXTENSIONS), "ServiceMonitor")
    assert monitor["metadata"]["namespace"] == "monitoring"
    assert monitor["spec"]["namespaceSelector"] == {"matchNames": ["search"]}
    endpoint = monitor["spec"]["endpoints"][0]
    assert endpoint["honorLabels"] is True
    assert endpoint["relabelings"] == [{"sourceLabels": ["__meta_kubernetes_pod_node_name"], "targetLabel": "node"}]
    assert endpoint["metricRelabelings"][0]["action"] == "drop"
    assert monitor["metadata"]["labels"]["release"] == "kube-prometheus-stack"


def ingress_paths(ingress: dict) -> dict[str, set[str]]:
    return {r["host"]: {p["path"] for p in r["http"]["paths"]} for r in ingress["spec"]["rules"]}


@pytest.mark.parametrize("values", VALUES_SETS, ids=str)
def test_ingress_exposes_only_public_routes(values):
    """Issue 13: /search (and /docs, /openapi.yaml behind a value); never /metrics or the probes."""
    for ingress in (o for o in render(VALUES_SETS[values]) if o["kind"] == "Ingress"):
        for host, paths in ingress_paths(ingress).items():
            assert "/search" in paths, host
            assert paths <= {"/search", "/docs", "/openapi.yaml"}, (host, paths)
            assert not paths & {"/", "/metrics", "/healthz", "/readyz"}


def test_ingress_extra_hosts_tls_and_docs():
    ingress = only(render(EXTENSIONS), "Ingress")
    assert ingress_paths(ingress) == {h: {"/search", "/docs", "/openapi.yaml"}
                                      for h in ("events.example.com", "search.example.org")}
    assert ingress["spec"]["tls"] == [{"hosts": ["events.example.com"], "secretName": "events-example-com-tls"},
                                      {"hosts": ["search.example.org"], "secretName": "search-example-org-tls"}]
    plain = only(render(set_values=["ingress.enabled=true"]), "Ingress")
    assert ingress_paths(plain) == {"events.example.com": {"/search"}}


def test_http_route():
    route = only(render(EXTENSIONS), "HTTPRoute")
    assert route["apiVersion"] == "gateway.networking.k8s.io/v1"
    spec = route["spec"]
    assert spec["parentRefs"] == [{"name": "public", "namespace": "gateway"}]
    assert spec["hostnames"] == ["events.example.com"]
    (rule,) = spec["rules"]
    assert {(m["path"]["type"], m["path"]["value"]) for m in rule["matches"]} == {
        ("Exact", "/search"), ("PathPrefix", "/docs"), ("Exact", "/openapi.yaml")}
    service = only(render(EXTENSIONS), "Service", "api")
    assert rule["backendRefs"] == [{"name": service["metadata"]["name"], "port": service["spec"]["ports"][0]["port"]}]
    assert not [o for o in render() if o["kind"] == "HTTPRoute"], "off by default"


def test_helm_test_hook_calls_search_through_the_service():
    objects = render()
    pod = next(o for o in objects if o["kind"] == "Pod")
    assert pod["metadata"]["annotations"]["helm.sh/hook"] == "test"
    service = only(objects, "Service", "api")
    script = pod["spec"]["containers"][0]["command"][-1]
    url = f'http://{service["metadata"]["name"]}:{service["spec"]["ports"][0]["port"]}/search?'
    assert url in script and "process.exit(1)" in script
    # The NetworkPolicy admits it.
    api_policy = next(p for p in objects if p["kind"] == "NetworkPolicy" and p["metadata"]["name"].endswith("-api"))
    peers = api_policy["spec"]["ingress"][0]["from"]
    assert any(all(pod["metadata"]["labels"].get(k) == v for k, v in peer.get("podSelector", {}).get("matchLabels", {}).items())
               and "podSelector" in peer for peer in peers)


def test_ingress_class_host_tls_and_rate_limit():
    ingress = only(render(FULL), "Ingress")
    spec = ingress["spec"]
    assert spec["ingressClassName"] == "nginx"
    assert spec["tls"] == [{"hosts": ["events.example.com"], "secretName": "events-example-com-tls"}]
    assert spec["rules"][0]["host"] == "events.example.com"
    annotations = ingress["metadata"]["annotations"]
    assert annotations["nginx.ingress.kubernetes.io/limit-rps"] == "100"
    assert annotations["cert-manager.io/cluster-issuer"] == "letsencrypt"
    backend = spec["rules"][0]["http"]["paths"][0]["backend"]["service"]
    assert backend["name"] == only(render(FULL), "Service", "api")["metadata"]["name"]


def test_compose_copies_are_rendered_from_the_chart():
    """The chart is the source of the rules and the dashboard; observability/ holds copies for
    docker-compose, rendered by `make observability-render`."""
    result = run(sys.executable, ROOT / "scripts" / "observability-render.py", "--check", "--helm", tool("helm"), check=False)
    assert result.returncode == 0, result.stderr


def test_dashboard_configmap_holds_the_chart_dashboard_with_runbook_links():
    configmap = only(render(), "ConfigMap")
    assert configmap["metadata"]["labels"]["grafana_dashboard"] == "1"
    dashboard = json.loads(configmap["data"]["event-search.json"])
    base = yaml.safe_load((CHART / "values.yaml").read_text())["metrics"]["runbookBaseUrl"]
    assert dashboard == json.loads(CHART_DASHBOARD.read_text().replace("__RUNBOOK_BASE_URL__", base))
    custom = json.loads(only(render(EXTENSIONS), "ConfigMap")["data"]["event-search.json"])
    assert custom["links"][0]["url"] == "https://wiki.example.com/event-search/runbook"
    assert "__RUNBOOK" not in json.dumps(custom)


DASHBOARD_SCOPES = {
    # API series: the release (namespace, job) and the pod.
    "event_search_": ('namespace=~"$namespace"', 'job=~"$job"', 'pod=~"$pod"'),
    # Freshness, one series per provider (docs/adr/0014-many-providers.md).
    "event_search_data_age_": ('namespace=~"$namespace"', 'job=~"$job"', 'pod=~"$pod"', 'provider=~"$provider"'),
    # The ingester's Pushgateway series: their job names the release, their group the provider.
    "event_search_ingest_": ('job=~"$ingest_job"', 'provider=~"$provider"'),
    "kube_horizontalpodautoscaler_": ('namespace=~"$namespace"', 'horizontalpodautoscaler=~"$job"'),
    "kube_pod_": ('namespace=~"$namespace"', 'pod=~"$pod"'),
    "container_": ('namespace=~"$namespace"', 'pod=~"$pod"'),
    "kube_cronjob_": ('namespace=~"$namespace"', 'cronjob=~"$cronjob"'),
}


def dashboard_selectors(dashboard: dict):
    """(where, metric, matchers) of every series selector of every query: panels, annotations."""
    panels = [p for top in dashboard["panels"] for p in (top, *top.get("panels", []))]
    exprs = [(f'panel "{p["title"]}"', t["expr"]) for p in panels for t in p.get("targets", [])]
    exprs += [(f'annotation "{a["name"]}"', a["expr"]) for a in dashboard["annotations"]["list"] if "expr" in a]
    for where, expr in exprs:
        for m in re.finditer(r"\b([a-z_]+[a-z0-9_]*)(\{[^}]*\})?(?=\s*[\[)\s/>=*+-]|$)", expr):
            name = m.group(1)
            if any(name.startswith(prefix) for prefix in DASHBOARD_SCOPES):
                yield where, name, m.group(2) or ""


def test_every_dashboard_query_carries_the_scoping_selectors():
    dashboard = json.loads(CHART_DASHBOARD.read_text())
    variables = {v["name"] for v in dashboard["templating"]["list"]}
    assert {"namespace", "job", "pod", "ingest_job", "provider", "cronjob"} <= variables
    found = list(dashboard_selectors(dashboard))
    assert len(found) > 45
    missing = []
    for where, name, matchers in found:
        prefix = max((p for p in DASHBOARD_SCOPES if name.startswith(p)), key=len)
        lacking = [m for m in DASHBOARD_SCOPES[prefix] if m not in matchers]
        if lacking:
            missing.append((where, name, lacking))
    assert missing == []
    # Per-pod series are labelled by pod, never by instance.
    legends = [t.get("legendFormat", "") for p in dashboard["panels"] for t in p.get("targets", [])]
    assert not [l for l in legends if "instance" in l]
    assert any("{{pod}}" in l for l in legends)
    # The panels operators look for first.
    titles = {p["title"] for p in dashboard["panels"]}
    assert {"HPA replicas", "Container restarts", "CPU throttling", "Since the CronJob's last success",
            "Rate-limited (429) / s", "Shed (503) / s"} <= titles
    assert any(a["name"] == "Ingest runs" for a in dashboard["annotations"]["list"])
    assert dashboard["links"][0]["url"] == "__RUNBOOK_BASE_URL__"


def test_the_scoping_check_catches_an_unscoped_query():
    dashboard = {"panels": [{"title": "t", "targets": [{"expr": 'sum(rate(event_search_http_requests_total{job=~"$job"}[5m]))'}]}],
                 "annotations": {"list": []}}
    ((_, name, matchers),) = list(dashboard_selectors(dashboard))
    assert name == "event_search_http_requests_total" and 'namespace=~"$namespace"' not in matchers


def rule_groups(objects: list[dict]) -> dict[str, dict]:
    return {r.get("alert") or r["record"]: r for g in only(objects, "PrometheusRule")["spec"]["groups"] for r in g["rules"]}


def test_prometheus_rules_are_scoped_to_the_release_and_tunable():
    objects = render(FULL)
    rules = rule_groups(objects)
    job = only(objects, "Service", "api")["metadata"]["name"]
    api_scope = f'namespace="search", job="{job}"'
    for name, rule in rules.items():
        if name in ("EventSearchIngestFailing", "EventSearchIngestRejectionRatioHigh"):
            assert 'job="search-event-search-ingest"' in rule["expr"]
        else:
            assert rule["expr"].count("{") == rule["expr"].count(api_scope), name
        if "alert" in rule:
            assert rule["annotations"]["runbook_url"] == \
                f"https://runbooks.example.com/event-search/runbook.md#{name.lower()}"
    # The ingester pushes under the job the rules select.
    ingester_env = container_env(only(objects, "CronJob", "ingester"))
    assert ingester_env["PUSHGATEWAY_JOB"]["value"] == "search-event-search-ingest"
    # Recording rules for the RED series; the ratio alerts have a traffic floor.
    assert {"event_search:http_requests:rate5m", "event_search:http_errors:rate5m",
            "event_search:search_latency_seconds:p99_5m"} <= set(rules)
    assert "event_search:http_requests:rate5m" in rules["EventSearchHighErrorRate"]["expr"].split("and on")[1]
    # Per-alert values: disabled, threshold, for, floor.
    custom = rule_groups(render(EXTENSIONS))
    assert "EventSearchLatencySLO" not in custom
    error = custom["EventSearchHighErrorRate"]
    assert error["for"] == "10m" and "> 0.05" in error["expr"] and ">= 5" in error["expr"]
    assert error["annotations"]["runbook_url"] == "https://wiki.example.com/event-search/runbook#eventsearchhigherrorrate"
    monitor = only(objects, "ServiceMonitor")
    assert monitor["spec"]["selector"]["matchLabels"] == only(objects, "Service", "api")["spec"]["selector"]
    assert monitor["spec"]["endpoints"][0]["path"] == "/metrics" and monitor["spec"]["endpoints"][0]["port"] == "http"
    assert monitor["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    # Off by default: they need the operator's CRDs.
    assert not [o for o in render() if o["kind"] in CRD_KINDS]


def test_one_latency_objective_for_the_alert_k6_and_the_docs():
    objective = yaml.safe_load((CHART / "values.yaml").read_text())["metrics"]["latencyObjectiveSeconds"]
    ms = round(objective * 1000)
    rules = rule_groups(render(FULL))
    assert f"> {objective}" in rules["EventSearchLatencySLO"]["expr"]
    lib = (ROOT / "loadtest" / "lib.js").read_text()
    assert re.search(rf"^export const LATENCY_OBJECTIVE_MS = {ms};", lib, re.M)
    for doc in ("docs/performance.md", "loadtest/README.md", "docs/runbook.md"):
        text = (ROOT / doc).read_text()
        assert f"{ms} ms" in text, doc
        assert not re.search(r"objective[^.]*\b20 ms|\b20 ms objective", text), doc


def test_loadtest_readme_and_makefile_agree():
    """Every variable loadtest/README.md passes to `make loadtest` is one mk/loadtest.mk reads."""
    readme = (ROOT / "loadtest" / "README.md").read_text()
    makefile = (ROOT / "mk" / "loadtest.mk").read_text()
    used = {v for line in re.findall(r"^make loadtest.*$", readme, re.M) for v in re.findall(r"(?<!-e )\b([A-Z][A-Z0-9_]+)=", line)}
    assert {"K6_SCRIPT", "K6_ARGS"} <= used
    defined = set(re.findall(r"^([A-Z][A-Z0-9_]+) \?=", makefile, re.M))
    assert used <= defined, used - defined
    assert "$(K6_ARGS)" in makefile


def test_network_policy_admits_only_the_ingress_and_prometheus_namespaces():
    default = {p["metadata"]["name"]: p["spec"] for p in render() if p["kind"] == "NetworkPolicy"}
    assert default, "on by default"
    api = next(p for name, p in default.items() if name.endswith("-api"))
    (rule,) = api["ingress"]
    assert rule["ports"] == [{"port": "http", "protocol": "TCP"}]
    namespaces = [peer["namespaceSelector"] for peer in rule["from"] if "namespaceSelector" in peer]
    assert namespaces == [{"matchLabels": {"kubernetes.io/metadata.name": "ingress-nginx"}},
                          {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}]
    assert all(set(peer) in ({"namespaceSelector"}, {"podSelector"}) for peer in rule["from"])
    custom = {p["metadata"]["name"]: p["spec"] for p in render(set_values=[
        "networkPolicy.ingressNamespaceSelector.matchLabels.team=edge",
        "networkPolicy.prometheusNamespaceSelector=null"]) if p["kind"] == "NetworkPolicy"}
    api = next(p for name, p in custom.items() if name.endswith("-api"))
    namespaces = [peer["namespaceSelector"] for peer in api["ingress"][0]["from"] if "namespaceSelector" in peer]
    assert namespaces == [{"matchLabels": {"kubernetes.io/metadata.name": "ingress-nginx", "team": "edge"}}]
    policies = {p["metadata"]["name"]: p["spec"] for p in render(FULL) if p["kind"] == "NetworkPolicy"}
    jobs = next(p for name, p in policies.items() if name.endswith("-jobs"))
    assert "ingress" not in jobs and "Ingress" in jobs["policyTypes"], "jobs accept no connection"
    # The jobs policy selects the ingester's and the bootstrap's pods.
    objects = render(FULL)
    expr = {e["key"]: set(e["values"]) for e in jobs["podSelector"]["matchExpressions"]}
    for kind, component in (("CronJob", "ingester"), ("Job", "bootstrap")):
        labels = pod_template(only(objects, kind, component))["metadata"]["labels"]
        assert all(labels[k] in v for k, v in expr.items()), component
    for policy in policies.values():
        assert {"ports": [{"port": 53, "protocol": "UDP"}, {"port": 53, "protocol": "TCP"}]} in policy["egress"]


def test_chart_readme_documents_every_value(tmp_path):
    script = ROOT / "scripts" / "chart-readme.py"
    assert run(sys.executable, script, "--check", check=False).returncode == 0, "run `make chart-readme`"
    readme = (CHART / "README.md").read_text()
    for path in ("api.extraVolumes", "bootstrap.annotations", "metrics.alerts.highErrorRate.minRequestsPerSecond",
                 "elasticsearch.ingester.existingSecret", "httpRoute.parentRefs", "securityContext"):
        assert f"| `{path}` |" in readme, path
    # A value without a comment fails the check, naming it...
    values = (CHART / "values.yaml").read_text().replace("  replicaCount: 2\n", "  replicaCount: 2\n  undocumented: 1\n")
    (tmp_path / "values.yaml").write_text(values)
    result = run(sys.executable, script, "--check", "--values", tmp_path / "values.yaml", "--readme",
                 CHART / "README.md", check=False)
    assert result.returncode == 1 and "api.undocumented" in result.stderr, result.stderr
    # ...and so does a stale README.
    (tmp_path / "README.md").write_text(readme.replace("| `logLevel` |", "| `loglevel` |"))
    stale = run(sys.executable, script, "--check", "--readme", tmp_path / "README.md", check=False)
    assert stale.returncode == 1 and "stale" in stale.stderr


def test_release_names_fit_kubernetes_limits():
    long_release = "a-release-name-that-is-quite-long-indeed-really"
    text = run(tool("helm"), "template", long_release, CHART, "--kube-version", K8S_VERSIONS[-1]).stdout
    for obj in (d for d in yaml.safe_load_all(text) if d):
        limit = 52 if obj["kind"] == "CronJob" else 63
        assert len(obj["metadata"]["name"]) <= limit, obj["metadata"]["name"]
    names = {o["metadata"]["name"] for o in render() if o["kind"] == "Service"}
    assert names == {f"{RELEASE}-api"}, "skaffold.yaml port-forwards this Service"


def test_only_the_ingester_instruments_outgoing_http():
    """The API's only outgoing calls are Elasticsearch's, traced by the client (ADR 0017); the
    ingester's feed fetch needs the undici instrumentation."""
    traced = render(set_values=["otel.enabled=true", "otel.endpoint=http://collector:4318"])
    api = container_env(only(traced, "Deployment", "api"))
    assert api["OTEL_NODE_DISABLED_INSTRUMENTATIONS"]["value"] == "http,undici"
    assert "OTEL_NODE_DISABLED_INSTRUMENTATIONS" not in container_env(only(traced, "CronJob", "ingester"))
