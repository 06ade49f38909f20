"""``zkmargin dashboard``: a local web page with the engine's live state.

One thread polls ``eth_blockNumber``; when the head moves (or the chain was reverted
under the same number) it reads the chain once and builds a new *view*: oracle prices and
feed ages, every account the engine knows (found in the engine's logs: every event with an
indexed ``account``), the pool, and for the account files given on the command line their
margin, liquidation prices, equity/requirement curves and forecast summary (the data
functions of :mod:`zkmargin.plots` and :mod:`zkmargin.forecast`). Request handlers only
read the latest view, so a slow browser never slows the chain reads.

The page (``dashboard_static/index.html``) carries the view it was served with, renders
it before the load event, and then long-polls ``/api/state?after=<version>``: the server
answers as soon as a newer view exists (or after :data:`WAIT_SECONDS` with the same one).
``/account/<i>/plot.png`` renders the matplotlib picture of ``zkmargin plot`` on request.

Privacy: the server binds to 127.0.0.1 unless told otherwise and answers only requests
whose ``Host`` names the address it listens on (no DNS rebinding). Account files stay on
this machine; positions are shown, the salt never leaves the process.
"""

from __future__ import annotations

import html
import ipaddress
import json
import re
import signal
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import click

from chain.client import EngineClient, Kind
from chain.errors import ChainError
from cli.chainopts import Connection, load_account_file, read_options, span, when
from cli.forecast import DEFAULT_HISTORY
from zkmargin.accounts import format_address
from zkmargin.amounts import format_fixed
from zkmargin.errors import ZkMarginError
from zkmargin.forecast import Forecast, LiquidationPrice, forecast_from_history
from zkmargin.model import Account, MarketData, Mode, evaluate
from zkmargin.plots import curve, price_range
from zkmargin.units import BALANCE_DECIMALS, MARGIN_UNIT_DECIMALS, PRICE_DECIMALS, SIZE_DECIMALS
from zkmargin.volatility import PriceHistory, load_history

POLL_SECONDS = 0.25  # how often the head is asked for
WAIT_SECONDS = 20.0  # how long /api/state?after=... holds a request without news
DEFAULT_SAMPLES = 2000  # forecast paths per account (the CLI default is 10,000)
SVG_POINTS = 121
_PLOT_PATH = re.compile(r"/account/(\d+)/plot\.png")


# ---------------------------------------------------------------- accounts from the logs


class AccountScanner:
    """Addresses that appear as the indexed ``account`` of an engine event, in order of
    first appearance; scanned incrementally, from the deployment block again after a reorg
    or an anvil revert (the last scanned block's hash changed)."""

    def __init__(self, client: EngineClient) -> None:
        from eth_utils.abi import event_abi_to_log_topic

        self.client = client
        self.topics = [
            "0x" + bytes(event_abi_to_log_topic(entry)).hex()  # type: ignore[arg-type]
            for entry in client.engine.abi
            if entry.get("type") == "event"
            and any(
                i.get("indexed") and i.get("type") == "address" and i.get("name") == "account"
                for i in entry.get("inputs", [])[:1]
            )
        ]
        self._reset()

    def _reset(self) -> None:
        self.addresses: dict[str, None] = {}
        self.scanned: int | None = None  # last block scanned
        self.scanned_hash: str | None = None

    def scan(self, head: int) -> list[str]:
        chain = self.client.chain
        if self.scanned is not None:
            if head < self.scanned or chain.block(self.scanned).get("hash") != self.scanned_hash:
                self._reset()
        start = self.client.deployment.block if self.scanned is None else self.scanned + 1
        if self.topics and start <= head:
            logs = chain.request(
                "eth_getLogs",
                [
                    {
                        "address": self.client.deployment.engine,
                        "fromBlock": hex(start),
                        "toBlock": hex(head),
                        "topics": [self.topics],
                    }
                ],
            )
            for log in logs or []:
                topics = log.get("topics") or []
                if len(topics) > 1:
                    self.addresses.setdefault(format_address(int(topics[1], 16) % 2**160))
        self.scanned = head
        self.scanned_hash = chain.block(head).get("hash")
        return list(self.addresses)


