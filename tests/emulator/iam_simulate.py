"""IAM SimulatePrincipalPolicy for moto (moto 5.2.1 does not implement it).

`register()` adds a `simulate_principal_policy` method to moto's `IamResponse`. moto's
`BaseResponse.call_action` turns the query `Action=SimulatePrincipalPolicy` into the snake_case
method name and calls it if the class has it, so a class attribute set at import time is enough:
nothing under site-packages is edited. The request is parsed by moto from botocore's IAM model
(`self._get_param`), and the `ActionResult` we return is serialized by moto's query serializer
from the same model, so the XML shape (SimulatePrincipalPolicyResponse / ...Result /
EvaluationResults / member / ResponseMetadata) is AWS's by construction.

Evaluation uses moto's IAM state of the account the request is for (`self.backend`, the same
lookup every other moto IAM action uses: the access key or `x-moto-account-id` decides).

Response shape (botocore 1.44 docs of EvaluationResult): AWS now returns ONE EvaluationResult per
action. Its EvalResourceName is an ARN template or "*", never a caller's ARN; when ResourceArns
are given, the per-resource decisions are in ResourceSpecificResults, and the top level carries
the union of the decisive MatchedStatements and of MissingContextValues. We have no ARN
templates, so the top-level EvalResourceName is always "*". The top-level EvalDecision over
several resources is the most restrictive one (explicitDeny > implicitDeny > allowed), as the
docs say for EvalDecisionDetails. Without ResourceArns the resource is "*" and
ResourceSpecificResults is omitted.

Not simulated: SCPs, permissions boundaries, resource policies, PolicyInputList, policy variables
(`${aws:username}` is matched literally) and Conditions (see `_evaluate`).
"""
from __future__ import annotations

import json
import re
from functools import lru_cache
from urllib.parse import unquote

from moto.core.exceptions import ServiceException
from moto.core.responses import ActionResult
from moto.iam.exceptions import NotFoundException
from moto.iam.responses import IamResponse

ALLOWED, EXPLICIT_DENY, IMPLICIT_DENY = "allowed", "explicitDeny", "implicitDeny"
# Real AWS labels identity-policy statements like this, although the model's enum lists others.
SOURCE_POLICY_TYPE = "IAM Policy"


class InvalidInput(ServiceException):
    code = "InvalidInput"


# ---------------------------------------------------------------- policy matching


@lru_cache(maxsize=4096)
def _pattern(glob: str, ignore_case: bool) -> re.Pattern[str]:
    # IAM wildcards: `*` = any run of characters (also across ':' and '/'), `?` = one character.
    body = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in glob)
    flags = re.DOTALL | (re.IGNORECASE if ignore_case else 0)
    return re.compile(body, flags)


def _as_list(value) -> list[str]:
    return [value] if isinstance(value, str) else list(value or [])


def _any_match(globs, value: str, ignore_case: bool) -> bool:
    return any(_pattern(g, ignore_case).fullmatch(value) for g in _as_list(globs))


def _matches(statement: dict, action: str, resource: str) -> bool:
    """Action/NotAction (case-insensitive) and Resource/NotResource (case-sensitive)."""
    if "Action" in statement:
        action_ok = _any_match(statement["Action"], action, True)
    else:
        action_ok = "NotAction" in statement and not _any_match(statement["NotAction"], action, True)
    if "Resource" in statement:
        resource_ok = _any_match(statement["Resource"], resource, False)
    else:
        resource_ok = "NotResource" in statement and not _any_match(
            statement["NotResource"], resource, False
        )
    return action_ok and resource_ok


def _evaluate(policies: list[tuple[str, dict]], action: str, resource: str) -> dict:
    """One decision: explicitDeny if a Deny matches, else allowed if an Allow matches, else
    implicitDeny. MatchedStatements are only the statements that decided it (AWS: a deny is then
    the only entry)."""
    denies, allows, missing = [], [], []
    for policy_id, statement in policies:
        if not _matches(statement, action, resource):
            continue
        if statement.get("Condition"):
            # A Condition needs request context (aws:SourceIp, tags, ...) that nobody passes us:
            # such a statement neither allows nor denies, and its keys are reported as
            # MissingContextValues, which is what AWS does when the context is missing.
            for operator_block in statement["Condition"].values():
                missing += [k for k in operator_block if k not in missing]
            continue
        (denies if statement.get("Effect") == "Deny" else allows).append(policy_id)
    decision = EXPLICIT_DENY if denies else ALLOWED if allows else IMPLICIT_DENY
    return {
        "decision": decision,
        "matched": _statements(denies if denies else allows),
        "missing": missing,
    }


def _statements(policy_ids: list[str]) -> list[dict]:
    unique = list(dict.fromkeys(policy_ids))
    return [{"SourcePolicyId": p, "SourcePolicyType": SOURCE_POLICY_TYPE} for p in unique]


# ---------------------------------------------------------------- principal's policies


