"""The embedded authorization server: metadata, JWKS, token, introspection, revocation."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from starlette.responses import JSONResponse, Response

from connector.api.deps import SettingsDep
from connector.api.oauth import AuthorizationServerDep, FormPost, oauth_error, read_form_post
from connector.api.security import CLIENT_AUTHENTICATION, PUBLIC
from connector.auth.context import (
    INTROSPECTION_PATH,
    JWKS_PATH,
    METADATA_PATH,
    REVOCATION_PATH,
    TOKEN_PATH,
)

router = APIRouter(tags=["oauth"])
_FORM_BODY: dict[str, Any] = {"requestBody": {"required": True, "content": {
    "application/x-www-form-urlencoded": {"schema": {"type": "object"}}}}}


@router.get(METADATA_PATH, summary="RFC 8414 authorization server metadata",
            dependencies=[PUBLIC])
def metadata(server: AuthorizationServerDep) -> JSONResponse:
    return JSONResponse(server.metadata(), headers={"Cache-Control": "public, max-age=300"})


@router.get(JWKS_PATH, summary="Public keys of access tokens (current and retiring)",
            dependencies=[PUBLIC])
def jwks(server: AuthorizationServerDep) -> JSONResponse:
    return JSONResponse(server.context.jwks(), headers={"Cache-Control": "public, max-age=60"})


async def _endpoint(request: Request, settings: SettingsDep, server: AuthorizationServerDep,
                    name: str | None) -> Response:
    post = await read_form_post(request, settings.public_url)
    if not isinstance(post, FormPost):
        return post
    if name is None:
        if not post.form.get("grant_type"):
            return oauth_error("invalid_request", "grant_type is required")
        response: Response = await run_in_threadpool(server.create_token_response, post)
    else:
        response = await run_in_threadpool(server.create_endpoint_response, name, post)
    return response


@router.post(TOKEN_PATH, summary="Token endpoint (client_credentials; private_key_jwt; DPoP)",
             dependencies=[CLIENT_AUTHENTICATION], openapi_extra=_FORM_BODY)
async def token(request: Request, settings: SettingsDep,
                server: AuthorizationServerDep) -> Response:
    return await _endpoint(request, settings, server, None)


@router.post(INTROSPECTION_PATH, summary="RFC 7662 token introspection",
             dependencies=[CLIENT_AUTHENTICATION], openapi_extra=_FORM_BODY)
async def introspect(request: Request, settings: SettingsDep,
                     server: AuthorizationServerDep) -> Response:
    return await _endpoint(request, settings, server, "introspection")


@router.post(REVOCATION_PATH, summary="RFC 7009 token revocation",
             dependencies=[CLIENT_AUTHENTICATION], openapi_extra=_FORM_BODY)
async def revoke(request: Request, settings: SettingsDep,
                 server: AuthorizationServerDep) -> Response:
    return await _endpoint(request, settings, server, "revocation")