# ---------------------------------------------------------------- the public view


def _tokens(client: EngineClient, asset: str, units: int) -> str:
    return format_fixed(units, client.deployment.asset(asset).decimals)


def _price(units: int) -> str:
    return format_fixed(units, PRICE_DECIMALS)


def feeds_view(client: EngineClient, now: int) -> list[dict[str, Any]]:
    """Per feed: the adapter's validated price (or why it refuses one), the raw answer's
    age against the chain clock, and its heartbeat."""
    rows: list[dict[str, Any]] = []
    for info in client.deployment.feeds:
        row: dict[str, Any] = {
            "feed": info.name,
            "priced": client.deployment.priced_by(info.name),
            "heartbeat": info.heartbeat,
            "heartbeat_text": span(info.heartbeat),
        }
        try:
            row["price"] = _price(client.price(info.name))
            row["error"] = None
        except ChainError as exc:
            row["price"] = None
            row["error"] = str(exc)
        try:
            _round, answer, _started, updated, _answered = client.feeds[info.name].call(
                "latestRoundData"
            )
            age = now - int(updated)
            row["answer"] = format_fixed(int(answer), info.decimals)
            row["age"] = age
            row["age_text"] = span(age)
            row["stale"] = age > info.heartbeat
        except ChainError as exc:
            row.update(answer=None, age=None, age_text="unknown", stale=True)
            row["error"] = row["error"] or str(exc)
        rows.append(row)
    return rows


def account_row(client: EngineClient, address: str) -> dict[str, Any]:
    """What the engine knows of one account (nothing private)."""
    st = client.status(address)
    state = st.state
    if not state.open:
        verdict = "no account"
    elif st.liquidatable:
        verdict = "liquidatable"
    elif state.shock_at:
        verdict = "flagged"
    else:
        verdict = "healthy"
    kind = state.kind.name.lower() if state.open else "none"
    if state.kind is Kind.ISOLATED:
        dep = client.deployment
        kind += f" ({dep.markets[state.market].name} on {dep.assets[state.asset].name})"
    return {
        "address": address,
        "status": verdict,
        "kind": kind,
        "nonce": state.nonce,
        "last_proof_age": st.now - state.last_proof_at if state.open else None,
        "last_proof_text": f"{span(st.now - state.last_proof_at)} ago" if state.open else "-",
        "shock_text": f"{span(st.now - state.shock_at)} ago" if state.shock_at else "-",
        "liquidatable_text": (
            "now" if st.liquidatable else when(st.now, st.liquidatable_at) if state.open else "-"
        ),
        "collateral": {a: _tokens(client, a, v) for a, v in st.balances.items()},
    }


# ---------------------------------------------------------------- the private views


@dataclass
class PrivateAccount:
    """One account file: the latest account and data it was evaluated with (for the PNG)."""

    path: Path
    account: Account | None = None
    data: MarketData | None = None
    forecast: Forecast | None = None
    _cache_key: str = ""
    view: dict[str, Any] = field(default_factory=dict)


