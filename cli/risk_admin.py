"""``zkmargin risk-admin``: risk parameters under the RiskGovernor and its timelock.

Loosening and listings wait behind the TimelockController (``schedule``, then
``execute`` once the delay has passed); the risk publisher tightens at once within the
governor's limits (``tighten``); anyone folds the oracle's latest price into the
volatility estimate and raises a market's margin toward its target (``sync``), or
announces and later applies a lower one (``propose-relax``, ``execute-relax``).
docs/risk.md explains the rules.
"""

from __future__ import annotations

import click

from chain.governance import GovernanceClient, MarketRisk
from chain.rpc import TxResult
from cli.chainopts import Connection, connection_options, from_option, read_options, span, when
from cli.sections import WholeLinesGroup
from zkmargin.errors import InputError

# function -> kinds of its arguments, in Solidity order
TIMELOCK_FUNCTIONS: dict[str, tuple[str, ...]] = {
    "setMarketRisk": ("market", "bps", "bps"),
    "setHaircut": ("asset", "bps"),
    "setProofLifetime": ("seconds",),
    "setGracePeriod": ("seconds",),
    "setLiquidationPenalty": ("bps",),
    "setCloseFee": ("market", "bps"),
}
PUBLISHER_FUNCTIONS: dict[str, tuple[str, ...]] = {
    "raiseMarketRisk": ("market", "bps", "bps"),
    "raiseHaircut": ("asset", "bps"),
    "shortenProofLifetime": ("seconds",),
    "shortenGracePeriod": ("seconds",),
    "lowerLiquidationPenalty": ("bps",),
    "raiseCloseFee": ("market", "bps"),
}
MAX_SECONDS = 2**64 - 1


def _governance(conn: Connection) -> GovernanceClient:
    return GovernanceClient.of(conn.client)


def _int(text: str, field: str, lo: int, hi: int) -> int:
    if not text.isdigit() or (len(text) > 1 and text[0] == "0"):
        raise InputError(f"{field}: {text!r} is not a whole number")
    value = int(text)
    if not lo <= value <= hi:
        raise InputError(f"{field}: {value} is outside {lo}..{hi}")
    return value


def _args(
    conn: Connection, table: dict[str, tuple[str, ...]], function: str, raw: tuple[str, ...]
) -> tuple[int, ...]:
    if function not in table:
        raise InputError(f"FUNCTION: {function!r} is not one of {', '.join(table)}")
    kinds = table[function]
    if len(raw) != len(kinds):
        raise InputError(
            f"{function} takes {len(kinds)} argument(s): {' '.join(k.upper() for k in kinds)}"
        )
    dep = conn.client.deployment
    out = []
    for i, (kind, text) in enumerate(zip(kinds, raw, strict=True)):
        field = f"argument {i + 1} ({kind})"
        if kind == "market":
            out.append(dep.market(text).id)
        elif kind == "asset":
            out.append(dep.asset(text).id)
        elif kind == "bps":
            out.append(_int(text, field, 0, 10_000))
        else:
            out.append(_int(text, field, 1, MAX_SECONDS))
    return tuple(out)


def _market_id(conn: Connection, name: str) -> int:
    return conn.client.deployment.market(name).id


def _gas(result: TxResult) -> str:
    return f"{result.gas_used:,} gas"


@click.group("risk-admin", cls=WholeLinesGroup)
def risk_admin() -> None:
    """Risk parameters under the RiskGovernor: timelocked loosening, bounded tightening,
    volatility-driven margin."""


@risk_admin.command("status")
@read_options
def status(conn: Connection) -> None:
    """Each market's rates, floor, volatility target and pending relax; the limits."""
    gov = _governance(conn)
    now = gov.chain.timestamp()
    limits = gov.limits()
    click.echo(
        f"timelock delay {span(gov.min_delay())}; per-update step {limits.max_step_bps} bps, "
        f"cooldown {span(limits.cooldown)}, MMR ceiling {limits.max_mmr_bps} bps, "
        f"z {limits.z_bps / 10_000:g} over {span(limits.margin_period)}; close fee step "
        f"{limits.max_close_fee_step_bps} bps, ceiling {limits.max_close_fee_bps} bps"
    )
    for m in conn.client.deployment.markets:
        click.echo(_market_line(gov.market_risk(m.id), now))


def _market_line(r: MarketRisk, now: int) -> str:
    line = (
        f"{r.name}: MMR {r.mmr_bps} / IMR {r.imr_bps} bps (floor {r.floor_mmr_bps} / "
        f"{r.floor_imr_bps}); volatility implies {r.vol_mmr_bps} bps, target "
        f"{r.target_mmr_bps} / {r.target_imr_bps}"
    )
    if not r.tracked:
        line += "; feed not tracked by the monitor"
    elif not r.current:
        line += "; a newer oracle answer is not folded in yet"
    if r.pending_eta:
        line += (
            f"; relax to {r.pending_mmr_bps} / {r.pending_imr_bps} pending, executable "
            f"{when(now, r.pending_eta)}"
        )
    if r.ready_at > now:
        line += f"; next immediate change {when(now, r.ready_at)}"
    line += f"; close fee {r.close_fee_bps} bps"
    if r.close_fee_ready_at > now:
        line += f" (next raise {when(now, r.close_fee_ready_at)})"
    return line