def _load(document) -> dict:
    if isinstance(document, dict):
        return document
    try:
        return json.loads(document)
    except ValueError:  # moto keeps some documents URL-encoded
        return json.loads(unquote(document))


def _statements_of(policy_id: str, document) -> list[tuple[str, dict]]:
    statements = _load(document).get("Statement", [])
    return [(policy_id, s) for s in ([statements] if isinstance(statements, dict) else statements)]


def _managed_document(policy) -> str:
    for version in policy.versions:
        if version.version_id == policy.default_version_id:
            return version.document
    return "{}"


def _entity_policies(entity) -> list[tuple[str, dict]]:
    """Inline + attached managed policies of a user, group or role (all have both dicts)."""
    out = []
    for name, document in entity.policies.items():
        out += _statements_of(name, document)
    for policy in entity.managed_policies.values():
        out += _statements_of(policy.name, _managed_document(policy))
    return out


def principal_policies(backend, account_id: str, arn: str) -> list[tuple[str, dict]]:
    """(policy id, statement) pairs of the user/role/group named by `arn` in `backend`."""
    parts = arn.split(":", 5)
    if len(parts) != 6 or parts[2] != "iam" or "/" not in parts[5]:
        # AWS refuses STS ARNs such as arn:aws:sts::ACCT:assumed-role/ROLE/SESSION the same way:
        # the caller must pass the role's IAM ARN.
        raise InvalidInput(
            f"Invalid Entity Arn: {arn} does not clearly define entity type and name."
        )
    kind, name = parts[5].split("/", 1)[0], parts[5].rsplit("/", 1)[1]
    # The backend holds only its own account's entities; another account's principal is unknown.
    if parts[4] != account_id:
        raise NotFoundException(f"The {kind} with name {name} cannot be found.")
    if kind == "user":
        user = backend.users.get(name)
        if user is None:
            raise NotFoundException(f"The user with name {name} cannot be found.")
        policies = _entity_policies(user)
        for group in backend.get_groups_for_user(name):
            policies += _entity_policies(group)
        return policies
    if kind == "role":
        role = next((r for r in backend.get_roles() if r.name == name), None)
        if role is None:
            raise NotFoundException(f"The role with name {name} cannot be found.")
        return _entity_policies(role)
    if kind == "group":
        group = backend.groups.get(name)
        if group is None:
            raise NotFoundException(f"The group with name {name} cannot be found.")
        return _entity_policies(group)
    raise InvalidInput(f"Invalid Entity Arn: {arn} does not clearly define entity type and name.")


# ---------------------------------------------------------------- the API action


def simulate(policies, actions: list[str], resources: list[str]) -> list[dict]:
    """EvaluationResults, one per action (see the module docstring for why)."""
    results = []
    for action in actions:
        if not resources:
            one = _evaluate(policies, action, "*")
            results.append({
                "EvalActionName": action,
                "EvalResourceName": "*",
                "EvalDecision": one["decision"],
                "MatchedStatements": one["matched"],
                "MissingContextValues": one["missing"],
            })
            continue
        per_resource = [(r, _evaluate(policies, action, r)) for r in resources]
        decisions = {e["decision"] for _, e in per_resource}
        top = next(d for d in (EXPLICIT_DENY, IMPLICIT_DENY, ALLOWED) if d in decisions)
        matched = [s for _, e in per_resource if e["decision"] == top for s in e["matched"]]
        missing = [k for _, e in per_resource for k in e["missing"]]
        results.append({
            "EvalActionName": action,
            "EvalResourceName": "*",
            "EvalDecision": top,
            "MatchedStatements": _statements([s["SourcePolicyId"] for s in matched]),
            "MissingContextValues": list(dict.fromkeys(missing)),
            "ResourceSpecificResults": [
                {
                    "EvalResourceName": r,
                    "EvalResourceDecision": e["decision"],
                    "MatchedStatements": e["matched"],
                    "MissingContextValues": e["missing"],
                }
                for r, e in per_resource
            ],
        })
    return results


def simulate_principal_policy(self: IamResponse) -> ActionResult:
    policies = principal_policies(
        self.backend, self.current_account, self._get_param("PolicySourceArn")
    )
    results = simulate(
        policies, self._get_param("ActionNames", []), self._get_param("ResourceArns", [])
    )
    # Paging over EvaluationResults: the Marker is simply the index of the next result.
    max_items = self._get_param("MaxItems") or 100
    marker = self._get_param("Marker") or "0"
    if not marker.isdigit():
        raise InvalidInput(f"Invalid Marker: {marker}")
    start = int(marker)
    page = results[start : start + max_items]
    response = {"EvaluationResults": page, "IsTruncated": start + max_items < len(results)}
    if response["IsTruncated"]:
        response["Marker"] = str(start + max_items)
    return ActionResult(response)


def register() -> None:
    IamResponse.simulate_principal_policy = simulate_principal_policy
