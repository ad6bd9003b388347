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
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import yaml

from conftest import (CHART, K8S_VERSIONS, RELEASE, ROOT, TOOLS, VALUES_SETS, helm_template_text, only,
                      pod_specs, render, run, tool)

FULL = VALUES_SETS["full-values"]
CRD_KINDS = ("ServiceMonitor", "PrometheusRule")
REPO_DASHBOARD = ROOT / "observability" / "grafana" / "dashboards" / "event-search.json"
REPO_ALERTS = ROOT / "observability" / "prometheus" / "alerts.yml"


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
                 "-schema-location", schemas, "-skip", ",".join(CRD_KINDS), path, check=False)
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
    crds = [o for o in objects if o["kind"] in CRD_KINDS]
    assert summary["valid"] == len(objects) - len(crds), summary
    # Only the operator's CRDs are skipped here; test_operator_objects validates them.
    assert summary["skipped"] == len(crds), summary


def test_operator_objects_match_their_crds(tmp_path):
    rendered = tmp_path / "rendered.yaml"
    rendered.write_text(helm_template_text(FULL).stdout)
    kinds = sorted(o["kind"] for o in render(FULL) if o["kind"] in CRD_KINDS)
    assert kinds == sorted(CRD_KINDS)
    # Unknown fields and wrong types: the operator's Go API types, strictly.
    strict = run(tool("deploy-check"), "operator", rendered)
    assert strict.stdout.count(" valid") == 2, strict.stdout
    # Types, required fields, enums and patterns: validators generated from the CRD schemas.
    crd = run("node", ROOT / "scripts" / "k8s-crd-validate.mjs", rendered, env={**os.environ, "TOOLS_DIR": str(TOOLS)})
    assert crd.stdout.count(" valid") == 2, crd.stdout


def test_the_crd_validators_catch_mistakes(tmp_path):
    broken = tmp_path / "broken.yaml"
    objects = [o for o in render(FULL) if o["kind"] in CRD_KINDS]
    sm = next(o for o in objects if o["kind"] == "ServiceMonitor")
    sm["spec"]["endpoints"][0]["intervall"] = "15s"  # unknown field
    rule = next(o for o in objects if o["kind"] == "PrometheusRule")
    rule["spec"]["groups"][0]["rules"][0]["for"] = "five minutes"  # not a duration
    broken.write_text(yaml.safe_dump_all(objects))
    strict = run(tool("deploy-check"), "operator", broken, check=False)
    assert strict.returncode != 0 and 'unknown field "intervall"' in strict.stderr, strict.stderr
    crd = run("node", ROOT / "scripts" / "k8s-crd-validate.mjs", broken, check=False,
              env={**os.environ, "TOOLS_DIR": str(TOOLS)})
    assert crd.returncode != 0 and "PrometheusRule" in crd.stderr and "INVALID" in crd.stderr, crd.stderr


