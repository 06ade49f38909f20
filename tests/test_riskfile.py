"""The public risk file (zkmargin.riskfile): strict parsing and the risk commitment.

Every refusal is one InputError line starting with the file's role and naming the JSON
path at fault. The commitment is recomputed here from the documented layout.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from zkmargin.errors import InputError
from zkmargin.jsonio import parse_json
from zkmargin.poseidon import poseidon
from zkmargin.riskfile import (
    DEFAULT_SHAPE,
    RISK_DOMAIN_TAG,
    RiskShape,
    load_risk_file,
    parse_risk_file,
    risk_commitment,
    risk_words,
)

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "risk.json"
CALL = "ETH-20261225-2500-C"
PUT = "BTC-20261225-55000-P"


def example() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(EXAMPLE.read_text())
    return data


def edited(path: tuple[str | int, ...], value: Any) -> dict[str, Any]:
    data = copy.deepcopy(example())
    node: Any = data
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return data


def removed(path: tuple[str | int, ...]) -> dict[str, Any]:
    data = copy.deepcopy(example())
    node: Any = data
    for key in path[:-1]:
        node = node[key]
    del node[path[-1]]
    return data


def refusal(call: Callable[[], object]) -> str:
    with pytest.raises(InputError) as info:
        call()
    message = str(info.value)
    assert "\n" not in message, message
    return message


# ================================================================ valid files


def test_example_loads() -> None:
    risk = load_risk_file(EXAMPLE)
    assert list(risk.markets) == ["ETH-USD", "BTC-USD"]
    assert risk.markets["ETH-USD"].floor_bps == 50
    assert risk.collateral["WETH"].risk_factor == "ETH-USD"
    assert risk.collateral["USDC"].risk_factor is None
    assert risk.cholesky_bps == ((900,), (640, 480))
    assert (risk.lambda_mm_bps, risk.lambda_im_bps) == (10000, 15000)
    call = risk.options[CALL]
    assert call.mark == 41_20000000 and call.delta_bps == 2710
    assert call.gamma_charge == 9_80000000 and call.vega_charge == 6_10000000
    assert call.strike == 2500 * 10**8 and call.kind == "call"
    assert call.expiry == 1798185600  # 2026-12-25T08:00:00Z
    assert risk.options[PUT].delta_bps == -2850


def test_brief_example_loads() -> None:
    """The single-market example of the design brief."""
    text = """{"markets": {"ETH-USD": {"mmr_bps": 500, "imr_bps": 1000, "floor_bps": 50}},
     "collateral": {"USDC": {"haircut_bps": 0, "decimals": 6},
                    "WETH": {"haircut_bps": 1000, "decimals": 18, "risk_factor": "ETH-USD"}},
     "prices": {"ETH-USD": "1900", "USDC": "1", "WETH": "1900"},
     "portfolio": {"cholesky_bps": [[900]], "lambda_mm_bps": 10000, "lambda_im_bps": 15000},
     "options": {"ETH-20261225-2500-C": {"underlying": "ETH-USD", "strike": "2500",
       "expiry": "2026-12-25T08:00:00Z", "kind": "call", "mark": "41.2", "delta_bps": 2710,
       "gamma_charge": "9.8", "vega_charge": "6.1"}}}"""
    risk = parse_risk_file(parse_json(text, "risk file"))
    assert risk.cholesky_bps == ((900,),)


def test_options_are_optional_and_negative_correlation_accepted() -> None:
    data = removed(("options",))
    data["portfolio"]["cholesky_bps"] = [[900], [-640, 480]]
    risk = parse_risk_file(data)
    assert risk.options == {}
    assert risk.cholesky_entry(1, 0) == -640
    assert risk.cholesky_entry(0, 1) == 0


def test_bounds_accepted() -> None:
    data = edited(("portfolio", "cholesky_bps"), [[10000], [-10000, 1]])
    data["portfolio"]["lambda_mm_bps"] = 65535
    data["portfolio"]["lambda_im_bps"] = 65535
    data["options"][CALL]["delta_bps"] = 10000
    data["options"][PUT]["delta_bps"] = -10000
    data["options"][CALL]["mark"] = "0"
    risk = parse_risk_file(data)
    assert risk.lambda_im_bps == 65535


# ================================================================ refusals


REFUSALS: list[tuple[str, Callable[[], dict[str, Any]], str]] = [
    ("root", lambda: removed(("portfolio",)), "missing field 'portfolio'"),
    ("unknown root", lambda: edited(("extra",), 1), "unknown field 'extra'"),
    ("no markets", lambda: edited(("markets",), {}), "markets: at least one"),
    ("floor", lambda: edited(("markets", "ETH-USD", "floor_bps"), 10001), "floor_bps"),
    ("floor missing", lambda: removed(("markets", "ETH-USD", "floor_bps")), "'floor_bps'"),
    ("mmr 0", lambda: edited(("markets", "ETH-USD", "mmr_bps"), 0), "mmr_bps"),
    ("imr < mmr", lambda: edited(("markets", "ETH-USD", "imr_bps"), 499), "imr_bps"),
    ("float bps", lambda: edited(("markets", "ETH-USD", "floor_bps"), "50"), "floor_bps"),
    ("haircut", lambda: edited(("collateral", "USDC", "haircut_bps"), -1), "haircut_bps"),
    ("decimals", lambda: edited(("collateral", "USDC", "decimals"), 19), "decimals"),
    (
        "risk factor unlisted",
        lambda: edited(("collateral", "WETH", "risk_factor"), "SOL-USD"),
        "collateral.WETH.risk_factor",
    ),
    ("risk factor type", lambda: edited(("collateral", "WETH", "risk_factor"), 1), "risk_factor"),
    ("missing price", lambda: removed(("prices", "WETH")), "missing price for 'WETH'"),
    ("zero price", lambda: edited(("prices", "ETH-USD"), "0"), "prices.ETH-USD"),
    ("unknown price", lambda: edited(("prices", "SOL-USD"), "1"), "prices.SOL-USD"),
    ("rows", lambda: edited(("portfolio", "cholesky_bps"), [[900]]), "expected 2 rows"),
    (
        "not triangular",
        lambda: edited(("portfolio", "cholesky_bps"), [[900, 0], [640, 480]]),
        "cholesky_bps[0]",
    ),
    ("short row", lambda: edited(("portfolio", "cholesky_bps"), [[900], [640]]), "[1]"),
    ("row type", lambda: edited(("portfolio", "cholesky_bps"), [[900], 640]), "[1]"),
    ("zero diagonal", lambda: edited(("portfolio", "cholesky_bps"), [[0], [640, 480]]), "[0][0]"),
    (
        "negative diagonal",
        lambda: edited(("portfolio", "cholesky_bps"), [[900], [640, -480]]),
        "[1][1]: the diagonal must be positive",
    ),
    (
        "entry too large",
        lambda: edited(("portfolio", "cholesky_bps"), [[900], [-10001, 480]]),
        "[1][0]",
    ),
    ("entry type", lambda: edited(("portfolio", "cholesky_bps"), [[900], ["640", 480]]), "[1][0]"),
    ("lambda 0", lambda: edited(("portfolio", "lambda_mm_bps"), 0), "lambda_mm_bps"),
    ("lambda big", lambda: edited(("portfolio", "lambda_im_bps"), 65536), "lambda_im_bps"),
    (
        "lambda order",
        lambda: edited(("portfolio", "lambda_im_bps"), 9999),
        "lambda_im_bps: 9999 must be at least lambda_mm_bps",
    ),
    (
        "underlying",
        lambda: edited(("options", CALL, "underlying"), "SOL-USD"),
        f"options.{CALL}.underlying",
    ),
    ("kind", lambda: edited(("options", CALL, "kind"), "straddle"), f"options.{CALL}.kind"),
    ("call delta sign", lambda: edited(("options", CALL, "delta_bps"), -1), "delta_bps"),
    ("put delta sign", lambda: edited(("options", PUT, "delta_bps"), 1), "delta_bps"),
    ("delta range", lambda: edited(("options", CALL, "delta_bps"), 10001), "delta_bps"),
    ("expiry format", lambda: edited(("options", CALL, "expiry"), "2026-12-25"), "expiry"),
    ("expiry date", lambda: edited(("options", CALL, "expiry"), "2026-02-30T08:00:00Z"), "expiry"),
    ("strike zero", lambda: edited(("options", CALL, "strike"), "0"), "strike"),
    ("mark decimals", lambda: edited(("options", CALL, "mark"), "0.000000001"), "mark"),
    ("gamma sign", lambda: edited(("options", CALL, "gamma_charge"), "-1"), "gamma_charge"),
    ("vega missing", lambda: removed(("options", CALL, "vega_charge")), "'vega_charge'"),
    ("option name clash", lambda: edited(("options", "USDC"), {}), "options.USDC"),
    ("option name", lambda: edited(("options", "bad name"), {}), "not a valid name"),
]


@pytest.mark.parametrize(("label", "make", "expected"), REFUSALS, ids=[r[0] for r in REFUSALS])
def test_refusal_names_the_field(label: str, make: Callable[[], Any], expected: str) -> None:
    message = refusal(lambda: parse_risk_file(make()))
    assert message.startswith("risk file"), message
    assert expected in message, message


def test_file_refusals(tmp_path: Path) -> None:
    path = tmp_path / "risk.json"
    path.write_text('{"markets": {}, "markets": {}}')
    assert "duplicate key" in refusal(lambda: load_risk_file(path))
    path.write_text(EXAMPLE.read_text().replace('"lambda_mm_bps": 10000', '"lambda_mm_bps": 1e4'))
    assert "not allowed" in refusal(lambda: load_risk_file(path))
    assert "no such file" in refusal(lambda: load_risk_file(tmp_path / "missing.json"))


def test_does_not_fit_the_circuit() -> None:
    data = example()
    for k in range(5):
        data["options"][f"X-{k}"] = dict(data["options"][CALL])
    risk = parse_risk_file(data)  # 7 series: fits 8
    risk_commitment(risk)
    data["options"]["X-5"] = dict(data["options"][CALL])
    data["options"]["X-6"] = dict(data["options"][CALL])
    too_many = parse_risk_file(data)
    assert "options: lists 9" in refusal(lambda: risk_commitment(too_many))


def test_shape_limits() -> None:
    assert "too large" in refusal(lambda: RiskShape(markets=6, collateral=1))
    assert "multiples of 4" in refusal(lambda: RiskShape(options=6))


# ================================================================ the commitment


def test_commitment_layout() -> None:
    """Recompute the commitment from the layout of docs/portfolio.md."""
    risk = load_risk_file(EXAMPLE)
    w = 16
    fields = [50, 40, 0, 0, 1, 1, 0, 0, 0, 1000, 0, 1, 10000, 15000]
    params = sum(v << (w * i) for i, v in enumerate(fields))
    chol_fields = [10900, 10640, 10480, 10000, 10000, 10000, 10000, 10000, 10000, 10000]
    chol = sum(v << (w * i) for i, v in enumerate(chol_fields))
    call_a = 41_20000000 | 9_80000000 << 64 | 6_10000000 << 128
    call_b = 2710 | 0 << 16 | 0 << 32 | 1 << 48
    call_s = 2500 * 10**8 | 1798185600 << 64 | 1 << 104
    put_a = 1210_50000000 | 310 * 10**8 << 64 | 145 * 10**8 << 128
    put_b = 2850 | 1 << 16 | 1 << 32 | 1 << 48
    put_s = 55000 * 10**8 | 1798185600 << 64 | 2 << 104
    words = risk_words(risk)
    assert words.params == params and words.cholesky == chol
    assert words.option_values[:2] == (call_a, put_a)
    assert words.option_params[:2] == (call_b, put_b)
    assert words.option_keys[:2] == (call_s, put_s)
    leaves = [poseidon([call_a, call_b, call_s]), poseidon([put_a, put_b, put_s])]
    leaves += [poseidon([0, 0, 0])] * 6
    digest = poseidon([poseidon(leaves[:4]), poseidon(leaves[4:])])
    shape_word = 4 | 2 << 8 | 8 << 16
    expected = poseidon([RISK_DOMAIN_TAG, shape_word, params, chol, digest])
    assert risk_commitment(risk) == expected == risk_commitment(risk, DEFAULT_SHAPE)


CHANGES: list[tuple[tuple[str | int, ...], Any]] = [
    (("markets", "ETH-USD", "floor_bps"), 51),
    (("collateral", "WETH", "haircut_bps"), 999),
    (("collateral", "USDC", "risk_factor"), "BTC-USD"),
    (("portfolio", "cholesky_bps"), [[900], [-640, 480]]),
    (("portfolio", "lambda_mm_bps"), 10001),
    (("portfolio", "lambda_im_bps"), 15001),
    (("options", CALL, "mark"), "41.20000001"),
    (("options", CALL, "delta_bps"), 2711),
    (("options", CALL, "gamma_charge"), "9.9"),
    (("options", CALL, "vega_charge"), "6.2"),
    (("options", CALL, "strike"), "2600"),
    (("options", CALL, "expiry"), "2026-12-25T08:00:01Z"),
    (("options", PUT, "underlying"), "ETH-USD"),
]


@pytest.mark.parametrize(
    ("path", "value"), CHANGES, ids=[".".join(map(str, c[0])) for c in CHANGES]
)
def test_commitment_binds_every_parameter(path: tuple[str | int, ...], value: Any) -> None:
    base = risk_commitment(parse_risk_file(example()))
    assert risk_commitment(parse_risk_file(edited(path, value))) != base


def test_commitment_ignores_prices_and_rates() -> None:
    """Prices come from the oracle; mmr/imr are not part of the portfolio statement."""
    base = risk_commitment(parse_risk_file(example()))
    assert risk_commitment(parse_risk_file(edited(("prices", "ETH-USD"), "2000"))) == base
    assert risk_commitment(parse_risk_file(edited(("markets", "ETH-USD", "imr_bps"), 900))) == base


def test_commitment_depends_on_the_shape() -> None:
    risk = parse_risk_file(example())
    assert risk_commitment(risk, RiskShape(markets=3)) != risk_commitment(risk)


def test_risk_built_in_code_is_range_checked() -> None:
    risk = load_risk_file(EXAMPLE)
    bad_l = replace(risk, cholesky_bps=((900,), (-10001, 480)))
    assert "cholesky_bps[1][0]" in refusal(lambda: risk_commitment(bad_l))
    bad_lambda = replace(risk, lambda_im_bps=9999)
    assert "lambda_im_bps" in refusal(lambda: risk_commitment(bad_lambda))
    series = replace(risk.options[CALL], delta_bps=10001)
    bad_delta = replace(risk, options={CALL: series})
    assert f"options.{CALL}.delta_bps" in refusal(lambda: risk_commitment(bad_delta))
