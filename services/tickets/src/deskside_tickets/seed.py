"""`make seed`: fill a running stack with a realistic desk, through its public API.

Groups for the three tiers, agents with the technologies they are trained
on, an extra SLA policy, and a few hundred tickets across consumer devices
and cloud services in every state: replied to, helped by phone or remote
session, escalated to tier 2 or to the vendor, resolved, rated, closed.
Inventory too: every employee's own devices (some out of compliance), the
consumer services they declared (some refused, some waiting for an agent),
and check-ins from the demo device-management integration that reveal apps
nobody declared: shadow IT for the adoption report to find.
Everything goes through the gateway as real users would, so events, history
and SLA clocks are all real. Running it again adds another batch of tickets.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
from standardwebhooks.webhooks import Webhook

from deskside_kit.ids import new_id
from deskside_kit.settings import (
    DEMO_CHECKIN_INTEGRATION,
    ServiceSettings,
    demo_checkin_secret,
    load_settings,
)
from deskside_kit.tokens import mint_token

# (key in the starter catalog, a name people use, the vendor, typical problems)
TECHNOLOGIES = [
    (
        "ios",
        "iPhone",
        "Apple",
        ["Mail stops syncing", "Cannot join the Wi-Fi", "Battery drains"],
    ),
    ("ipados", "iPad", "Apple", ["Company apps will not install", "Screen mirroring fails"]),
    ("macos", "MacBook", "Apple", ["VPN drops every hour", "Printer not found", "Slow start"]),
    ("android", "Android phone", "Google", ["Work profile missing", "Authenticator lost"]),
    ("windows", "Windows laptop", "Microsoft", ["BitLocker recovery", "Teams crashes"]),
    ("dropbox", "Dropbox", "Dropbox", ["Stopped syncing", "Shared folder vanished"]),
    ("google-drive", "Google Drive", "Google", ["Files read-only", "Storage full"]),
    ("onedrive", "OneDrive", "Microsoft", ["Sync conflicts", "Cannot sign in"]),
    ("icloud-drive", "iCloud", "Apple", ["Photos not uploading", "Keychain out of sync"]),
    ("gmail", "Gmail", "Google", ["Lost access after phone change", "Mail in spam"]),
    (
        "outlook-com",
        "Outlook",
        "Microsoft",
        ["Keeps asking for the password", "Calendar invites lost"],
    ),
    ("whatsapp", "WhatsApp", "Meta", ["Backup fails", "New phone, chats missing"]),
    ("zoom", "Zoom", "Zoom", ["No audio in meetings", "Screen share is black"]),
    ("slack", "Slack", "Salesforce", ["Notifications stopped", "Cannot join workspace"]),
]
PEOPLE = [
    ("amara", "Amara Okafor"),
    ("ben", "Ben Kowalski"),
    ("chen", "Chen Wei"),
    ("dana", "Dana Levi"),
    ("emil", "Emil Novak"),
    ("fatima", "Fatima Haddad"),
    ("gus", "Gus Moreau"),
    ("hana", "Hana Sato"),
    ("ivan", "Ivan Petrov"),
    ("jo", "Jo Mensah"),
    ("kim", "Kim Andersen"),
    ("lucia", "Lucía Romero"),
    ("mo", "Mo Farouk"),
    ("nina", "Nina Berg"),
    ("oscar", "Oscar Lind"),
    ("priya", "Priya Nair"),
    ("quinn", "Quinn Byrne"),
    ("rosa", "Rosa Díaz"),
]
AGENTS = [
    ("agnes", "Agnes Mwangi", 1, ["ios", "ipados", "icloud-drive", "whatsapp"]),
    ("bruno", "Bruno Costa", 1, ["windows", "outlook-com", "onedrive", "zoom"]),
    ("carla", "Carla Jensen", 1, ["android", "gmail", "google-drive", "slack"]),
    ("dev", "Dev Patel", 1, ["macos", "dropbox", "zoom"]),
    ("elena", "Elena Ruiz", 2, ["ios", "ipados", "macos", "icloud-drive"]),
    ("farid", "Farid Aziz", 2, ["windows", "android", "outlook-com"]),
    ("grace", "Grace Liu", 3, ["outlook-com", "onedrive", "gmail", "google-drive"]),
]
GROUPS = [("Service desk", 1, True), ("Device specialists", 2, False), ("Platform", 3, False)]
DEPARTMENTS = ["sales", "engineering", "finance", "marketing", "operations"]
# (platform key, model, OS versions people run: the first ones are below the catalog's minimum)
PLATFORMS = [
    ("ios", "iPhone 15", ["16.7", "17.5", "18.1", "18.1"]),
    ("ipados", "iPad Air", ["16.2", "17.6", "18.0"]),
    ("android", "Pixel 8", ["12", "14", "15"]),
    ("macos", "MacBook Air", ["13.6", "14.6", "15.1"]),
    ("windows", "Surface Laptop", ["10.0.19044", "10.0.22631"]),
]
# Services people declare for work, with the data they put there.
DECLARED = [
    ("dropbox", "Sharing files with customers"),
    ("google-drive", "Shared project documents"),
    ("onedrive", "Work files"),
    ("gmail", "A customer insists on Gmail"),
    ("evernote", "Meeting notes"),
    ("slack", "A partner's workspace"),
    ("zoom", "Customer calls"),
    ("wetransfer", "Sending large videos"),
    ("whatsapp", "Field team chat"),
]
# Apps the demo device management finds on work profiles; some nobody declared.
DISCOVERED_APPS = [
    ("com.whatsapp", "WhatsApp"),
    ("com.dropbox.android", "Dropbox"),
    ("org.telegram.messenger", "Telegram"),
    ("com.evernote", "Evernote"),
    ("us.zoom.videomeetings", "Zoom"),
    ("com.microsoft.teams", "Teams"),
]


class PatientTransport(httpx.HTTPTransport):
    """Waits out the gateway's rate limit (429 + Retry-After) as a polite client does."""

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        while True:
            response = super().handle_request(request)
            if response.status_code != 429:
                return response
            response.read()
            response.close()
            time.sleep(float(response.headers.get("retry-after", "1")))


