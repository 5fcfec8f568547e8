"""deploy/ is checked by parsing and validating its files (no Docker engine runs here)."""

import re
import xml.etree.ElementTree as ET
from pathlib import Path

import yaml

DEPLOY = Path(__file__).resolve().parents[1] / "deploy"


def test_compose_services_and_wiring():
    compose = yaml.safe_load((DEPLOY / "docker-compose.yml").read_text())
    services = compose["services"]
    assert set(services) >= {"kafka", "clickhouse", "worker", "grafana"}
    kafka = services["kafka"]["environment"]
    assert "controller" in kafka["KAFKA_PROCESS_ROLES"] and "ZOOKEEPER" not in " ".join(kafka)
    assert kafka["KAFKA_AUTO_CREATE_TOPICS_ENABLE"] == "false"
    worker = services["worker"]["environment"]
    assert worker["CX_KAFKA_BOOTSTRAP"] == "kafka:9092"
    assert worker["CX_CLICKHOUSE_URL"].startswith("clickhouse://") and "@clickhouse:9000/cx" in worker["CX_CLICKHOUSE_URL"]
    assert services["grafana"]["image"].endswith(":11.6.0")
    assert (DEPLOY / services["worker"]["build"]["dockerfile"].removeprefix("deploy/")).is_file()


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
