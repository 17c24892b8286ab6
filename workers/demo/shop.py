"""The demo shop (GAP-005): clients/demo-shop served the way a product would serve it.

One small web server plays the product's web tier:

- it serves the shop page (clients/demo-shop) and the snippet (clients/web) from one origin;
- it passes `POST /api/tracking/meta-event` on to GDP's relay, as a product's reverse proxy
  would (same origin, so the `_fbp`/`_fbc` cookies travel), appending the visitor to
  `X-Forwarded-For` (GDP must list this server in GDP_TRUSTED_PROXIES to believe it);
- it receives the Pixel stand-in's hits (`/_standin/tr`, in place of facebook.com/tr) and shows
  what it saw at `/_shop/log`.

    shop = serve_demo_shop("http://127.0.0.1:8080", port=8090, sandbox_url=...)   # prints its URL
    ...
    shop.stop()

or `python -m workers.demo.shop --gdp-url http://127.0.0.1:8080 --port 8090`. GDP's process needs
PRODUCT_ID (the shop's product) and GDP_TRUSTED_PROXIES=127.0.0.1 in its environment, and the
relay flags on.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

import httpx
import typer
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from workers.processes import free_port

CLIENTS_DIR = Path(__file__).resolve().parents[2] / "clients"
RELAY_PATH = "/api/tracking/meta-event"
MAX_RELAY_BODY = 64 * 1024  # GDP's relay applies the real limit (16 KB); this only bounds memory
_SHOP_FILES = {
    "index.html": "text/html; charset=utf-8",
    "thanks.html": "text/html; charset=utf-8",
    "shop.js": "text/javascript; charset=utf-8",
    "shop.css": "text/css; charset=utf-8",
    "fbevents-standin.js": "text/javascript; charset=utf-8",
}
_SNIPPET_FILES = {
    "meta-pixel.global.js": "text/javascript; charset=utf-8",
    "meta-pixel.js": "text/javascript; charset=utf-8",
}
_PASSED_HEADERS = ("content-type", "user-agent", "cookie", "referer", "origin")


@dataclass(frozen=True, slots=True)
class ShopConfig:
    gdp_url: str
    pixel_id: str = "1234567890"
    product_id: str = "snapmix"
    require_consent: bool = True
    # Where a newcomer can watch the events arrive (the sandbox's inspection API).
    sandbox_url: str | None = None
    # A CDN in front of the shop: X-Forwarded-For starts with this visitor address.
    visitor_ip: str | None = None
    clients_dir: Path = CLIENTS_DIR


@dataclass
class ShopLog:
    """What the shop server saw: request lines and the Pixel stand-in's hits."""

    requests: list[str] = field(default_factory=list)
    pixel_hits: list[dict[str, Any]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def as_json(self) -> dict[str, Any]:
        with self.lock:
            return {"requests": list(self.requests), "pixel_hits": list(self.pixel_hits)}


class _RequestLog:
    def __init__(self, app: ASGIApp, log: ShopLog) -> None:
        self.app = app
        self.log = log

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and not scope["path"].startswith("/_shop/"):
            with self.log.lock:
                self.log.requests.append(f"{scope['method']} {scope['path']}")
        await self.app(scope, receive, send)


def _config_script(config: ShopConfig) -> str:
    values: dict[str, Any] = {
        "pixelId": config.pixel_id,
        "enabled": True,
        "requireConsent": config.require_consent,
        "product": config.product_id,
        "relayUrl": RELAY_PATH,
        "scriptUrl": "fbevents-standin.js",
    }
    if config.sandbox_url:
        values["sandboxEventsUrl"] = (
            f"{config.sandbox_url.rstrip('/')}/_sandbox/events?pixel_id={config.pixel_id}"
        )
    return f"window.GDP_SHOP_CONFIG = {json.dumps(values)};\n"


def create_shop_app(config: ShopConfig, log: ShopLog | None = None) -> ASGIApp:
    """The shop's ASGI app (static pages, the relay pass-through, the stand-in's hits)."""
    shop_log = log or ShopLog()
    shop_dir = config.clients_dir / "demo-shop"
    web_dir = config.clients_dir / "web"
    client: dict[str, httpx.AsyncClient] = {}

    @asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        client["http"] = httpx.AsyncClient(timeout=httpx.Timeout(15.0, connect=3.0))
        try:
            yield
        finally:
            await client.pop("http").aclose()

    async def page(request: Request) -> Response:
        name = request.path_params.get("name") or "index.html"
        if name in _SHOP_FILES:
            return FileResponse(shop_dir / name, media_type=_SHOP_FILES[name])
        if name in _SNIPPET_FILES:
            return FileResponse(web_dir / name, media_type=_SNIPPET_FILES[name])
        if name == "gdp-shop-config.js":
            return Response(_config_script(config), media_type="text/javascript; charset=utf-8")
        return Response("not found", status_code=404, media_type="text/plain")

    async def relay(request: Request) -> Response:
        body = await request.body()
        if len(body) > MAX_RELAY_BODY:
            return JSONResponse({"error": {"message": "body too large"}}, status_code=413)
        headers = {k: v for k in _PASSED_HEADERS if (v := request.headers.get(k)) is not None}
        hops = [h for h in (request.headers.get("x-forwarded-for"), config.visitor_ip) if h]
        if request.client is not None:
            hops.append(request.client.host)
        if hops:
            headers["x-forwarded-for"] = ", ".join(hops)
        target = f"{config.gdp_url.rstrip('/')}{RELAY_PATH}"
        try:
            upstream = await client["http"].post(
                target, content=body, headers=headers, params=request.query_params
            )
        except httpx.HTTPError:
            return JSONResponse({"error": {"message": "GDP is unreachable"}}, status_code=502)
        return Response(
            upstream.content,
            status_code=upstream.status_code,
            media_type=upstream.headers.get("content-type", "application/json"),
        )

    async def pixel_hit(request: Request) -> Response:
        try:
            hit = json.loads(await request.body())
        except ValueError:
            return Response(status_code=400)
        if isinstance(hit, dict):
            hit["received_at"] = time.time()
            with shop_log.lock:
                shop_log.pixel_hits.append(hit)
        return Response(status_code=204)

    async def show_log(request: Request) -> Response:
        return JSONResponse(shop_log.as_json())

    app = Starlette(
        routes=[
            Route("/", page),
            Route(RELAY_PATH, relay, methods=["POST"]),
            Route("/_standin/tr", pixel_hit, methods=["POST"]),
            Route("/_shop/log", show_log),
            Route("/{name}", page),
        ],
        lifespan=lifespan,
    )
    return _RequestLog(app, shop_log)


class DemoShop:
    """A running shop server (a background thread); `stop()` or use it as a context manager."""

    def __init__(self, config: ShopConfig, host: str, port: int) -> None:
        self.config = config
        self.log = ShopLog()
        self.url = f"http://{host}:{port}/"
        self._server = uvicorn.Server(
            uvicorn.Config(
                create_shop_app(config, self.log),
                host=host,
                port=port,
                log_level="warning",
                access_log=False,
                lifespan="on",
            )
        )
        self._thread = threading.Thread(target=self._server.run, name="demo-shop", daemon=True)

    def start(self, timeout_s: float = 15.0) -> DemoShop:
        self._thread.start()
        deadline = time.monotonic() + timeout_s
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"the demo shop did not start on {self.url}")
            time.sleep(0.05)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)

    def __enter__(self) -> DemoShop:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.stop()