@dataclass
class Desk:
    http: httpx.Client
    secret: str

    def as_(
        self, sub: str, role: str, name: str | None = None, department: str | None = None
    ) -> dict[str, str]:
        token = mint_token(
            self.secret,
            sub=sub,
            roles=[role],
            email=f"{sub}@example.com",
            name=name,
            department=department,
        )
        return {"Authorization": f"Bearer {token}"}

    def call(self, method: str, path: str, headers: dict[str, str], **kwargs: Any) -> Any:
        response = self.http.request(method, path, headers=headers, **kwargs)
        if response.status_code >= 400:
            raise SystemExit(f"{method} {path} failed: {response.status_code} {response.text}")
        return response.json() if response.content else None


def seed(desk: Desk, tickets: int, rng: random.Random) -> None:
    admin = desk.as_("seed-admin", "admin", "Seed Admin")
    existing = {group["name"]: group for group in desk.call("GET", "/v1/groups", admin)}
    groups = {}
    for name, tier, auto_assign in GROUPS:
        body = {"name": name, "tier": tier, "auto_assign": auto_assign}
        groups[tier] = existing.get(name) or desk.call("POST", "/v1/groups", admin, json=body)
    for sub, name, tier, skills in AGENTS:
        body = {
            "name": name,
            "email": f"{sub}@example.com",
            "tier": tier,
            "groups": [groups[tier]["id"]],
            "skills": skills,
        }
        desk.call("PUT", f"/v1/agents/{sub}", admin, json=body)
    policies = {policy["name"] for policy in desk.call("GET", "/v1/sla-policies", admin)}
    if "Executives 24x7" not in policies:
        targets = {
            p: {"first_response_minutes": m, "resolution_minutes": m * 8}
            for p, m in (("p1", 15), ("p2", 30), ("p3", 60), ("p4", 120))
        }
        desk.call(
            "POST",
            "/v1/sla-policies",
            admin,
            json={
                "name": "Executives 24x7",
                "targets": targets,
                "business_hours": {"always_open": True},
            },
        )

    levels = ["low", "medium", "medium", "high", "critical"]
    channels = ["web", "web", "email", "phone", "chat", "walk_in"]
    for number in range(tickets):
        key, label, vendor, problems = rng.choice(TECHNOLOGIES)
        sub, person = rng.choice(PEOPLE)
        requester = desk.as_(sub, "requester", person)
        agent_sub, agent_name, _, _ = rng.choice(AGENTS)
        agent = desk.as_(agent_sub, "agent", agent_name)
        channel = rng.choice(channels)
        body = {
            "title": f"{label}: {rng.choice(problems)}",
            "description": f"Reported by {person} via {channel.replace('_', ' ')}.",
            "channel": channel,
            "impact": rng.choice(levels),
            "urgency": rng.choice(levels),
            "technology": key,
            "work_stopped": rng.random() < 0.2,
        }
        if channel in ("phone", "walk_in"):
            body["requester"] = {"id": sub, "email": f"{sub}@example.com", "name": person}
            ticket = desk.call("POST", "/v1/tickets", agent, json=body)
        else:
            ticket = desk.call("POST", "/v1/tickets", requester, json=body)
        ref = f"/v1/tickets/{ticket['reference']}"
        stage = rng.random()
        if stage < 0.15:
            continue  # still new: somebody has to pick it up
        desk.call("POST", f"{ref}/assign", agent, json={"assignee_id": agent_sub})
        desk.call("POST", f"{ref}/start", agent)
        desk.call(
            "POST",
            f"{ref}/comments",
            agent,
            json={
                "body": f"Hi {person.split()[0]}, thanks for reporting this. Looking into it now."
            },
        )
        if rng.random() < 0.4:
            kind = rng.choice(["phone_call", "remote_session", "desk_visit", "advice"])
            interaction: dict[str, Any] = {
                "kind": kind,
                "duration_minutes": rng.randint(5, 45),
                "notes": f"Went through the {label} settings.",
            }
            if kind == "remote_session":
                interaction |= {
                    "remote_tool": "Quick Assist",
                    "remote_link": f"https://remote.example.com/s/{number}",
                }
            desk.call("POST", f"{ref}/interactions", agent, json=interaction)
        if rng.random() < 0.2:
            desk.call(
                "POST",
                f"{ref}/comments",
                agent,
                json={"body": f"Same symptom as last week's {label} cases.", "internal": True},
            )
        if stage < 0.3:
            desk.call("POST", f"{ref}/wait", agent, json={"on": "requester"})
            continue
        if stage < 0.4:
            desk.call(
                "POST",
                f"{ref}/escalations",
                agent,
                json={
                    "vendor": vendor,
                    "request": rng.choice(["support", "bug_report"]),
                    "vendor_case_ref": f"{vendor[:3].upper()}-{rng.randint(10000, 99999)}",
                    "evidence": [{"kind": "note", "content": f"Reproduced on a second {label}."}],
                },
            )
            continue
        if stage < 0.5:
            desk.call(
                "POST",
                f"{ref}/escalations",
                agent,
                json={
                    "to_tier": 2,
                    "reason": "Needs a device specialist",
                    "fault_domain": rng.choice(["device", "app", "account", "network"]),
                    "evidence": [
                        {"kind": "log", "content": f"{label} diagnostics: 0x{number:04x}"}
                    ],
                },
            )
            continue
        desk.call(
            "POST",
            f"{ref}/resolve",
            agent,
            json={"resolution": f"Signed out and back in to {label}; synced again."},
        )
        if rng.random() < 0.6:
            desk.call(
                "POST",
                f"{ref}/satisfaction",
                requester,
                json={"rating": rng.choice([3, 4, 4, 5, 5, 5]), "comment": "Thanks!"},
            )
        if stage > 0.8:
            desk.call("POST", f"{ref}/close", requester)
        if (number + 1) % 50 == 0:
            print(f"  {number + 1} tickets", flush=True)


