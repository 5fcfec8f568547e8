"""deploy/ is checked by parsing and validating its files (no Docker engine runs here)."""

import re
from importlib import resources
import xml.etree.ElementTree as ET
from pathlib import Path

import yaml

from pipeline.config import Settings, Targets

DEPLOY = Path(__file__).resolve().parents[1] / "deploy"


def test_compose_services_and_wiring():
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    services = compose["services"]
    assert set(services) >= {"kafka", "clickhouse", "migrate", "worker", "grafana"}
    kafka = services["kafka"]["environment"]
    assert "controller" in kafka["KAFKA_PROCESS_ROLES"] and "ZOOKEEPER" not in " ".join(kafka)
    assert kafka["KAFKA_AUTO_CREATE_TOPICS_ENABLE"] == "false"
    worker = services["worker"]
    env = worker["environment"]
    assert env["CX_KAFKA_BOOTSTRAP"] == "kafka:9092"
    assert env["CX_CLICKHOUSE_URL"].startswith("clickhouse://cx_writer:") and "@clickhouse:9000/cx" in env["CX_CLICKHOUSE_URL"]
    assert services["clickhouse"]["environment"]["CLICKHOUSE_USER"] == "cx_writer"
    # Migrations run once, before any worker; workers scale out in one consumer group.
    assert services["migrate"]["command"] == ["cx", "migrate"] and services["migrate"]["environment"] == env
    assert worker["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    assert worker["deploy"]["replicas"] >= 2 and int(env["CX_PARTITIONS"]) >= worker["deploy"]["replicas"]
    mounts = {m.split(":")[1]: m.split(":")[0] for m in worker["volumes"]}
    assert (DEPLOY / mounts[str(Path(env["CX_SLA_POLICY"]).parent) + "/sla_policy.yaml"]).is_file()
    assert services["grafana"]["image"].endswith(":11.6.0")
    assert (DEPLOY / services["worker"]["build"]["dockerfile"].removeprefix("deploy/")).is_file()


def test_dockerfile_installs_the_package_not_the_source_tree():
    docker = (DEPLOY / "Dockerfile").read_text()
    assert "pip install --no-cache-dir ." in docker and "-e ." not in docker
    assert "CX_MIGRATIONS_DIR" not in docker and "USER cx" in docker


def test_kubernetes_manifests():
    kustomization = yaml.safe_load((DEPLOY / "kustomization.yaml").read_text())
    docs = [d for path in kustomization["resources"] for d in yaml.safe_load_all((DEPLOY / path).read_text())]
    by_kind = {d["kind"]: d for d in docs if d["metadata"]["name"] != "cx-ingest"}
    assert set(by_kind) == {"ConfigMap", "Deployment", "PodDisruptionBudget"}
    ingest = {d["kind"]: d for d in docs if d["metadata"]["name"] == "cx-ingest"}
    assert set(ingest) == {"Deployment", "Service"}
    (front,) = ingest["Deployment"]["spec"]["template"]["spec"]["containers"]
    assert front["command"] == ["cx", "ingest"] and front["readinessProbe"]["httpGet"]["path"] == "/readyz"
    # Secrets from the cluster's secret, never from the config map: the tokens, and Chatwoot's secret if given.
    assert [e["name"] for e in front["env"]] == ["CX_INGEST_TOKENS", "CX_INGEST_CHATWOOT_SECRET"]
    assert all("secretKeyRef" in e["valueFrom"] for e in front["env"]) and front["env"][1]["valueFrom"]["secretKeyRef"]["optional"]
    (files,) = kustomization["configMapGenerator"]
    for entry in files["files"]:
        assert (DEPLOY / entry.split("=")[-1]).is_file(), entry
    pod = by_kind["Deployment"]["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert container["command"] == ["cx", "worker"]
    assert container["envFrom"] == [{"configMapRef": {"name": by_kind["ConfigMap"]["metadata"]["name"]}}]
    secrets = {e["name"]: e["valueFrom"]["secretKeyRef"] for e in container["env"]}
    assert secrets["CX_CLICKHOUSE_URL"]["name"] == "cx-secrets" and not any("value" in e for e in container["env"])
    config = by_kind["ConfigMap"]["data"]
    assert not set(config) & set(secrets), "a secret in the ConfigMap"
    mount = next(m for m in container["volumeMounts"] if m["name"] == files["name"] or m["name"] == "cx-files")
    names = {entry.split("=")[0] for entry in files["files"]}
    assert {Path(config["CX_SLA_POLICY"]).name, Path(config["CX_ALERTS_CONFIG"]).name} <= names
    assert Path(config["CX_SLA_POLICY"]).parent == Path(mount["mountPath"])
    assert by_kind["Deployment"]["spec"]["replicas"] <= int(config["CX_PARTITIONS"])


def test_deployed_sla_policy_is_the_packaged_default():
    # A copy of the one source (pipeline/sla/default_policy.yaml): cp it over deploy/sla_policy.yaml.
    packaged = resources.files("pipeline.sla").joinpath("default_policy.yaml").read_text("utf-8")
    assert (DEPLOY / "sla_policy.yaml").read_text("utf-8") == packaged


def test_every_setting_is_documented_and_deployed():
    """Every CX_* variable the code reads is in the configuration doc and set (or referenced) in the deploy files."""
    readme = (DEPLOY.parent / "docs" / "configuration.md").read_text()
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    k8s = "".join((DEPLOY / "k8s" / name).read_text() for name in ("config.yaml", "worker.yaml", "ingest.yaml"))
    read_by_code = set(Settings.variables())
    source = "\n".join(p.read_text() for root in ("pipeline", "streams", "dashboards") for p in (DEPLOY.parent / root).rglob("*.py"))
    mentioned = set(re.findall(r"\bCX_[A-Z][A-Z_]*[A-Z]\b", source)) - {"CX_TARGET"}
    assert mentioned <= read_by_code, f"read outside the settings model: {mentioned - read_by_code}"
    assert not [v for v in read_by_code if f"`{v}`" not in readme], "undocumented in docs/configuration.md"
    assert not [v for v in read_by_code if v not in compose["x-cx-env"] and v not in ("CX_REVIEWS_DIR", "CX_GRAFANA_TOKEN", "CX_GRAFANA_CLICKHOUSE_PASSWORD")]
    assert not [v for v in read_by_code if v not in k8s]


def test_no_secret_is_written_in_deploy_files():
    literal = re.compile(r"(?i)password\w*[\"']?\s*[:=]\s*[\"']?([^\s\"'<>]+)")
    for path in DEPLOY.rglob("*"):
        if path.is_file():
            for line in path.read_text().splitlines():
                # Passwords only as ${VAR} / $VAR references or from_env, never a literal value.
                bare = re.sub(r"\$\{[^}]*\}|\$[A-Z_]+", "", line)
                assert not literal.search(bare), (path, line)


def test_grafana_datasource_and_clickhouse_users_parse():
    ds = yaml.safe_load((DEPLOY / "grafana/provisioning/datasources/clickhouse.yaml").read_text())
    (source,) = ds["datasources"]
    assert source["type"] == "grafana-clickhouse-datasource" and source["uid"] == "cx-clickhouse"
    assert source["jsonData"]["defaultDatabase"] == "cx"
    users = ET.parse(DEPLOY / "clickhouse/users.d/grafana_reader.xml").getroot()
    assert users.find("users/grafana_reader/profile").text == "readonly"


def test_the_configuration_doc_is_what_the_settings_model_says():
    from pipeline.config import configuration_doc

    committed = (DEPLOY.parent / "docs" / "configuration.md").read_text(encoding="utf-8")
    assert committed == configuration_doc(), "docs/configuration.md is stale: run `python -m pipeline.config`"
    assert all(f.description for f in Settings.model_fields.values() if f.annotation is not Targets)
