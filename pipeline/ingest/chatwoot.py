"""Chatwoot's webhooks as touchpoints (pure: no I/O).

Chatwoot (an open-source helpdesk) posts one JSON payload per event to a webhook URL. Each payload
becomes zero or more touchpoints in our contract; what it becomes is in docs/ingest.md
("Chatwoot"), and each rule is here once:

- the conversation is the case (`{source}-{display id}`: one token per Chatwoot account keeps two
  accounts' conversation numbers apart), its contact the customer, its inbox type the channel;
- a customer's message (`incoming`) is a `customer_message`; an agent's public reply (`outgoing`,
  sent by a user) an `agent_reply`; private notes, bot and automation messages, templates and edits
  are not replies the customer received from a person, so they change no SLA clock (ignored);
- a status change to `resolved` is `resolved`, back to `open` from `resolved` is `reopened`; an
  assignee or team change away from someone (not the first assignment) is a `transfer`;
- ids are derived from Chatwoot's own (message id; conversation, status and change time), so a
  payload sent twice is the same event and shows once in the views.

Signatures: Chatwoot (4.x) signs a webhook that has a secret with `X-Chatwoot-Signature:
sha256=HEX`, the HMAC-SHA256 of `{X-Chatwoot-Timestamp}.{raw body}`.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pipeline.events.models import Actor, Channel, Kind, Priority

TEXT_MAX = 20_000  # the contract's limit: a longer message keeps its start (an email thread's tail is quoted history)
SIGNATURE_TOLERANCE = 300  # seconds a signed request may be old (or ahead): a replayed capture is refused after that

# Chatwoot's inbox types (`Channel::*`) as our channels; anything else is a chat.
CHANNELS: dict[str, Channel] = {
    "Channel::WebWidget": Channel.chat,
    "Channel::Whatsapp": Channel.chat,
    "Channel::Telegram": Channel.chat,
    "Channel::Line": Channel.chat,
    "Channel::TwilioSms": Channel.chat,
    "Channel::Sms": Channel.chat,
    "Channel::Email": Channel.email,
    "Channel::Api": Channel.app,
    "Channel::FacebookPage": Channel.social,
    "Channel::Instagram": Channel.social,
    "Channel::TwitterProfile": Channel.social,
    "Channel::Tiktok": Channel.social,
    "Channel::Voice": Channel.phone,
}
# Chatwoot's conversation priority (urgent, high, medium, low, none) as ours.
PRIORITIES: dict[str | None, Priority] = {"urgent": Priority.high, "high": Priority.high, "low": Priority.low}


class NotMapped(ValueError):
    """A payload that names a mapped event but lacks what the mapping needs (the reason says what)."""


@dataclass(frozen=True)
class Mapped:
    """What one webhook payload became: touchpoints, or the reason there are none."""

    event: str
    touchpoints: list[dict[str, Any]]
    ignored: str | None = None  # why nothing came of it (a deliberate rule, not an error)


def verify_signature(secret: str, body: bytes, timestamp: str | None, signature: str | None, now: float) -> str | None:
    """None when `signature` is Chatwoot's for `body` at `timestamp` and recent; else what is wrong."""
    if not timestamp or not signature:
        return "X-Chatwoot-Signature and X-Chatwoot-Timestamp are required (a webhook secret is configured)"
    try:
        sent = int(timestamp)
    except ValueError:
        return "X-Chatwoot-Timestamp is not a Unix time"
    expected = "sha256=" + hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected.encode(), signature.strip().encode()):
        return "X-Chatwoot-Signature does not match the body and the configured secret"
    if abs(now - sent) > SIGNATURE_TOLERANCE:
        return f"X-Chatwoot-Timestamp is more than {SIGNATURE_TOLERANCE} s from now (a replayed request?)"
    return None


def map_payload(payload: Any, source: str) -> Mapped:
    """The touchpoints one Chatwoot webhook payload stands for; `NotMapped` if it lacks what they need."""
    if not isinstance(payload, dict):
        raise NotMapped("a Chatwoot webhook payload is a JSON object")
    event = payload.get("event")
    if not isinstance(event, str):
        raise NotMapped("no 'event' name: not a Chatwoot webhook payload")
    handler = _HANDLERS.get(event)
    if handler is None:
        return Mapped(event, [], ignored=_IGNORED.get(event, f"{event}: nothing happened on a case"))
    return handler(payload, source)


