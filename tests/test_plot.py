"""``zkmargin plot``: writes a valid PNG of the expected size, atomically; bad input is one
line and no file."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import pytest
from tooling.cli_run import run_cli

from zkmargin.plots import image_size

ROOT = Path(__file__).resolve().parents[1]
MARKETS = ROOT / "examples" / "markets.json"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def run_main(*args: object) -> tuple[int, str, str]:
    result = run_cli(*args)
    return result.code, result.out, result.err


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == PNG_MAGIC
    length, kind = struct.unpack(">I4s", data[8:16])
    assert kind == b"IHDR" and length == 13
    width, height = struct.unpack(">II", data[16:24])
    assert data[-8:-4] == b"IEND"
    return width, height


@pytest.fixture
def bob_file(tmp_path: Path) -> Path:
    path = tmp_path / "bob.account.json"
    path.write_text(
        json.dumps(
            {
                "account": "0x70997970C51812dc3A010C7d01b50e0d17dc79C8",
                "salt": "5",
                "collateral": {"USDC": "1200", "WETH": "0.2"},
                "positions": [
                    {"market": "ETH-USD", "side": "long", "size": "5", "entry_price": "1900"},
                    {"market": "BTC-USD", "side": "short", "size": "0.1", "entry_price": "60000"},
                ],
            }
        )
    )
    return path


def test_plot_writes_a_png_of_the_expected_size(bob_file: Path, tmp_path: Path) -> None:
    out = tmp_path / "bob.png"
    code, stdout, err = run_main("plot", bob_file, "-m", MARKETS, "-o", out, "--samples", 300)
    assert code == 0, err
    assert f"wrote {out}" in stdout
    data = out.read_bytes()
    assert png_size(data) == image_size(2) == (1200, 800)
    from PIL import Image

    with Image.open(out) as image:
        image.verify()
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (("--history", "/nonexistent/h.csv"), "no such file"),
        (("--series", "ETH-USD=GOLD"), "no series 'GOLD'"),
        (("--history", "SHORT"), "needs at least 31 rows"),
        ((), "must end in .png"),
    ],
)
def test_bad_input_is_one_line_and_no_file(
    bob_file: Path, tmp_path: Path, args: tuple[str, ...], fragment: str
) -> None:
    inputs = tmp_path / "inputs"
    inputs.mkdir()
    short = inputs / "short.csv"
    short.write_text("date,ETH-USD\n2020-01-01,1\n2020-01-02,2\n")
    args = tuple(str(short) if a == "SHORT" else a for a in args)
    out = tmp_path / ("plot.txt" if not args else "plot.png")
    code, _, err = run_main("plot", bob_file, "-m", MARKETS, "-o", out, "--samples", 200, *args)
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 2 and len(lines) == 1 and fragment in lines[0], (code, err)
    assert sorted(tmp_path.iterdir()) == [bob_file, inputs]


def test_bad_account_leaves_an_existing_file_alone(tmp_path: Path) -> None:
    out = tmp_path / "keep.png"
    out.write_bytes(b"old")
    bad = tmp_path / "bad.account.json"
    bad.write_text("{}")
    code, _, err = run_main("plot", bad, "-m", MARKETS, "-o", out)
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert out.read_bytes() == b"old"