def seed_inventory(desk: Desk, rng: random.Random, checkin_secret: str | None) -> None:
    """Devices, declared accounts and check-ins for every employee."""
    agent = desk.as_("agnes", "agent", "Agnes Mwangi")
    for number, (sub, person) in enumerate(PEOPLE):
        department = DEPARTMENTS[number % len(DEPARTMENTS)]
        employee = desk.as_(sub, "requester", person, department)
        for _ in range(rng.choice([1, 1, 2])):
            platform, model, versions = rng.choice(PLATFORMS)
            desk.call(
                "POST",
                "/v1/devices",
                employee,
                json={
                    "ownership": "personal",
                    "technology": platform,
                    "model": model,
                    "name": f"{person.split()[0]}'s {model}",
                    "os_version": rng.choice(versions),
                    "encrypted": rng.random() > 0.1,
                    "passcode_set": rng.random() > 0.15,
                },
            )
        for technology, purpose in rng.sample(DECLARED, rng.randint(1, 3)):
            account = desk.call(
                "POST",
                "/v1/accounts",
                employee,
                json={
                    "technology": technology,
                    "identifier": f"{sub}@example.com",
                    "purpose": purpose,
                    "data_classification": rng.choice(
                        ["public", "internal", "internal", "confidential", "restricted"]
                    ),
                },
            )
            if account["status"] == "requested" and rng.random() < 0.5:
                decision = rng.choice(["approve", "approve", "reject"])
                desk.call(
                    "POST",
                    f"/v1/accounts/{account['id']}/{decision}",
                    agent,
                    json={"note": "Checked against the data classification rules."},
                )
        if checkin_secret is not None and rng.random() < 0.6:
            _check_in(desk, rng, checkin_secret, sub, person)