def _svg_curve(account: Account, data: MarketData, lp: LiquidationPrice, rate: int) -> str:
    """Equity and maintenance requirement across ``lp.market``'s price (the others fixed),
    the proven move set, the oracle price and the liquidation price, as inline SVG."""
    width, height, pad = 560, 220, 36
    lo, hi = price_range(lp, rate)
    prices, equity, requirement = curve(account, data, lp.market, lo, hi, SVG_POINTS)
    scale = 10.0**MARGIN_UNIT_DECIMALS
    eq = [v / scale for v in equity]
    rq = [v / scale for v in requirement]
    ys = [*eq, *rq, 0.0]
    y_lo, y_hi = min(ys), max(ys)
    if y_hi - y_lo < 1e-12:
        y_hi = y_lo + 1.0
    x_lo = float(prices[0])
    x_hi = float(prices[-1]) if prices[-1] > prices[0] else x_lo + 1.0

    def x(p: float) -> float:
        return pad + (p - x_lo) / (x_hi - x_lo) * (width - 2 * pad)

    def y(v: float) -> float:
        return height - pad - (v - y_lo) / (y_hi - y_lo) * (height - 2 * pad)

    def line(values: Sequence[float]) -> str:
        return " ".join(f"{x(p):.1f},{y(v):.1f}" for p, v in zip(prices, values, strict=True))

    p0 = float(lp.price)
    set_lo, set_hi = p0 * (1 - rate / 10_000), p0 * (1 + rate / 10_000)
    a, b = max(x(set_lo), pad), min(x(set_hi), width - pad)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="curve" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}" role="img" '
        f'aria-label="{html.escape(lp.market)} equity and requirement">',
        f'<rect class="proven" x="{a:.1f}" y="{pad}" width="{max(b - a, 0):.1f}" '
        f'height="{height - 2 * pad}"><title>proven move set</title></rect>',
        f'<line class="zero" x1="{pad}" x2="{width - pad}" y1="{y(0):.1f}" y2="{y(0):.1f}"/>',
        f'<polyline class="equity" points="{line(eq)}"><title>equity</title></polyline>',
        f'<polyline class="requirement" points="{line(rq)}">'
        "<title>maintenance requirement</title></polyline>",
        f'<line class="oracle" x1="{x(p0):.1f}" x2="{x(p0):.1f}" y1="{pad}" '
        f'y2="{height - pad}"><title>oracle {_price(lp.price)}</title></line>',
    ]
    if lp.liquidation is not None and x_lo <= lp.liquidation <= x_hi:
        lx = x(float(lp.liquidation))
        parts.append(
            f'<line class="liquidation" x1="{lx:.1f}" x2="{lx:.1f}" y1="{pad}" '
            f'y2="{height - pad}"><title>liquidation {_price(lp.liquidation)}</title></line>'
        )
    parts += [
        f'<text x="{pad}" y="{height - 8}">{_price(prices[0])}</text>',
        f'<text x="{width - pad}" y="{height - 8}" text-anchor="end">{_price(prices[-1])}</text>',
        f'<text x="{pad + 3}" y="{pad + 10}">{y_hi:,.0f}</text>',
        f'<text x="{pad + 3}" y="{height - pad - 3}">{y_lo:,.0f}</text>',
        f'<text x="{pad}" y="14">{html.escape(lp.market)}: equity (blue), maintenance '
        "requirement (orange), proven set (green)</text>",
        "</svg>",
    ]
    return "".join(parts)


def _percent(p: float | None) -> str:
    return "-" if p is None else f"{100 * p:.2f}%"


def _hours(h: float) -> str:
    return f"{h / 24:g}d" if h >= 24 and h % 24 == 0 else f"{h:g}h"


def forecast_summary(fc: Forecast) -> dict[str, Any]:
    """What ``zkmargin forecast`` prints, as short texts (no fan, no correlation)."""
    if fc.expected_censored == 0:
        ttl = f"{fc.expected_hours:.1f} h"
    else:
        ttl = (
            f"> {fc.expected_hours:.1f} h ({_percent(fc.expected_censored)} of paths not "
            f"liquidated by {_hours(fc.cap_hours)})"
        )
    if fc.median_hours is not None:
        ttl += f"; median {fc.median_hours:.1f} h"
    advice = None
    if fc.advice is not None:
        a = fc.advice
        top = (
            "no top-up reaches the target"
            if a.top_up is None
            else f"top up {format_fixed(a.top_up, BALANCE_DECIMALS)} {a.asset} "
            f"-> {_percent(a.top_up_probability)}"
        )
        red = (
            "closing every position does not reach the target"
            if a.reduce_bps is None
            else f"or close {a.reduce_bps / 100:g}% of each position -> "
            f"{_percent(a.reduce_probability)}"
        )
        advice = f"keep the {_hours(a.horizon_hours)} chance <= {_percent(a.target)}: {top}; {red}"
    return {
        "model": f"{fc.method}, {fc.samples:,} paths (seed {fc.seed})",
        "horizons": [
            {
                "horizon": _hours(h.hours),
                "leave_set": _percent(h.leave_set),
                "liquidation": _percent(h.liquidation),
                "insolvency": _percent(h.insolvency),
            }
            for h in fc.horizons
        ],
        "time_to_liquidation": ttl,
        "advice": advice,
    }


