"""Scripted price paths: one-block crashes, a slow bleed, an oscillation, a stale feed.

A path maps scenario time (seconds) to each feed's price as an exact multiple of its base
price; every non-trivial multiple is rounded to a millionth (``MICRO``), so prices, and
everything valued at them, are integers. Only the oscillation needs a transcendental
function: it is computed in 50-digit decimal arithmetic, never in binary floats.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal, localcontext
from fractions import Fraction

from benchmarks.stress.money import MICRO, percent, round_div
from benchmarks.stress.timing import STEP
from benchmarks.stress.valuation import BASE_PRICES

Multipliers = Mapping[str, Fraction]  # feed -> price / base price
HEARTBEAT = 3600  # the ETH/USD feed's heartbeat in DEFAULT_SPEC: stale after this silence


def _none(_: int) -> frozenset[str]:
    return frozenset()


@dataclass(frozen=True)
class Scenario:
    name: str
    description: str
    duration: int  # seconds of chain time
    path: Callable[[int], Multipliers]  # true price at scenario time t (seconds)
    frozen: Callable[[int], frozenset[str]] = _none  # feeds that publish nothing at t
    passive: bool = False  # every trader passive on insolvency (bisection confirmations)
    settled: int = 0  # scenario time from which prices are flat and every feed publishes

    def covers_grace(self, grace_period: int) -> bool:
        """The run lasts past the last move (and the end of any outage) by at least the
        grace period and one step: a flag raised on the last move can mature."""
        return self.duration >= self.settled + grace_period + STEP


def flat() -> dict[str, Fraction]:
    return {feed: Fraction(1) for feed in BASE_PRICES}


def to_micro(value: Fraction) -> Fraction:
    """``value`` rounded to the nearest millionth (halves to even)."""
    return Fraction(round(value * MICRO), MICRO)


def move_text(size: Fraction) -> str:
    """A fall of ``size`` as a signed percent ("-30", "-4.75"; a rise is "+")."""
    sign = "-" if size >= 0 else "+"
    return sign + percent(round_div(abs(size.numerator) * MICRO, size.denominator))


# Durations are explicit and independent of the proof lifetime (3 days by default): each
# covers the scenario's moves (and outage) plus the grace period, plus room for the
# slowest trader (1,500 s) to act after it.
CRASH_DURATION = 1800
BLEED_MINUTES = 60
OSCILLATION_END = 4800  # two 40-minute periods, then back at the base price
TAIL = 900  # after the last move / outage: >= grace (600 s) + a step, with room


def crash_scenario(
    name: str,
    size: Fraction,
    duration: int = CRASH_DURATION,
    *,
    at: int = STEP,
    passive: bool = False,
) -> Scenario:
    """ETH and BTC move by ``-size`` in one block at ``at`` and stay there."""

    def path(t: int) -> Multipliers:
        out = flat()
        if t >= at:
            out["ETH/USD"] = out["BTC/USD"] = 1 - size
        return out

    return Scenario(
        name,
        f"ETH and BTC {move_text(size)}% in one block at t={at} s, then flat",
        duration,
        path,
        passive=passive,
        settled=at,
    )


def inside_scenario(name: str, eth: Fraction, btc: Fraction, *, at: int = STEP) -> Scenario:
    """ETH and BTC fall by ``eth`` and ``btc`` in one block at ``at`` and stay there:
    chosen inside the opening proofs' move sets: the cross bands (ETH 4.75%, BTC 3.8% with
    the defaults) and the portfolio ellipsoid of the stress risk file (ETH -4.5% with BTC
    -3.7% lies along its fitted correlation: ||L^-1 delta|| ~ 0.92 < 0.95)."""

    def path(t: int) -> Multipliers:
        out = flat()
        if t >= at:
            out["ETH/USD"], out["BTC/USD"] = 1 - eth, 1 - btc
        return out

    return Scenario(
        name,
        f"ETH {move_text(eth)}% and BTC {move_text(btc)}% in one block at t={at} s, then "
        "flat (inside every opening proof's move set)",
        CRASH_DURATION,
        path,
        settled=at,
    )


def bleed(t: int) -> Multipliers:
    """ETH -0.3% and BTC -0.2% per minute, compounded, for the first hour."""
    minutes = min(t, BLEED_MINUTES * 60) // 60
    out = flat()
    out["ETH/USD"] = to_micro(Fraction(997, 1000) ** minutes)
    out["BTC/USD"] = to_micro(Fraction(998, 1000) ** minutes)
    return out


# pi to 50 digits: the oscillation's phase is exact to far below a millionth
_PI = Decimal("3.14159265358979323846264338327950288419716939937510")


def sine(turns: Fraction) -> Fraction:
    """sin(2 pi ``turns``) to ~35 digits (Taylor series on the phase reduced to [-pi, pi))."""
    phase = turns - (turns + Fraction(1, 2)).__floor__()  # in [-1/2, 1/2)
    with localcontext() as ctx:
        ctx.prec = 50
        x = 2 * _PI * Decimal(phase.numerator) / Decimal(phase.denominator)
        term, total, k = x, x, 1
        while abs(term) > Decimal("1e-45"):
            term = -term * x * x / ((2 * k) * (2 * k + 1))
            total += term
            k += 1
    return Fraction(total)


def oscillation(t: int) -> Multipliers:
    """ETH at 1 - 12% sin(2 pi t / 40 min) for two periods, then flat; BTC flat."""
    out = flat()
    out["ETH/USD"] = to_micro(1 - Fraction(12, 100) * sine(Fraction(min(t, OSCILLATION_END), 2400)))
    return out


def stale_path(outage: int) -> Callable[[int], Multipliers]:
    """ETH: -25% at the crash, drifts to -35% over the first hour, back to -30% at the
    end of the outage; BTC: -15% at the crash, then -25% more during the outage."""

    def path(t: int) -> Multipliers:
        out = flat()
        if t < STEP:
            return out
        if t < 3600:
            eth = Fraction(75, 100) - Fraction(10, 100) * Fraction(t - STEP, 3600 - STEP)
        else:
            back = min(Fraction(1), Fraction(t - 3600, max(1, outage + STEP - 3600)))
            eth = Fraction(65, 100) + Fraction(5, 100) * back
        btc = Fraction(85, 100) * (
            1 - Fraction(25, 100) * min(Fraction(1), Fraction(t - STEP, outage))
        )
        out["ETH/USD"] = to_micro(eth)
        out["BTC/USD"] = to_micro(btc)
        return out

    return path


def stale_scenario(name: str, outage: int, tail: int = TAIL) -> Scenario:
    """ETH crashes, then its feed publishes nothing for ``outage`` seconds."""

    def frozen(t: int) -> frozenset[str]:
        return frozenset({"ETH/USD"}) if STEP < t < STEP + outage else frozenset()

    return Scenario(
        name,
        f"ETH -25%, BTC -15% at t={STEP} s; then the ETH/USD feed is silent for "
        f"{outage // 60} min (stale for the last {max(0, outage - HEARTBEAT) // 60} min) "
        "while ETH drifts to -35% and back to -30% and BTC falls 25% more",
        STEP + outage + tail,
        stale_path(outage),
        frozen,
        settled=STEP + outage,
    )


def default_scenarios() -> list[Scenario]:
    """The scenarios, each with an explicit duration covering its moves plus the grace
    period (``Scenario.covers_grace``), whatever the proof lifetime."""
    return [
        inside_scenario("inside-set", Fraction(45, 1000), Fraction(37, 1000)),
        crash_scenario("crash-10", Fraction(10, 100)),
        crash_scenario("crash-30", Fraction(30, 100)),
        crash_scenario("crash-50", Fraction(50, 100)),
        crash_scenario("crash-90", Fraction(90, 100)),
        Scenario(
            "bleed",
            "ETH -0.3%/min and BTC -0.2%/min for 60 min (-16.5% / -11.3%), then flat",
            BLEED_MINUTES * 60 + TAIL,
            bleed,
            settled=BLEED_MINUTES * 60,
        ),
        Scenario(
            "oscillation",
            "ETH 2000 * (1 - 12% sin(2 pi t / 40 min)) for 80 min, then flat; BTC flat",
            OSCILLATION_END + TAIL,
            oscillation,
            settled=OSCILLATION_END,
        ),
        stale_scenario("stale-short", 4500),
        stale_scenario("stale-long", 7200),
    ]
