"""`cx dashboards push` against a local server that records each request and answers as Grafana's
HTTP API documents it (no Grafana can run here): paths, methods, auth and bodies are checked, and a
second push must only read."""

import json
import os
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

CX = str(Path(sys.executable).with_name("cx"))
TOKEN = "glsa_test_token"


class FakeGrafana(BaseHTTPRequestHandler):
    """Grafana 11 HTTP API: folders, datasources, dashboards, alert-rule provisioning."""

    state: dict
    log: list

    def log_message(self, *args):  # keep pytest output clean
        pass

    def _send(self, status: int, body) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _body(self):
        length = int(self.headers.get("Content-Length") or 0)
        return json.loads(self.rfile.read(length)) if length else None

    def _handle(self, method: str) -> None:
        body = self._body() if method in ("POST", "PUT") else None
        self.log.append((method, self.path, body, self.headers.get("Authorization"), self.headers.get("Content-Type")))
        if self.headers.get("Authorization") != f"Bearer {TOKEN}":
            return self._send(401, {"message": "Unauthorized"})
        s, path = self.state, self.path.split("?")[0]
        match method, path.strip("/").split("/"):
            case "GET", ["api", "folders", uid]:
                return self._send(200, s["folders"][uid]) if uid in s["folders"] else self._send(404, {"message": "folder not found"})
            case "POST", ["api", "folders"]:
                assert body["title"] and body["uid"]
                s["folders"][body["uid"]] = {"uid": body["uid"], "title": body["title"], "version": 1}
                return self._send(200, s["folders"][body["uid"]])
            case "GET", ["api", "datasources", "uid", uid]:
                return self._send(200, s["datasources"][uid]) if uid in s["datasources"] else self._send(404, {"message": "Data source not found"})
            case "POST", ["api", "datasources"]:
                assert {"name", "type", "access"} <= set(body), body
                stored = {k: v for k, v in body.items() if k != "secureJsonData"}  # never returned
                s["datasources"][body["uid"]] = stored | {"id": 1}
                return self._send(200, {"datasource": stored, "id": 1, "message": "Datasource added", "name": body["name"]})
            case "PUT", ["api", "datasources", "uid", uid]:
                s["datasources"][uid] = {k: v for k, v in body.items() if k != "secureJsonData"} | {"id": 1}
                return self._send(200, {"message": "Datasource updated"})
            case "GET", ["api", "dashboards", "uid", uid]:
                if uid not in s["dashboards"]:
                    return self._send(404, {"message": "Dashboard not found"})
                dash, folder = s["dashboards"][uid]
                return self._send(200, {"dashboard": dash, "meta": {"folderUid": folder, "slug": uid}})
            case "POST", ["api", "dashboards", "db"]:
                dash = body["dashboard"]
                assert dash["uid"] and dash["title"] and "id" not in dash and body["overwrite"] is True, body
                assert body["folderUid"] in s["folders"], "folder must exist before its dashboards"
                version = s["dashboards"].get(dash["uid"], ({"version": 0}, None))[0]["version"] + 1
                s["dashboards"][dash["uid"]] = (dash | {"id": 7, "version": version}, body["folderUid"])
                return self._send(200, {"status": "success", "uid": dash["uid"], "version": version, "id": 7})
            case "GET", ["api", "v1", "provisioning", "alert-rules", uid]:
                return self._send(200, s["rules"][uid]) if uid in s["rules"] else self._send(404, {"message": "not found"})
            case ("POST", ["api", "v1", "provisioning", "alert-rules"]) | ("PUT", ["api", "v1", "provisioning", "alert-rules", _]):
                # POST/PUT /api/v1/provisioning/alert-rules: the documented ProvisionedAlertRule fields.
                assert {"title", "condition", "data", "folderUID", "ruleGroup", "for", "noDataState", "execErrState"} <= set(body), body
                assert body["folderUID"] in s["folders"] and body["condition"] in {q["refId"] for q in body["data"]}
                assert body["noDataState"] in ("Alerting", "NoData", "OK") and body["execErrState"] in ("OK", "Alerting", "Error")
                for query in body["data"]:
                    assert query["datasourceUid"] in ("__expr__", *s["datasources"]) and query["model"]["refId"] == query["refId"]
                s["rules"][body["uid"]] = body | {"id": len(s["rules"]) + 1, "orgID": 1, "updated": "2026-11-24T00:00:00Z", "provenance": "api"}
                return self._send(201 if method == "POST" else 200, s["rules"][body["uid"]])
        return self._send(404, {"message": f"no route {method} {path}"})

    def do_GET(self):
        self._handle("GET")

    def do_POST(self):
        self._handle("POST")

    def do_PUT(self):
        self._handle("PUT")