def private_view(
    client: EngineClient,
    item: PrivateAccount,
    history: PriceHistory | None,
    samples: int,
) -> dict[str, Any]:
    """Margin, liquidation prices, curves and forecast of one account file at the chain's
    prices: the engine's balances if the account is open there, else the file's."""
    view: dict[str, Any] = {"file": item.path.name, "error": None}
    try:
        file_account = load_account_file(client, item.path)
        address = format_address(file_account.address)
        view["address"] = address
        state = client.account_state(address)
        data = client.market_data_for(state)
        if state.open:
            account = client.chain_account(file_account, data)
            view["balances_from"] = "the engine"
        else:
            account = file_account
            view["balances_from"] = "the account file (no account open at the engine)"
        view["positions"] = [
            {
                "market": p.market,
                "side": "long" if p.long else "short",
                "size": format_fixed(p.size, SIZE_DECIMALS),
                "entry": _price(p.entry_price),
            }
            for p in account.positions
        ]
        view["collateral"] = {
            name: format_fixed(amount, BALANCE_DECIMALS)
            for name, amount in account.collateral.items()
        }
        report = evaluate(account, data, Mode.MAINTENANCE)
        view["equity"] = report.equity_display()
        view["requirement"] = report.requirement_display()
        view["can_prove"] = report.solvent
        item.account, item.data = account, data
        if not account.positions:
            view["markets"], view["forecast"] = [], None
            item.forecast = None
            return view
        key = repr((account, data, samples))
        if key != item._cache_key or item.forecast is None:
            if history is None:
                raise ZkMarginError("no price history for the forecast")
            item.forecast = forecast_from_history(account, data, history, samples=samples)
            item._cache_key = key
        fc = item.forecast
        view["forecast"] = forecast_summary(fc)
        markets = []
        for lp in fc.liquidation_prices:
            rate = fc.rates_bps[lp.market]
            markets.append(
                {
                    "market": lp.market,
                    "price": _price(lp.price),
                    "rate": f"{rate / 100:g}%",
                    "proven_set": (
                        f"{_price(lp.price * (10_000 - rate) // 10_000)} .. "
                        f"{_price(lp.price * (10_000 + rate) // 10_000)}"
                    ),
                    "liquidation": "none" if lp.liquidation is None else _price(lp.liquidation),
                    "move": (
                        "now"
                        if lp.direction == "now"
                        else "-"
                        if lp.distance is None
                        else f"{100 * float(lp.distance):+.2f}%"
                    ),
                    "svg": _svg_curve(account, data, lp, rate),
                }
            )
        view["markets"] = markets
    except ZkMarginError as exc:  # ChainError and InputError included
        view["error"] = str(exc)
    except Exception as exc:  # one account's failure never stops the page
        view["error"] = f"internal error: {type(exc).__name__}: {exc}"
    return view


# ---------------------------------------------------------------- the state thread


