"""Schemathesis hooks for `make fuzz-api`: authenticate every generated request as the
bootstrapped administrator of the local stack (as its owner member on the member-only routes).

The administrator's API key (from the stack's bootstrap.json, named by IAM_BOOTSTRAP) is exchanged
for an access token at POST /iam/auth/token, as a client would; the token is renewed every
30 seconds, inside the shortest lifetime an org may set (60 s), because the run may change the
org's settings. Bearer tokens keep working when the run turns `directApiKeyAuth` off.
"""

import json
import os

import requests
import schemathesis

BOOTSTRAP = json.load(open(os.environ["IAM_BOOTSTRAP"], encoding="utf-8"))

# The token exchange and the documents take no Authorization (the exchange's key is its body).
PUBLIC_ROUTES = {"/iam/auth/token", "/iam/.well-known/jwks.json", "/iam/openapi.json"}
# The routes API keys may not use (the legacy developer page, a member's organisations): called as
# the org's owner member.
MEMBER_ROUTES = {"/admin/developer", "/iam/me"}
# The routes that grant: called as the owner too, who holds every permission a generated role may
# name (the administrator's iam-admin may grant only IAM actions: 403 escalation_denied otherwise).
GRANT_ROUTES = {
    ("POST", "/iam/orgs/{orgId}/roles"),
    ("PATCH", "/iam/orgs/{orgId}/roles/{roleId}"),
    ("PUT", "/iam/orgs/{orgId}/principals/{principalId}/role-assignments/{roleId}"),
}


def _grant_tenant_api_access():
    """The demo tenant API (GET /demo/whoami) needs `demo:whoami:read`, which the administrator's
    iam-admin role does not grant: give it a custom role that does, through the API itself. The
    org's owner member makes and assigns it (no principal grants what it does not hold: the
    iam-admin key may not)."""
    base = f"{BOOTSTRAP['apiBaseUrl']}/iam/orgs/{BOOTSTRAP['orgId']}"
    headers = {"Authorization": f"Bearer {BOOTSTRAP['userToken']}"}
    role = requests.post(
        f"{base}/roles",
        headers=headers,
        json={
            "name": "tenant API (fuzz-api)",
            "principalTypes": ["ApiKey"],
            "permissions": [{"action": "demo:*", "resource": "*"}],
        },
        timeout=10,
    )
    role.raise_for_status()
    assigned = requests.put(
        f"{base}/principals/{BOOTSTRAP['principalId']}/role-assignments/{role.json()['id']}",
        headers=headers,
        timeout=10,
    )
    assigned.raise_for_status()
    return role.json()["id"]


TENANT_ROLE = _grant_tenant_api_access()


@schemathesis.auth(refresh_interval=30)
class BootstrappedAdministrator:
    def get(self, case, ctx):
        response = requests.post(
            f"{BOOTSTRAP['apiBaseUrl']}/iam/auth/token",
            json={"apiKey": BOOTSTRAP["apiKey"]},
            timeout=10,
        )
        if response.status_code != 200:
            raise RuntimeError(f"token exchange answered {response.status_code}: {response.text}")
        return response.json()["accessToken"]

    def set(self, case, data, ctx):
        case.headers = case.headers or {}
        if case.operation.path in MEMBER_ROUTES or (case.method.upper(), case.operation.path) in GRANT_ROUTES:
            # Member-only routes: the demo org's owner, a member of its identity provider.
            case.headers["Authorization"] = f"Bearer {BOOTSTRAP['userToken']}"
        elif case.operation.path not in PUBLIC_ROUTES:
            case.headers["Authorization"] = f"Bearer {data}"


def _own_identities():
    """The principals this run authenticates as: the administrator and the org's members that
    exist before the run (the owner, whose token calls the member-only route)."""
    base = f"{BOOTSTRAP['apiBaseUrl']}/iam/orgs/{BOOTSTRAP['orgId']}"
    members = requests.get(
        f"{base}/members", headers={"Authorization": f"ApiKey {BOOTSTRAP['apiKey']}"}, timeout=10
    )
    members.raise_for_status()
    return {BOOTSTRAP["principalId"]} | {m["id"] for m in members.json()["items"]}


OWN = _own_identities()
# Well-formed ids that name nothing.
UNKNOWN = {"akp": "akp_00000000000000000000000000", "usr": "usr_00000000000000000000000000"}


@schemathesis.hook
def before_call(context, case, kwargs):
    """The run may suspend, revoke or strip any principal but the ones it runs as, and change any
    role but the one that lets it call the tenant API (it learns their ids from list responses): a
    change aimed at one of those is sent to an unknown id instead, which is answered 404 like any
    unknown principal or role. Reads are left as they are."""
    if case.method.upper() == "GET":
        return
    params = case.path_parameters or {}
    if isinstance(params.get("principalId"), str) and params["principalId"] in OWN:
        params["principalId"] = UNKNOWN[params["principalId"][:3]]
    if isinstance(params.get("roleId"), str) and params["roleId"] == TENANT_ROLE and "principalId" not in params:
        params["roleId"] = "role_00000000000000000000000000"
