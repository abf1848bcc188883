"""Routes that exist only in tests, to exercise the foundation (auth, errors, limits) without business code.

No `from __future__ import annotations`: FastAPI must see the per-scope dependency built in a closure.
"""

from typing import Annotated

from fastapi import APIRouter, Depends, FastAPI, Request
from pydantic import BaseModel, ConfigDict, Field

from serving.app import create_app
from serving.errors import NotFound
from serving.security import Principal, Scope, require
from serving.settings import Settings

router = APIRouter(prefix="/probe")


class Option(BaseModel):
    model_config = ConfigDict(extra="forbid")
    carrier: str = Field(min_length=1)
    service: str


class Order(BaseModel):
    model_config = ConfigDict(extra="forbid")
    weight_kg: float = Field(gt=0, le=1000)
    options: list[Option] = Field(min_length=1, max_length=20)


def _needs(scope: Scope):  # type: ignore[no-untyped-def]
    def whoami(principal: Annotated[Principal, Depends(require(scope))]) -> dict[str, str]:
        return {"name": principal.name}

    return whoami


for scope in Scope:  # GET /probe/scope/<scope> admits keys with that scope
    router.add_api_route(f"/scope/{scope}", _needs(scope), methods=["GET"])


@router.post("/orders")
def echo(order: Order) -> Order:
    return order


@router.post("/bytes")
async def count_bytes(request: Request) -> dict[str, int]:
    return {"bytes": len(await request.body())}


@router.get("/boom")
def boom() -> None:
    raise RuntimeError("secret internals: password=hunter2")


@router.get("/missing")
def missing() -> None:
    raise NotFound("No shipment s1.")


def probe_app(settings: Settings) -> FastAPI:
    app = create_app(settings)
    app.include_router(router)
    return app