# -- events ---------------------------------------------------------------------------------------


def _conversation_created(p: dict, source: str) -> Mapped:
    # Opened by Chatwoot, not by a customer speaking: the first-response clock starts at the
    # customer's first message (its own webhook), so a conversation an agent starts owes no reply.
    conv = _Conversation(p, source)
    ts = _time(p.get("created_at")) or _time(p.get("timestamp"))
    if ts is None:
        raise NotMapped("conversation_created without created_at or timestamp")
    return Mapped("conversation_created", [conv.touchpoint(f"{conv.case_id}-opened", Kind.contact_opened, Actor.system, ts)])


def _message_created(p: dict, source: str) -> Mapped:
    conv = _Conversation(_dict(p.get("conversation"), "message_created without its conversation"), source)
    message_id = p.get("id")
    if message_id is None:
        raise NotMapped("message_created without the message id")
    sender = p.get("sender") if isinstance(p.get("sender"), dict) else {}
    kind = p.get("message_type")
    if kind in ("incoming", 0):
        tp_kind, actor, agent = Kind.customer_message, Actor.customer, None
    elif kind in ("outgoing", 1):
        if p.get("private"):
            return Mapped("message_created", [], ignored="a private note: the customer did not see it")
        if sender.get("type") != "user":
            return Mapped("message_created", [], ignored="a bot's or an automation's message: not a person's reply")
        tp_kind, actor, agent = Kind.agent_reply, Actor.agent, _agent(source, sender)
    else:
        return Mapped("message_created", [], ignored=f"a {kind} message (activity or template): not a conversation turn")
    ts = _time(p.get("created_at"))
    if ts is None:
        raise NotMapped("message_created without created_at")
    text = p.get("content") if isinstance(p.get("content"), str) else None
    extra: dict[str, Any] = {"message_id": message_id}
    if text is not None and len(text) > TEXT_MAX:
        text, extra["text_truncated"] = text[:TEXT_MAX], True
    return Mapped("message_created", [conv.touchpoint(f"{source}-msg-{message_id}", tp_kind, actor, ts, agent, text, extra)])


def _conversation_status_changed(p: dict, source: str) -> Mapped:
    conv = _Conversation(p, source)
    before, now = _change(p, "status")
    now = now or p.get("status")
    if now == "resolved":
        kind, actor = Kind.resolved, Actor.agent
    elif now == "open" and before == "resolved":
        kind, actor = Kind.reopened, Actor.system  # a customer writing again reopens it: their message is its own event
    else:
        return Mapped("conversation_status_changed", [], ignored=f"status {before or '?'} -> {now}: no case event")
    ts = _change_time(p)
    agent = _agent(source, conv.assignee)
    return Mapped("conversation_status_changed", [conv.touchpoint(f"{conv.case_id}-{kind.value}-{_stamp(ts)}", kind, actor, ts, agent)])


def _conversation_updated(p: dict, source: str) -> Mapped:
    conv = _Conversation(p, source)
    agent_before, agent_now = _change(p, "assignee_id")
    team_before, team_now = _change(p, "team_id")
    # The first assignment (from nobody) routes the case; a change away from someone passes it on.
    moved_agent = agent_before is not None and agent_now != agent_before
    moved_team = team_before is not None and team_now != team_before
    if not (moved_agent or moved_team):
        return Mapped("conversation_updated", [], ignored="no reassignment away from an agent or a team")
    ts = _change_time(p)
    attrs = {"from_agent_id": _agent_id(source, agent_before)} if agent_before is not None else {}
    if agent_now is not None:
        attrs["to_agent_id"] = _agent_id(source, agent_now)
    if moved_team and conv.team_name:
        attrs["to_department"] = conv.team_name
    tp = conv.touchpoint(f"{conv.case_id}-transfer-{_stamp(ts)}", Kind.transfer, Actor.agent, ts, None, None, attrs)
    return Mapped("conversation_updated", [tp])


_IGNORED = {
    "message_updated": "an edit of a message already counted: its time is the message's",
    "conversation_opened": "superseded by conversation_status_changed (Chatwoot sends both)",
    "conversation_resolved": "superseded by conversation_status_changed (Chatwoot sends both)",
}
_HANDLERS = {
    "conversation_created": _conversation_created,
    "message_created": _message_created,
    "conversation_status_changed": _conversation_status_changed,
    "conversation_updated": _conversation_updated,
}