@risk_admin.command("sync")
@click.argument("market")
@connection_options
@from_option(0)
def sync(market: str, conn: Connection, sender: str) -> None:
    """Fold MARKET's latest oracle price into its volatility and raise its margin toward
    the target (anyone; at once, by at most one step)."""
    gov = _governance(conn)
    signer = conn.signer(None, sender)
    mid = _market_id(conn, market)
    before = gov.market_risk(mid)
    if before.tracked and not before.current:
        result = gov.update_volatility(signer, mid)
        click.echo(f"volatility updated ({_gas(result)})")
    result = gov.sync_margin(signer, mid)
    after = gov.market_risk(mid)
    click.echo(
        f"{after.name}: MMR {before.mmr_bps} -> {after.mmr_bps}, IMR {before.imr_bps} -> "
        f"{after.imr_bps} bps (target {after.target_mmr_bps}); {_gas(result)}"
    )


@risk_admin.command("propose-relax")
@click.argument("market")
@connection_options
@from_option(0)
def propose_relax(market: str, conn: Connection, sender: str) -> None:
    """Announce MARKET's lower volatility target (anyone); it applies after the delay."""
    gov = _governance(conn)
    mid = _market_id(conn, market)
    result = gov.propose_relax(conn.signer(None, sender), mid)
    r = gov.market_risk(mid)
    click.echo(
        f"{r.name}: relax to {r.pending_mmr_bps} / {r.pending_imr_bps} bps executable "
        f"{when(gov.chain.timestamp(), r.pending_eta)}; {_gas(result)}"
    )


@risk_admin.command("execute-relax")
@click.argument("market")
@connection_options
@from_option(0)
def execute_relax(market: str, conn: Connection, sender: str) -> None:
    """Apply MARKET's due relax (anyone), never below today's volatility target."""
    gov = _governance(conn)
    mid = _market_id(conn, market)
    result = gov.execute_relax(conn.signer(None, sender), mid)
    r = gov.market_risk(mid)
    click.echo(f"{r.name}: MMR {r.mmr_bps} / IMR {r.imr_bps} bps; {_gas(result)}")


@risk_admin.command("tighten")
@click.argument("function")
@click.argument("args", nargs=-1)
@connection_options
@from_option(0)
def tighten(function: str, args: tuple[str, ...], conn: Connection, sender: str) -> None:
    """Tighten at once as the risk publisher, within the limits: FUNCTION is
    raiseMarketRisk MARKET MMR IMR, raiseHaircut ASSET BPS, shortenProofLifetime S,
    shortenGracePeriod S, lowerLiquidationPenalty BPS or raiseCloseFee MARKET BPS."""
    values = _args(conn, PUBLISHER_FUNCTIONS, function, args)
    result = _governance(conn).publish(conn.signer(None, sender), function, *values)
    click.echo(f"{function}({', '.join(map(str, values))}) applied; {_gas(result)}")


@risk_admin.command("schedule")
@click.argument("function")
@click.argument("args", nargs=-1)
@connection_options
@from_option(0)
def schedule(function: str, args: tuple[str, ...], conn: Connection, sender: str) -> None:
    """Schedule a change behind the timelock (a proposer signs): FUNCTION is
    setMarketRisk MARKET MMR IMR, setHaircut ASSET BPS, setProofLifetime S,
    setGracePeriod S, setLiquidationPenalty BPS or setCloseFee MARKET BPS."""
    values = _args(conn, TIMELOCK_FUNCTIONS, function, args)
    gov = _governance(conn)
    op, result = gov.schedule(conn.signer(None, sender), function, *values)
    click.echo(
        f"scheduled {function}({', '.join(map(str, values))}) as {op.id}, executable "
        f"{when(gov.chain.timestamp(), op.ready_at)}; {_gas(result)}"
    )


@risk_admin.command("execute")
@click.argument("function")
@click.argument("args", nargs=-1)
@connection_options
@from_option(0)
def execute(function: str, args: tuple[str, ...], conn: Connection, sender: str) -> None:
    """Execute a scheduled change whose delay has passed (anyone)."""
    values = _args(conn, TIMELOCK_FUNCTIONS, function, args)
    result = _governance(conn).execute(conn.signer(None, sender), function, *values)
    click.echo(f"executed {function}({', '.join(map(str, values))}); {_gas(result)}")


@risk_admin.command("list")
@read_options
def list_operations(conn: Connection) -> None:
    """Every change scheduled on the governor, its state and when it may execute."""
    gov = _governance(conn)
    now = gov.chain.timestamp()
    ops = gov.scheduled(conn.client.deployment.block)
    if not ops:
        click.echo("no scheduled changes")
    for op in ops:
        ready = "" if op.state == "Done" else f", executable {when(now, op.ready_at)}"
        click.echo(
            f"{op.id[:10]}… {op.function}({', '.join(map(str, op.args))}): {op.state}{ready}"
        )