def _check_in(desk: Desk, rng: random.Random, secret: str, sub: str, person: str) -> None:
    """A signed snapshot of the person's company-managed phone, as device management sends it."""
    apps = rng.sample(DISCOVERED_APPS, rng.randint(1, 3))
    body = json.dumps(
        {
            "external_id": f"demo-{sub}",
            "owner_email": f"{sub}@example.com",
            "owner_id": sub,
            "ownership": "corporate",
            "platform": "android",
            "model": "Galaxy S24",
            "os_version": rng.choice(["13", "14", "15"]),
            "encrypted": True,
            "passcode_set": True,
            "apps": [{"identifier": key, "name": name} for key, name in apps],
        }
    ).encode()
    webhook_id = new_id("msg")
    timestamp = int(time.time())
    signature = Webhook(secret).sign(
        webhook_id, datetime.fromtimestamp(timestamp, UTC), body.decode()
    )
    response = desk.http.post(
        "/v1/inbound/checkins",
        content=body,
        headers={
            "content-type": "application/json",
            "webhook-id": webhook_id,
            "webhook-timestamp": str(timestamp),
            "webhook-signature": signature,
        },
    )
    if response.status_code >= 400:
        raise SystemExit(f"check-in of {person}'s phone failed: {response.text}")


def main() -> None:
    parser = argparse.ArgumentParser(description="Fill a running Deskside with a realistic desk.")
    parser.add_argument("--url", default="http://127.0.0.1:8080", help="the gateway")
    parser.add_argument("--tickets", type=int, default=300)
    parser.add_argument("--seed", type=int, default=2026, help="random seed, for repeatable data")
    arguments = parser.parse_args()

    settings = load_settings(ServiceSettings)
    secret = settings.resolved_jwt_secret()
    if secret is None:
        sys.exit("make seed mints its own tokens: it needs DESKSIDE_JWT_SECRET, not a JWKS.")
    with httpx.Client(base_url=arguments.url, timeout=30, transport=PatientTransport()) as http:
        try:
            http.get("/readyz").raise_for_status()
        except httpx.HTTPError:
            sys.exit(f"No Deskside answers at {arguments.url}: start it with `make run` first.")
        print(f"Seeding {arguments.tickets} tickets into {arguments.url} ...", flush=True)
        rng = random.Random(arguments.seed)  # noqa: S311  (demo data, not secrets)
        desk = Desk(http, secret)
        seed(desk, arguments.tickets, rng)
        print(f"Seeding devices and accounts of {len(PEOPLE)} employees ...", flush=True)
        seed_inventory(desk, rng, _checkin_secret(settings))
    print(
        "Done: try GET /v1/tickets, /v1/reports/tickets/summary, /v1/reports/tickets/skills "
        "and /v1/reports/adoption."
    )


def _checkin_secret(settings: ServiceSettings) -> str | None:
    """The demo integration's secret, where the stack trusts it (`make run` does)."""
    configured = os.environ.get("DESKSIDE_INVENTORY_CHECKIN_SECRETS")
    if configured:
        secret = json.loads(configured).get(DEMO_CHECKIN_INTEGRATION)
        return str(secret) if secret else None
    return demo_checkin_secret(settings.var_dir) if settings.env == "development" else None


if __name__ == "__main__":
    main()
