"""``zkmargin dashboard`` in a real browser: Debian's headless Chromium loads the page from
a dashboard on the session's anvil and the test reads what the page shows (the DOM after
its scripts ran): prices, an account's status, an account file's margin views; then a
price moves on-chain and the page shows it, both on a fresh load and by live refresh.

Chromium is a system package (``make chromium`` installs it; ``make test`` depends on
it). When it is missing these tests FAIL with one line saying how to install it: a
browser test that skips by default would hide a broken page.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from chain.local import LocalSystem
from chain.signers import dev_signer
from cli.dashboard import Dashboard, DashboardServer, page_html
from cli.forecast import DEFAULT_HISTORY
from prover.prove import Prover
from zkmargin.accounts import new_account, save_account
from zkmargin.model import Position
from zkmargin.units import Price, Size
from zkmargin.volatility import load_history

CHROMIUM = Path(os.environ.get("ZKMARGIN_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
)
ZKMARGIN = Path(sys.executable).parent / "zkmargin"
E8 = 10**8


@pytest.fixture(scope="module")
def chromium() -> Path:
    if not (CHROMIUM.is_file() and os.access(CHROMIUM, os.X_OK)):
        pytest.fail(
            f"Chromium not found at {CHROMIUM}: run `make chromium` "
            "(as root: apt-get update && apt-get install -y chromium)",
            pytrace=False,
        )
    return CHROMIUM


def chromium_args(chromium: Path, profile: str, url: str, budget_ms: int | None) -> list[str]:
    args = [str(chromium), *CHROMIUM_FLAGS, f"--user-data-dir={profile}"]
    if budget_ms is not None:
        args.append(f"--virtual-time-budget={budget_ms}")
    return [*args, "--dump-dom", url]


def dump_dom(chromium: Path, url: str, budget_ms: int | None = None) -> str:
    """The DOM after the page's scripts ran (and ``budget_ms`` of virtual time)."""
    with tempfile.TemporaryDirectory(prefix="zkm-chromium-") as profile:
        done = subprocess.run(
            chromium_args(chromium, profile, url, budget_ms),
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "<html" in done.stdout, done.stderr[-2000:]
    return done.stdout


def feed_price(dom: str, feed: str) -> str:
    match = re.search(
        rf'<tr data-feed="{re.escape(feed)}">.*?<td class="num price">([^<]*)</td>', dom
    )
    assert match, f"no row for {feed} in the page"
    return match.group(1)


def account_status(dom: str, address: str) -> str:
    match = re.search(rf'<tr data-address="{address}">.*?<td class="status[^"]*">([^<]*)</td>', dom)
    assert match, f"no row for {address} in the page"
    return match.group(1)


def get(url: str, host: str | None = None) -> tuple[int, bytes]:
    request = urllib.request.Request(url, headers={"Host": host} if host else {})
    try:
        with urllib.request.urlopen(request, timeout=30) as reply:
            return int(reply.status), bytes(reply.read())
    except urllib.error.HTTPError as exc:
        return int(exc.code), bytes(exc.read())


def wait_until(check: object, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():  # type: ignore[operator]
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


class Served:
    def __init__(self, dashboard: Dashboard, server: DashboardServer) -> None:
        self.dashboard = dashboard
        self.server = server
        self.url = server.url

    def at_block(self, block: int) -> None:
        wait_until(lambda: int(self.dashboard.state.get("block", -1)) >= block)


@pytest.fixture
def trader_file(chain_snapshot: LocalSystem, prover: Prover, tmp_path: Path) -> Path:
    """Dev account 3 with an isolated 5 ETH long on 2000 USDC, open at the engine."""
    client = chain_snapshot.client
    trader = dev_signer(3)
    client.deposit(trader, "USDC", 2_000 * 10**6)
    account = new_account(
        int(trader.address, 16),
        positions=(Position("ETH-USD", True, Size(5 * E8), Price(2_000 * E8)),),
    )
    plan = client.plan_open(account)
    path = tmp_path / "trader.account.json"
    save_account(path, plan.account)
    client.open(trader, plan, prover)
    return path


@pytest.fixture
def served(chain_snapshot: LocalSystem, trader_file: Path) -> Iterator[Served]:
    dashboard = Dashboard(
        chain_snapshot.client,
        [trader_file],
        history=load_history(DEFAULT_HISTORY),
        samples=300,
        wait_seconds=1.0,
    )
    dashboard.start(poll=0.05)
    server = DashboardServer("127.0.0.1", 0, dashboard)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield Served(dashboard, server)
    finally:
        server.shutdown()
        dashboard.stop()
        server.server_close()
        thread.join(timeout=10)


def test_the_page_shows_the_chain_and_follows_a_price_move(
    chromium: Path, chain_snapshot: LocalSystem, trader_file: Path, served: Served
) -> None:
    client = chain_snapshot.client
    trader = dev_signer(3).address
    salt = re.search(r'"salt": "(\d+)"', trader_file.read_text())
    assert salt is not None

    dom = dump_dom(chromium, served.url)
    assert feed_price(dom, "ETH/USD") == "2000"
    assert feed_price(dom, "BTC/USD") == "60000"
    assert account_status(dom, trader) == "healthy"
    assert '<section class="private" data-file="trader.account.json">' in dom
    assert "equity 2000 vs maintenance 500: can prove" in dom
    assert dom.count('<svg xmlns="http://www.w3.org/2000/svg" class="curve"') == 1
    assert "expected time to liquidation" in dom and '<table class="forecast">' in dom
    assert '<tr data-asset="USDC">' in dom  # the pool
    # private data stays here: positions are shown, the salt is not, anywhere
    code, body = get(served.url + "api/state")
    assert code == 200
    assert salt.group(1) not in dom and salt.group(1).encode() not in body
    code, png = get(served.url + "account/0/plot.png")
    assert code == 200 and png.startswith(b"\x89PNG\r\n\x1a\n")

    # ETH falls 15%: beyond the proven set, a keeper flags the shock; a fresh load shows it
    keeper = dev_signer(5)
    client.set_price(dev_signer(0), "ETH/USD", 1_700 * E8)
    result = client.flag_shock(keeper, trader)
    served.at_block(result.block_number)
    dom = dump_dom(chromium, served.url)
    assert feed_price(dom, "ETH/USD") == "1700"
    assert account_status(dom, trader) == "flagged"
    assert "equity 500 vs maintenance 425: can prove" in dom

    # live: the page is open (its long poll is waiting) when the next price arrives
    version = int(served.dashboard.state["version"])
    with tempfile.TemporaryDirectory(prefix="zkm-chromium-") as profile:
        browser = subprocess.Popen(
            chromium_args(chromium, profile, served.url, budget_ms=800),
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        try:
            wait_until(lambda: served.dashboard.waiting > 0 or browser.poll() is not None)
            assert browser.poll() is None, "the browser left before the price moved"
            client.set_price(dev_signer(0), "ETH/USD", 1_650 * E8)
            client.chain.request("evm_mine", [])
            dom, _ = browser.communicate(timeout=60)
        finally:
            if browser.poll() is None:
                browser.kill()
                browser.wait()
    assert int(served.dashboard.state["version"]) > version
    assert re.search(r'<span id="live">live</span>', dom)
    assert feed_price(dom, "ETH/USD") == "1650"


def test_the_command_serves_loopback_only_and_stops_on_ctrl_c(
    chain_system: LocalSystem, tmp_path: Path
) -> None:
    deployment = tmp_path / "deployment.json"
    chain_system.deployment.save(deployment)
    env = {**os.environ, "ZKMARGIN_DEPLOYMENT": str(deployment)}
    env.pop("ZKMARGIN_RPC_URL", None)
    proc = subprocess.Popen(
        [str(ZKMARGIN), "dashboard", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        # SIGINT as a terminal gives it, even when the test runner inherited it ignored
        # (started in the background without job control)
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        match = re.match(
            r"dashboard on (http://127\.0\.0\.1:(\d+)/) \(block \d+\); Ctrl-C stops", line
        )
        assert match, line
        url, port = match.group(1), match.group(2)
        code, body = get(url + "api/state")
        assert code == 200 and b'"feed": "ETH/USD"' in body
        assert get(url + "api/state", host=f"attacker.example:{port}")[0] == 403
        assert get(url + "nothing")[0] == 404
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=15)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err
    assert out.strip() == "stopped" and "Traceback" not in err


def test_the_inlined_state_cannot_close_the_script() -> None:
    hostile = "</script><script>alert(1)</script><!--"
    page = page_html({"version": 1, "error": hostile}).decode()
    assert hostile not in page and "<script>alert" not in page
    assert page.count("</script>") == 1
