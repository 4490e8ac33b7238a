"""Privacy endpoints: the visit beacon, consent, and data-subject requests.

* `POST /api/visits`  `{"path": "/", "referrer": "https://..."}` from the viewer page. The
  visitor id is derived server-side by the privacy actor; the reply says whether analytics
  counted the visit (`DNT: 1`, `Sec-GPC: 1`, a withdrawal or configuration can stop it).
* `POST /api/privacy/consent`  `{"granted": [...], "refused": [...], "withdraw": false}`.
* `POST /api/privacy/requests`  `{"type": "access" | "portability" | "erasure"}` for the
  requester's own id; with the admin bearer token also `{"visitor_id": "..."}`.
* `GET /api/privacy/requests/{id}`  status and deadline; the export (JSON, or CSV with
  `?format=csv`) only for the request's subject or the admin.
* `GET /api/privacy/dashboard`  (admin) `get_privacy_dashboard_data()`.

The client address is the socket peer, or the `X-Forwarded-For` hop appended by a proxy listed
in `GREENHOUSE_TRUSTED_PROXIES` (default loopback). It is handed to the privacy actor in memory
and never stored, logged or echoed.
"""

from __future__ import annotations

import hmac
from functools import lru_cache
from typing import Any

import msgspec
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from greenhouse.messages import (
    ConsentSubmitted,
    DataSubjectRequestLookup,
    DataSubjectRequestSubmitted,
    PrivacyDashboardRequest,
    VisitReceived,
)
from greenhouse.privacy import (
    TooManyRequests,
    TrustedProxies,
    UnknownConsentCategory,
    UnknownRequestType,
    client_address,
    signals_from_headers,
)
from greenhouse.privacy.anonymize import MAX_USER_AGENT_LENGTH
from greenhouse.runtime import AskError, AskTimeout, ask

from .context import WebContext
from .responses import BodyTooLarge, json_error, json_response, read_limited

__all__ = ["PRIVACY_ROUTE_NAMES", "privacy_route_name", "privacy_routes"]

BODY_LIMIT = 4 * 1024  # a beacon or a consent choice is a few hundred bytes

PRIVACY_ROUTE_NAMES = (
    "/api/visits",
    "/api/privacy/consent",
    "/api/privacy/requests",
    "/api/privacy/dashboard",
)


def privacy_route_name(path: str) -> str | None:
    """The metrics label of a privacy path (request ids never become labels)."""
    if path in PRIVACY_ROUTE_NAMES:
        return path
    if path.startswith("/api/privacy/requests/"):
        return "/api/privacy/requests/{request_id}"
    return None


class _Visit(msgspec.Struct, forbid_unknown_fields=False):
    path: str = "/"
    referrer: str | None = None


class _Consent(msgspec.Struct, forbid_unknown_fields=True):
    granted: list[str] = []
    refused: list[str] = []
    withdraw: bool = False
    policy_version: str | None = None


class _NewRequest(msgspec.Struct, forbid_unknown_fields=True):
    type: str
    visitor_id: str | None = None


class _BadRequest(Exception):
    """The body is not what the endpoint takes (400)."""


class _Unavailable(Exception):
    """The privacy actor is missing or did not answer (503)."""


class _Limited(Exception):
    """Too many data-subject requests (429)."""

    def __init__(self, retry_after: float) -> None:
        super().__init__("too many data-subject requests; try again later")
        self.retry_after = retry_after


def _ctx(request: Request) -> WebContext:
    return request.app.state.ctx


@lru_cache(maxsize=8)
def _trusted(entries: tuple[str, ...]) -> TrustedProxies:
    return TrustedProxies(entries)


def _client(request: Request) -> tuple[str | None, str]:
    """The visitor's address and user agent (in memory only)."""
    ctx = _ctx(request)
    peer = request.client.host if request.client is not None else None
    forwarded = request.headers.getlist("x-forwarded-for")
    address = client_address(peer, forwarded, _trusted(tuple(ctx.settings.web.trusted_proxies)))
    agent = request.headers.get("user-agent", "")[:MAX_USER_AGENT_LENGTH]
    return address, agent


def _is_admin(request: Request) -> bool:
    token = _ctx(request).settings.web.admin_token
    if not token:
        return False
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not given:
        return False
    return hmac.compare_digest(given.strip().encode(), token.get().encode())


async def _decode(request: Request, kind: type[Any]) -> Any:
    try:
        body = await read_limited(request, BODY_LIMIT)
    except BodyTooLarge:
        raise _BadRequest("payload_too_large") from None
    try:
        return msgspec.json.decode(body or b"{}", type=kind)
    except (msgspec.ValidationError, msgspec.DecodeError) as error:
        raise _BadRequest(f"invalid body: {error}") from None