@pytest.mark.parametrize("setting, message", [
    ("api.replicas=3", "additional properties 'replicas' not allowed"),
    ("api.autoscaling.minReplicas=0", "/api/autoscaling/minReplicas"),
    ("ingester.concurrencyPolicy=Sometimes", "/ingester/concurrencyPolicy"),
    ("elasticsearch.indexPrefix=Events", "/elasticsearch/indexPrefix"),
    ("ingester.provider.url=ftp://provider", "/ingester/provider/url"),
    ("api.autoscaling.minReplicas=9,api.autoscaling.maxReplicas=3", "minReplicas (9) exceeds maxReplicas (3)"),
    ("elasticsearch.existingSecret=es,elasticsearch.apiKey=k", "set either existingSecret or apiKey"),
    ("elasticsearch.url=", "elasticsearch.url is empty and no elasticsearch.existingSecret"),
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
    assert probes["livenessProbe"]["path"] == "/healthz"
    assert probes["readinessProbe"]["path"] == "/readyz"
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
    assert commands["ingester"] == ["node", "--import", "./dist/observability/register.js", "dist/main/ingest.js"]
    assert commands["bootstrap"] == ["node", "dist/main/bootstrap.js"]
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


def test_elasticsearch_connection_from_values_or_an_existing_secret():
    inline = render(VALUES_SETS["inline-credentials-values"])
    secret = next(o for o in inline if o["kind"] == "Secret" and "helm.sh/hook" not in o["metadata"].get("annotations", {}))
    assert set(secret["data"]) == {"api-key", "username", "password", "ca.crt"}
    existing = render(FULL)
    for objects, secret_name in ((inline, secret["metadata"]["name"]), (existing, "es-connection")):
        container = only(objects, "Deployment", "api")["spec"]["template"]["spec"]["containers"][0]
        env = {e["name"]: e for e in container["env"]}
        for name in ("ES_API_KEY", "ES_USERNAME", "ES_PASSWORD"):
            assert env[name]["valueFrom"]["secretKeyRef"]["name"] == secret_name
        # The CA is a mounted file and ES_CA_FILE names it.
        ca_file = Path(env["ES_CA_FILE"]["value"])
        mount = next(m for m in container["volumeMounts"] if m["mountPath"] == str(ca_file.parent))
        volume = next(v for v in only(objects, "Deployment", "api")["spec"]["template"]["spec"]["volumes"]
                      if v["name"] == mount["name"])
        assert [i["path"] for i in volume["secret"]["items"]] == [ca_file.name]
    assert not [o for o in existing if o["kind"] == "Secret"], "an existing Secret means the chart creates none"
    url = {e["name"]: e for e in only(existing, "Deployment", "api")["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert url["ELASTICSEARCH_URL"]["valueFrom"]["secretKeyRef"] == {"name": "es-connection", "key": "url"}


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


def test_chart_copies_of_dashboard_and_alerts_are_the_repo_files():
    for repo_file, chart_file in ((REPO_DASHBOARD, CHART / "files" / "event-search.json"),
                                  (REPO_ALERTS, CHART / "files" / "alerts.yml")):
        assert chart_file.read_bytes() == repo_file.read_bytes(), \
            f"{chart_file.relative_to(ROOT)} differs from {repo_file.relative_to(ROOT)}: run `make chart-sync`"


def test_dashboard_configmap_holds_the_repo_dashboard():
    configmap = only(render(), "ConfigMap")
    assert configmap["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert json.loads(configmap["data"]["event-search.json"]) == json.loads(REPO_DASHBOARD.read_text())


def test_prometheus_rule_holds_the_repo_alerts():
    objects = render(FULL)
    rule = only(objects, "PrometheusRule")
    assert rule["spec"] == yaml.safe_load(REPO_ALERTS.read_text())
    monitor = only(objects, "ServiceMonitor")
    assert monitor["spec"]["selector"]["matchLabels"] == only(objects, "Service", "api")["spec"]["selector"]
    assert monitor["spec"]["endpoints"][0]["path"] == "/metrics" and monitor["spec"]["endpoints"][0]["port"] == "http"
    assert monitor["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    # Off by default: they need the operator's CRDs.
    assert not [o for o in render() if o["kind"] in CRD_KINDS]


def test_network_policy_admits_only_the_api_port():
    policies = {p["metadata"]["name"]: p["spec"] for p in render(FULL) if p["kind"] == "NetworkPolicy"}
    api = next(p for name, p in policies.items() if name.endswith("-api"))
    assert api["ingress"][0]["ports"] == [{"port": "http", "protocol": "TCP"}]
    jobs = next(p for name, p in policies.items() if name.endswith("-jobs"))
    assert "ingress" not in jobs and "Ingress" in jobs["policyTypes"], "jobs accept no connection"
    # The jobs policy selects the ingester's and the bootstrap's pods.
    objects = render(FULL)
    expr = {e["key"]: set(e["values"]) for e in jobs["podSelector"]["matchExpressions"]}
    for kind, component in (("CronJob", "ingester"), ("Job", "bootstrap")):
        obj = only(objects, kind, component)
        template = obj["spec"]["jobTemplate"]["spec"]["template"] if kind == "CronJob" else obj["spec"]["template"]
        labels = template["metadata"]["labels"]
        assert all(labels[k] in v for k, v in expr.items()), component
    for policy in policies.values():
        assert {"ports": [{"port": 53, "protocol": "UDP"}, {"port": 53, "protocol": "TCP"}]} in policy["egress"]


def test_release_names_fit_kubernetes_limits():
    long_release = "a-release-name-that-is-quite-long-indeed-really"
    text = run(tool("helm"), "template", long_release, CHART, "--kube-version", K8S_VERSIONS[-1]).stdout
    for obj in (d for d in yaml.safe_load_all(text) if d):
        limit = 52 if obj["kind"] == "CronJob" else 63
        assert len(obj["metadata"]["name"]) <= limit, obj["metadata"]["name"]
    names = {o["metadata"]["name"] for o in render() if o["kind"] == "Service"}
    assert names == {f"{RELEASE}-api"}, "skaffold.yaml port-forwards this Service"