class Dashboard:
    """The latest view, rebuilt by :meth:`refresh` when the chain moves; readers wait on
    :meth:`wait_newer`."""

    def __init__(
        self,
        client: EngineClient,
        account_files: Sequence[Path] = (),
        *,
        history: PriceHistory | None = None,
        samples: int = DEFAULT_SAMPLES,
        wait_seconds: float = WAIT_SECONDS,
    ) -> None:
        self.client = client
        self.private = [PrivateAccount(Path(p)) for p in account_files]
        self.history = history
        self.samples = samples
        self.wait_seconds = wait_seconds
        self.scanner = AccountScanner(client)
        self.version = 0
        self.state: dict[str, Any] = {"version": 0, "error": "starting"}
        self.waiting = 0  # long-poll requests held right now (tests watch this)
        self._seen: tuple[int, str | None] | None = None
        self._cond = threading.Condition()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.plot_lock = threading.Lock()

    # the reads (poller thread only: one RPC connection, never from a request handler)

    def build(self) -> dict[str, Any]:
        client = self.client
        head = int(str(client.chain.request("eth_blockNumber", [])), 16)
        block = client.chain.block(head)
        now = int(str(block["timestamp"]), 16)
        addresses = self.scanner.scan(head)
        for item in self.private:
            try:
                address = format_address(load_account_file(client, item.path).address)
            except ZkMarginError:
                continue
            if address not in addresses:
                addresses.append(address)
        return {
            "block": head,
            "timestamp": now,
            "time_text": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(now)),
            "chain_id": client.chain.chain_id,
            "engine": client.deployment.engine,
            "feeds": feeds_view(client, now),
            "accounts": [account_row(client, a) for a in addresses],
            "pool": [
                {"asset": a.name, "amount": _tokens(client, a.name, client.pool(a.name))}
                for a in client.deployment.assets
            ],
            "private": [
                private_view(client, item, self.history, self.samples) for item in self.private
            ],
            "error": None,
        }

    def refresh(self, *, force: bool = False) -> bool:
        """Rebuild the view if the head moved; True if a new view was published."""
        try:
            head = int(str(self.client.chain.request("eth_blockNumber", [])), 16)
            seen = (head, self.client.chain.block(head).get("hash"))
            if seen == self._seen and not force:
                return False
            state = self.build()
            self._seen = seen
        except Exception as exc:  # unreachable chain, engine gone: shown, polling goes on
            if isinstance(exc, ZkMarginError):
                message = str(exc)
            else:
                message = f"internal error: {type(exc).__name__}: {exc}"
            if self.state.get("error") == message and not force:
                return False
            state = {**self.state, "error": message}
            self._seen = None
        self.publish(state)
        return True

    def publish(self, state: dict[str, Any]) -> None:
        with self._cond:
            self.version += 1
            state["version"] = self.version
            state["served_at"] = time.strftime("%H:%M:%S", time.localtime())
            self.state = state
            self._cond.notify_all()

    def wait_newer(self, after: int, timeout: float | None = None) -> dict[str, Any]:
        """The view, as soon as its version is above ``after`` (or after the timeout)."""
        with self._cond:
            self.waiting += 1
            try:
                self._cond.wait_for(
                    lambda: self.version > after or self._stop.is_set(),
                    self.wait_seconds if timeout is None else timeout,
                )
            finally:
                self.waiting -= 1
            return self.state

    # the poller

    def start(self, poll: float = POLL_SECONDS) -> None:
        self.refresh(force=True)

        def run() -> None:
            while not self._stop.wait(poll):
                self.refresh()

        self._thread = threading.Thread(target=run, name="dashboard-poller", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        with self._cond:
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def plot_png(self, index: int) -> bytes | None:
        """``zkmargin plot``'s PNG for account file ``index`` at the latest view's data."""
        if not 0 <= index < len(self.private):
            return None
        item = self.private[index]
        if item.account is None or item.data is None or item.forecast is None:
            return None
        from zkmargin.plots import render_png

        with self.plot_lock:  # pyplot is not thread-safe
            return render_png(item.account, item.data, item.forecast)


# ---------------------------------------------------------------- HTTP


def page_html(state: dict[str, Any]) -> bytes:
    """The page with ``state`` inlined (every ``<`` escaped: no string can close the
    script or open a comment inside it)."""
    template = (
        resources.files("cli").joinpath("dashboard_static/index.html").read_text(encoding="utf-8")
    )
    inline = json.dumps(state).replace("<", "\\u003c")
    return template.replace("/*INITIAL_STATE*/null", inline).encode("utf-8")


class DashboardServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, host: str, port: int, dashboard: Dashboard) -> None:
        self.dashboard = dashboard
        super().__init__((host, port), _Handler)
        self.hosts = _allowed_hosts(host, self.server_address[1])

    @property
    def url(self) -> str:
        host, port = self.server_address[0], self.server_address[1]
        host = str(host)
        shown = f"[{host}]" if ":" in host else host
        return f"http://{shown}:{port}/"