async def _ask_privacy(request: Request, message: Any) -> Any:
    ctx = _ctx(request)
    box = ctx.mailbox("privacy")
    if box is None:
        raise _Unavailable("the privacy actor is not running in this garden")
    try:
        return await ask(box, message, timeout=ctx.ask_timeout)
    except AskTimeout:
        raise _Unavailable("the privacy actor did not answer in time") from None
    except AskError as error:
        if isinstance(error.__cause__, UnknownConsentCategory | UnknownRequestType):
            raise _BadRequest(str(error.__cause__)) from None
        if isinstance(error.__cause__, TooManyRequests):
            raise _Limited(error.__cause__.retry_after) from None
        raise _Unavailable("the privacy actor could not answer") from None


def _error(error: Exception) -> Response:
    if isinstance(error, _Limited):
        return json_error(429, "too_many_requests", str(error),
                          headers={"retry-after": str(int(error.retry_after) + 1)})
    if isinstance(error, _BadRequest):
        if str(error) == "payload_too_large":
            return json_error(413, "payload_too_large", "request body is too large")
        return json_error(400, "bad_request", str(error))
    return json_error(503, "unavailable", str(error))


async def post_visit(request: Request) -> Response:
    """The viewer page's beacon."""
    try:
        body = await _decode(request, _Visit)
        ip, agent = _client(request)
        signals = signals_from_headers(request.headers)
        outcome = await _ask_privacy(request, VisitReceived(
            ip=ip, user_agent=agent, path=body.path, referrer=body.referrer,
            dnt=signals.dnt, gpc=signals.gpc,
        ))
    except (_BadRequest, _Unavailable, _Limited) as error:
        return _error(error)
    return json_response({"recorded": outcome.recorded, "reason": outcome.reason}, 202)


async def post_consent(request: Request) -> Response:
    """Record the visitor's consent choice (or withdraw everything non-essential)."""
    try:
        body = await _decode(request, _Consent)
        ip, agent = _client(request)
        state = await _ask_privacy(request, ConsentSubmitted(
            ip=ip, user_agent=agent, granted=tuple(body.granted), refused=tuple(body.refused),
            withdraw=body.withdraw, policy_version=body.policy_version,
        ))
    except (_BadRequest, _Unavailable, _Limited) as error:
        return _error(error)
    return json_response({"categories": state.categories, "policy_version": state.policy_version})


def _request_body(request_state: Any) -> dict[str, Any]:
    data = msgspec.to_builtins(request_state)
    data["links"] = {"self": f"/api/privacy/requests/{request_state.id}"}
    return data


async def post_request(request: Request) -> Response:
    """Open an access, portability or erasure request."""
    try:
        body = await _decode(request, _NewRequest)
        admin = _is_admin(request)
        if body.visitor_id is not None and not admin:
            return json_error(
                403, "forbidden", "a visitor can only act on their own id; omit visitor_id",
            )
        ip, agent = _client(request)
        state = await _ask_privacy(request, DataSubjectRequestSubmitted(
            ip=ip, user_agent=agent, type=body.type, visitor_id=body.visitor_id, admin=admin,
        ))
    except (_BadRequest, _Unavailable, _Limited) as error:
        return _error(error)
    return json_response(_request_body(state), 201)


async def get_request(request: Request) -> Response:
    """A request's status; its export for its subject or the admin."""
    wanted = request.query_params.get("format", "json")
    if wanted not in ("json", "csv"):
        return json_error(400, "bad_request", "format must be json or csv")
    try:
        ip, agent = _client(request)
        found = await _ask_privacy(request, DataSubjectRequestLookup(
            ip=ip, user_agent=agent, request_id=request.path_params["request_id"],
            admin=_is_admin(request),
        ))
    except (_BadRequest, _Unavailable, _Limited) as error:
        return _error(error)
    if found is None:
        return json_error(404, "not_found", "no such request")
    if wanted == "csv":
        if found.export_csv is None:
            return json_error(
                404 if found.export_json is not None else 403, "no_export",
                "CSV exists for portability requests, for their subject or the admin",
            )
        return Response(
            found.export_csv, 200, media_type="text/csv; charset=utf-8",
            headers={"content-disposition": f'attachment; filename="{found.request.id}.csv"'},
        )
    body = _request_body(found.request)
    if found.export_json is not None:
        body["export"] = msgspec.json.decode(found.export_json)
    return json_response(body)


async def get_dashboard(request: Request) -> Response:
    """The privacy dashboard (admin only)."""
    if not _is_admin(request):
        return json_error(
            401, "unauthorized", "a valid admin bearer token is required",
            headers={"www-authenticate": 'Bearer realm="greenhouse"'},
        )
    try:
        data = await _ask_privacy(request, PrivacyDashboardRequest())
    except (_BadRequest, _Unavailable, _Limited) as error:
        return _error(error)
    return json_response(data)


def privacy_routes() -> list[Route]:
    """The privacy routes, to be added to the garden's app."""
    return [
        Route("/api/visits", post_visit, methods=["POST"]),
        Route("/api/privacy/consent", post_consent, methods=["POST"]),
        Route("/api/privacy/requests", post_request, methods=["POST"]),
        Route("/api/privacy/requests/{request_id}", get_request, methods=["GET"]),
        Route("/api/privacy/dashboard", get_dashboard, methods=["GET"]),
    ]
