"""chain.governance and `zkmargin risk-admin` without a chain: the Python mirror of
IRiskGovernor.Limits matches the Solidity struct, the local limits sit inside the
governor's ranges, and the CLI refuses bad arguments before it connects."""

from __future__ import annotations

import pytest

from chain.artifacts import load_artifact
from chain.governance import LIMIT_FIELDS, LOCAL_GOVERNANCE, TIMELOCKED, Limits
from cli.risk_admin import PUBLISHER_FUNCTIONS, TIMELOCK_FUNCTIONS, _int
from zkmargin.errors import InputError


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.capitalize() for part in rest)


def _limits_abi() -> list[str]:
    abi = load_artifact("RiskGovernor").abi
    fn = next(e for e in abi if e.get("type") == "function" and e["name"] == "limits")
    return [c["name"] for c in fn["outputs"][0]["components"]]


def test_limits_mirror_the_solidity_struct() -> None:
    assert [_camel(f) for f in LIMIT_FIELDS] == _limits_abi()
    limits = Limits()
    assert Limits.from_tuple(limits.as_tuple()) == limits


def test_local_limits_are_inside_the_governors_ranges() -> None:
    lim = LOCAL_GOVERNANCE.limits
    assert 1 <= lim.max_step_bps <= 2_500
    assert 60 <= lim.cooldown <= 30 * 86_400
    assert 60 <= lim.relax_delay <= 30 * 86_400
    assert 1 <= lim.max_mmr_bps <= 10_000
    assert 0 <= lim.max_haircut_bps <= 10_000
    assert 60 <= lim.min_lifetime <= 365 * 86_400
    assert 60 <= lim.min_grace <= 365 * 86_400
    assert 0 <= lim.min_penalty_bps <= 2_500
    assert 10_000 <= lim.z_bps <= 100_000
    assert 60 <= lim.margin_period <= 30 * 86_400
    assert 1 <= lim.max_close_fee_step_bps <= 200
    assert 0 <= lim.max_close_fee_bps <= 200
    assert 3_600 <= LOCAL_GOVERNANCE.horizon <= 90 * 86_400


def test_cli_functions_exist_on_the_governor() -> None:
    functions = {
        e["name"]: len(e["inputs"])
        for e in load_artifact("RiskGovernor").abi
        if e.get("type") == "function"
    }
    for name, kinds in {**TIMELOCK_FUNCTIONS, **PUBLISHER_FUNCTIONS}.items():
        assert functions[name] == len(kinds), name
    assert set(TIMELOCK_FUNCTIONS) <= set(TIMELOCKED)
    assert not set(PUBLISHER_FUNCTIONS) & set(TIMELOCKED)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("-5", "not a whole number"),
        ("1.5", "not a whole number"),
        ("007", "not a whole number"),
        ("10001", "outside 0..10000"),
    ],
)
def test_cli_refuses_bad_numbers(text: str, message: str) -> None:
    with pytest.raises(InputError, match=message):
        _int(text, "argument 2 (bps)", 0, 10_000)
    assert _int("10000", "x", 0, 10_000) == 10_000