@pytest.fixture
def grafana():
    handler = type("Handler", (FakeGrafana,), {"state": {"folders": {}, "datasources": {}, "dashboards": {}, "rules": {}}, "log": []})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}", handler
    server.shutdown()


def _push(url: str, **env):
    environment = {**os.environ, "CX_GRAFANA_TOKEN": TOKEN, **env}
    return subprocess.run([CX, "dashboards", "push", "--url", url], env=environment, capture_output=True, text=True, timeout=120)


def test_first_push_creates_everything_and_a_second_changes_nothing(grafana):
    url, handler = grafana
    first = _push(url, CX_GRAFANA_CLICKHOUSE_PASSWORD="s3cret-reader")
    assert first.returncode == 0, first.stderr
    writes = [(m, p) for m, p, *_ in handler.log if m != "GET"]
    assert writes[0] == ("POST", "/api/folders")  # the folder before what goes in it
    assert writes.count(("POST", "/api/dashboards/db")) == 4
    assert writes.count(("POST", "/api/v1/provisioning/alert-rules")) == 4
    assert ("POST", "/api/datasources") in writes
    assert all(auth == f"Bearer {TOKEN}" for *_, auth, _ in handler.log)
    assert all(ctype.startswith("application/json") for m, *_, ctype in handler.log if m != "GET"), {c for *_, c in handler.log}
    (datasource,) = [b for m, p, b, *_ in handler.log if p == "/api/datasources"]
    assert datasource["secureJsonData"] == {"password": "s3cret-reader"}
    assert "s3cret-reader" not in first.stdout + first.stderr
    assert set(handler.state["dashboards"]) == {"cx-overview", "cx-latency", "cx-voice", "cx-closed-loop"}

    handler.log.clear()
    second = _push(url)
    assert second.returncode == 0, second.stderr
    assert [m for m, *_ in handler.log] == ["GET"] * len(handler.log) and handler.log
    assert "created" not in second.stdout and "updated" not in second.stdout
    assert {v for _, (d, _) in handler.state["dashboards"].items() for v in [d["version"]]} == {1}


def test_push_updates_only_what_differs(grafana):
    url, handler = grafana
    assert _push(url).returncode == 0
    handler.state["rules"]["cx-sla-attainment"]["for"] = "1m"  # someone edited it in Grafana
    handler.log.clear()
    again = _push(url)
    assert again.returncode == 0, again.stderr
    assert [(m, p) for m, p, *_ in handler.log if m != "GET"] == [("PUT", "/api/v1/provisioning/alert-rules/cx-sla-attainment")]
    assert handler.state["rules"]["cx-sla-attainment"]["for"] == "10m"


def test_push_without_a_token_or_with_a_wrong_one_says_so(grafana):
    url, _ = grafana
    environment = {k: v for k, v in os.environ.items() if k != "CX_GRAFANA_TOKEN"}
    missing = subprocess.run([CX, "dashboards", "push", "--url", url], env=environment, capture_output=True, text=True, timeout=60)
    assert missing.returncode == 2 and "CX_GRAFANA_TOKEN" in missing.stderr
    wrong = _push(url, CX_GRAFANA_TOKEN="nope")
    assert wrong.returncode == 1 and "401" in wrong.stderr