# -- the pieces of a payload ----------------------------------------------------------------------


class _Conversation:
    """What every touchpoint of a conversation carries: case, customer, channel, priority, team."""

    def __init__(self, c: dict, source: str):
        self.source = source
        display_id = c.get("id")
        if display_id is None:
            raise NotMapped("the conversation has no id")
        self.case_id = f"{source}-{display_id}"
        meta = c.get("meta") if isinstance(c.get("meta"), dict) else {}
        contact = meta.get("sender") if isinstance(meta.get("sender"), dict) else {}
        inbox = c.get("contact_inbox") if isinstance(c.get("contact_inbox"), dict) else {}
        contact_id = contact.get("id", inbox.get("contact_id"))
        if contact_id is None:
            raise NotMapped("the conversation names no contact (meta.sender.id or contact_inbox.contact_id)")
        self.customer_id = f"{source}-contact-{contact_id}"
        self.channel = CHANNELS.get(_str(c.get("channel")), Channel.chat)
        self.priority = PRIORITIES.get(_str(c.get("priority")), Priority.normal)
        self.assignee = meta.get("assignee") if isinstance(meta.get("assignee"), dict) else None
        team = meta.get("team") if isinstance(meta.get("team"), dict) else None
        self.team_name = team.get("name") if team and isinstance(team.get("name"), str) else None
        self.inbox_id = c.get("inbox_id")

    def touchpoint(
        self,
        event_id: str,
        kind: Kind,
        actor: Actor,
        ts: datetime,
        agent_id: str | None = None,
        text: str | None = None,
        extra: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """A touchpoint of this conversation, in the contract's JSON form."""
        tp: dict[str, Any] = {
            "event_id": event_id,
            "case_id": self.case_id,
            "customer_id": self.customer_id,
            "channel": self.channel.value,
            "kind": kind.value,
            "actor": actor.value,
            "ts": ts.isoformat().replace("+00:00", "Z"),
            "priority": self.priority.value,
            "attrs": {"source": self.source, **({"chatwoot_inbox_id": self.inbox_id} if self.inbox_id is not None else {}), **(extra or {})},
        }
        if agent_id is not None:
            tp["agent_id"] = agent_id
        if self.team_name and actor is not Actor.customer:
            tp["department"] = self.team_name
        if text is not None:
            tp["text"] = text
        return tp


def _str(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _dict(value: Any, missing: str) -> dict:
    if not isinstance(value, dict):
        raise NotMapped(missing)
    return value


def _agent_id(source: str, user_id: Any) -> str:
    return f"{source}-agent-{user_id}"


def _agent(source: str, user: dict | None) -> str | None:
    return _agent_id(source, user["id"]) if user and user.get("id") is not None else None


def _change(p: dict, attribute: str) -> tuple[Any, Any]:
    """(previous, current) of `attribute` in Chatwoot's `changed_attributes`; (None, None) if it did not change."""
    changes = p.get("changed_attributes")
    for change in changes if isinstance(changes, list) else []:
        if isinstance(change, dict) and isinstance(change.get(attribute), dict):
            values = change[attribute]
            return values.get("previous_value"), values.get("current_value")
    return None, None


def _change_time(p: dict) -> datetime:
    # `updated_at` is the change itself; older Chatwoot sends only `timestamp` (the last activity).
    ts = _time(p.get("updated_at")) or _time(p.get("timestamp"))
    if ts is None:
        raise NotMapped(f"{p.get('event')} without updated_at or timestamp")
    return ts


def _time(value: Any) -> datetime | None:
    """Chatwoot's times: Unix seconds (int or float), ISO 8601, or Rails' `2020-03-03 13:05:57 UTC`."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        try:
            return datetime.fromtimestamp(value, UTC)
        except (OverflowError, OSError, ValueError):
            return None
    if isinstance(value, str):
        text = value.strip()
        if text.endswith(" UTC"):
            text = text[:-4] + "+00:00"
        try:
            ts = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            return None
        return ts if ts.tzinfo is not None else ts.replace(tzinfo=UTC)
    return None


def _stamp(ts: datetime) -> str:
    return str(round(ts.timestamp() * 1000))


def parse(body: bytes) -> Any:
    """The payload, or `NotMapped` when the body is not JSON."""
    try:
        return json.loads(body)
    except (ValueError, RecursionError) as exc:
        raise NotMapped(f"the body is not JSON ({exc.__class__.__name__})") from None