def serve_demo_shop(
    gdp_url: str,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    pixel_id: str = "1234567890",
    product_id: str = "snapmix",
    sandbox_url: str | None = None,
    visitor_ip: str | None = None,
    require_consent: bool = True,
    echo: Callable[[str], None] | None = print,
) -> DemoShop:
    """Serve the demo shop in a background thread (port 0: a free one) and print its URL."""
    config = ShopConfig(
        gdp_url=gdp_url,
        pixel_id=pixel_id,
        product_id=product_id,
        require_consent=require_consent,
        sandbox_url=sandbox_url,
        visitor_ip=visitor_ip,
    )
    shop = DemoShop(config, host, port or free_port(host)).start()
    if echo is not None:
        echo(f"   demo shop: {shop.url}  (accept the banner, click Buy, watch the sandbox)")
    return shop


def main(
    gdp_url: str = typer.Option("http://127.0.0.1:8080", help="GDP's base URL (with the relay)."),
    host: str = typer.Option("127.0.0.1", help="Address to listen on."),
    port: int = typer.Option(8090, help="Port to listen on (0: a free one)."),
    pixel_id: str = typer.Option("1234567890", help="The Meta Pixel id the page fires."),
    product_id: str = typer.Option("snapmix", help="The product the shop stands for."),
    sandbox_url: str | None = typer.Option(None, help="The Meta sandbox, linked from the page."),
) -> None:
    """Serve the demo shop until interrupted."""
    shop = serve_demo_shop(
        gdp_url,
        host=host,
        port=port,
        pixel_id=pixel_id,
        product_id=product_id,
        sandbox_url=sandbox_url,
        echo=typer.echo,
    )
    try:
        while True:
            time.sleep(1)
    except KeyboardInterrupt:
        pass
    finally:
        shop.stop()


if __name__ == "__main__":
    typer.run(main)
