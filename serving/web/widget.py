"""`/widget`: the checkout widget demo, a shop page that asks `POST /v1/quotes` for its shipping options.

The widget itself is `static/eta-widget.js`; how to embed it is in the README ("Checkout widget").
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from serving.web.templating import render

router = APIRouter(include_in_schema=False)


@router.get("/widget")
def widget_demo(request: Request) -> Response:
    return render(request, "widget.html", {})
