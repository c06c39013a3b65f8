"""`make seed`: fill a running stack with a realistic desk, through its public API.

Groups for the three tiers, agents with the technologies they are trained
on, an extra SLA policy, and a few hundred tickets across consumer devices
and cloud services in every state: replied to, helped by phone or remote
session, escalated to tier 2 or to the vendor, resolved, rated, closed.
Everything goes through the gateway as real users would, so events, history
and SLA clocks are all real. Running it again adds another batch of tickets.
"""

from __future__ import annotations

import argparse
import random
import sys
from dataclasses import dataclass
from typing import Any

import httpx

from deskside_kit.settings import ServiceSettings, load_settings
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


@dataclass
class Desk:
    http: httpx.Client
    secret: str

    def as_(self, sub: str, role: str, name: str | None = None) -> dict[str, str]:
        token = mint_token(
            self.secret, sub=sub, roles=[role], email=f"{sub}@example.com", name=name
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
    with httpx.Client(base_url=arguments.url, timeout=30) as http:
        try:
            http.get("/readyz").raise_for_status()
        except httpx.HTTPError:
            sys.exit(f"No Deskside answers at {arguments.url}: start it with `make run` first.")
        print(f"Seeding {arguments.tickets} tickets into {arguments.url} ...", flush=True)
        rng = random.Random(arguments.seed)  # noqa: S311  (demo data, not secrets)
        seed(Desk(http, secret), arguments.tickets, rng)
    print("Done: try GET /v1/tickets, /v1/reports/tickets/summary and /v1/reports/tickets/skills.")


if __name__ == "__main__":
    main()