def _allowed_hosts(host: str, port: int) -> set[str]:
    names = {host, "localhost", "127.0.0.1", "[::1]"}
    if ":" in host:
        names.add(f"[{host}]")
    return {n for name in names for n in (name, f"{name}:{port}")}


class _Handler(BaseHTTPRequestHandler):
    server: DashboardServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass  # quiet: the terminal shows the URL and errors only

    def _send(self, code: int, body: bytes, content_type: str) -> None:
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Referrer-Policy", "no-referrer")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def do_HEAD(self) -> None:
        self.do_GET()

    def do_GET(self) -> None:
        if self.headers.get("Host", "") not in self.server.hosts:
            self._send(403, b"forbidden: unexpected Host header\n", "text/plain")
            return
        url = urlsplit(self.path)
        dash = self.server.dashboard
        try:
            if url.path in ("/", "/index.html"):
                self._send(200, page_html(dash.state), "text/html; charset=utf-8")
            elif url.path == "/api/state":
                query = parse_qs(url.query)
                after = query.get("after", [""])[0]
                state = dash.wait_newer(int(after)) if after.isdigit() else dash.state
                self._send(200, json.dumps(state).encode(), "application/json")
            elif match := _PLOT_PATH.fullmatch(url.path):
                png = dash.plot_png(int(match.group(1)))
                if png is None:
                    self._send(404, b"no plot for this account (yet)\n", "text/plain")
                else:
                    self._send(200, png, "image/png")
            else:
                self._send(404, b"not found\n", "text/plain")
        except (BrokenPipeError, ConnectionResetError):
            pass


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def run_dashboard(
    client: EngineClient,
    account_files: Sequence[Path],
    host: str,
    port: int,
    *,
    samples: int = DEFAULT_SAMPLES,
    history_file: Path = DEFAULT_HISTORY,
    echo: Callable[[str], None] = click.echo,
) -> None:
    """Serve until Ctrl-C or SIGTERM."""
    history = load_history(history_file) if account_files else None
    dashboard = Dashboard(client, account_files, history=history, samples=samples)
    try:
        server = DashboardServer(host, port, dashboard)
    except OSError as exc:
        raise ChainError(f"cannot listen on {host}:{port} ({exc.strerror})") from None
    dashboard.start()

    def stop(_signum: int, _frame: object) -> None:
        threading.Thread(target=server.shutdown, daemon=True).start()

    previous = signal.signal(signal.SIGTERM, stop)
    if not _is_loopback(host):
        echo(f"warning: listening on {host}, not loopback: anyone who reaches it sees the page")
    echo(f"dashboard on {server.url} (block {dashboard.state.get('block', '?')}); Ctrl-C stops")
    try:
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)
        dashboard.stop()
        server.server_close()
    echo("stopped")


@click.command()
@click.argument(
    "account_files",
    metavar="[ACCOUNT_FILE]...",
    nargs=-1,
    type=click.Path(path_type=Path, dir_okay=False, exists=True),
)
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help="Address to listen on (anything but loopback shows the page to the network).",
)
@click.option(
    "--port", type=click.IntRange(0, 65535), default=0, show_default=True, help="0: any free port."
)
@click.option(
    "--samples",
    type=click.IntRange(100, 200_000),
    default=DEFAULT_SAMPLES,
    show_default=True,
    help="Forecast paths per account file.",
)
@read_options
def dashboard(
    account_files: tuple[Path, ...], host: str, port: int, samples: int, conn: Connection
) -> None:
    """Serve a local web page with the engine's live state, refreshed as blocks arrive.

    Oracle prices and feed ages, every account the engine knows (status, nonce, last
    proof, collateral) and the pool; for each ACCOUNT_FILE (read here, never served: the
    salt stays on this machine) its margin, liquidation prices, equity and requirement
    across price moves with the proven set, and the liquidation forecast.
    """
    client = conn.client
    for path in account_files:
        load_account_file(client, path)  # a bad file is one line now, not a page error
    run_dashboard(client, account_files, host, port, samples=samples)
