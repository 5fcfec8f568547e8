"""The subscribers file: loading, validation that names the subscriber and field, secrets."""

import pytest
from typer.testing import CliRunner

import pipeline.cli.alerts as alerts_cli
from pipeline.alerts import AlertsConfigError, load_subscribers, parse_subscribers
from pipeline.cli.app import app

GOOD = """
subscribers:
  - name: ops-webhook
    channel: webhook
    url: https://ops.example/hook
    secret: ${OPS_HOOK_SECRET}
    rules: [first_response, next_reply, handoffs, promise]
    channels: [chat, phone]
    departments: [客服部]
    priorities: [high, normal]
    rate_limit_per_minute: 20
    escalate_after: 15
    escalate_to: duty-manager
    recovery: true
  - name: duty-manager
    channel: dingtalk
    webhook: https://oapi.dingtalk.com/robot/send?access_token=${DINGTALK_TOKEN}
    secret: ${DINGTALK_SECRET}
  - name: complaints
    channel: feishu
    webhook: https://open.feishu.cn/open-apis/bot/v2/hook/${FEISHU_HOOK}
  - name: leads-group
    channel: wecom
    webhook: https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=${WECOM_KEY}
  - name: mail-leads
    channel: email
    smtp: smtp://user@mail.example:587?starttls=true
    to: [lead@example.com]
"""
ENV = {"OPS_HOOK_SECRET": "hook-secret", "DINGTALK_TOKEN": "tok", "DINGTALK_SECRET": "SECabc", "FEISHU_HOOK": "fh", "WECOM_KEY": "wk"}


def test_the_issue_example_loads_with_vendor_defaults():
    f = parse_subscribers(GOOD, env=ENV, smtp_password="mail-pw")
    ops, duty, complaints, wecom, mail = f.subscribers
    assert ops.secret.get_secret_value() == "hook-secret" and ops.per_minute == 20
    assert ops.wants("first_response", "chat", "客服部", "high")
    assert not ops.wants("first_response", "email", "客服部", "high")
    assert not ops.wants("resolution", "chat", "客服部", "high")
    assert not ops.wants("first_response", "chat", "售后部", "high")
    assert not ops.wants("first_response", "chat", "客服部", "low")
    assert duty.endpoint.endswith("access_token=tok") and duty.per_minute == 20 and duty.per_second is None
    assert complaints.per_minute == 100 and complaints.per_second == 5
    assert wecom.per_minute == 20
    assert mail.password.get_secret_value() == "mail-pw"
    # Defaults: every rule, channel, department and priority.
    assert duty.wants("follow_up", "field", None, "low")


def test_secrets_never_print():
    f = parse_subscribers(GOOD, env=ENV, smtp_password="mail-pw")
    text = repr(f) + str(f.model_dump())
    assert "hook-secret" not in text and "SECabc" not in text and "mail-pw" not in text
    assert "tok" not in f.get("duty-manager").where


@pytest.mark.parametrize(
    "change,words",
    [
        (("secret: ${OPS_HOOK_SECRET}", "secret: plain-text-secret"), ["ops-webhook", "secret", "${ENV_VAR}"]),
        (("secret: ${DINGTALK_SECRET}", "secret: ${NOT_SET}"), ["duty-manager", "secret", "NOT_SET"]),
        (("escalate_to: duty-manager", "escalate_to: nobody"), ["ops-webhook", "nobody"]),
        (("to: [lead@example.com]", "to: [not-an-address]"), ["mail-leads", "to", "not-an-address"]),
        (("rate_limit_per_minute: 20", "rate_limit_per_minute: 0"), ["ops-webhook", "rate_limit_per_minute"]),
        (("channel: feishu", "channel: telegram"), ["complaints", "channel"]),
        (("    url: https://ops.example/hook\n", ""), ["ops-webhook", "url"]),
        (("name: mail-leads", "name: ops-webhook"), ["ops-webhook", "twice"]),
        (("smtp: smtp://user@mail.example:587", "smtp: smtp://user:pw@mail.example:587"), ["mail-leads", "CX_SMTP_PASSWORD"]),
        (("    escalate_after: 15\n", ""), ["ops-webhook", "escalate_after"]),
        (("rules: [first_response", "rules: [first_reply"), ["ops-webhook", "rules"]),
    ],
)
def test_a_bad_file_names_the_subscriber_and_field(change, words):
    old, new = change
    assert old in GOOD
    with pytest.raises(AlertsConfigError) as err:
        parse_subscribers(GOOD.replace(old, new, 1), env=ENV)
    for word in words:
        assert word in str(err.value)


def test_not_yaml_and_missing_file(tmp_path):
    with pytest.raises(AlertsConfigError, match="YAML"):
        parse_subscribers("subscribers: [", env={})
    with pytest.raises(AlertsConfigError, match="cannot read"):
        load_subscribers(tmp_path / "missing.yaml")


def test_cx_alerts_check_shows_each_subscriber(tmp_path, monkeypatch):
    path = tmp_path / "subs.yaml"
    path.write_text(GOOD, encoding="utf-8")
    for k, v in ENV.items():
        monkeypatch.setenv(k, v)
    # The command's console took its width when it was imported, maybe in a process without COLUMNS.
    monkeypatch.setattr(alerts_cli.console, "width", 250)
    result = CliRunner().invoke(app, ["alerts", "check", str(path)], env={"COLUMNS": "250"})
    assert result.exit_code == 0, result.output
    for name in ("ops-webhook", "duty-manager", "complaints", "leads-group", "mail-leads", "after 15 min -> duty-manager", "100/min, 5/s"):
        assert name in result.output
    assert "首次响应超时" in result.output and "SECabc" not in result.output and "tok" not in result.output
    bad = tmp_path / "bad.yaml"
    bad.write_text(GOOD.replace("${OPS_HOOK_SECRET}", "literal"), encoding="utf-8")
    result = CliRunner().invoke(app, ["alerts", "check", str(bad)], env={"COLUMNS": "250"})
    assert result.exit_code == 2 and "ops-webhook" in result.output


def test_the_deploy_example_file_is_valid():
    from pathlib import Path

    example = Path(__file__).resolve().parents[2] / "deploy" / "alerts" / "subscribers.example.yaml"
    env = {k: "x" for k in ("OPS_HOOK_SECRET", "DINGTALK_TOKEN", "DINGTALK_SECRET", "WECOM_KEY", "FEISHU_HOOK", "FEISHU_SECRET")}
    f = load_subscribers(example, env=env, smtp_password="pw")
    assert {s.channel for s in f.subscribers} == {"webhook", "dingtalk", "wecom", "feishu", "email"}
