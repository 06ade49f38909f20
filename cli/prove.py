"""``zkmargin prove``: a Groth16 proof that an account meets its margin.

When ``zkmargin serve`` runs for the same build (and backend), the proof (rate-based or
portfolio) is made by that warm process (see :mod:`cli.serve`); otherwise, or with
``--local``, in this one.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path

import click

from cli.common import (
    account_argument,
    binding_options,
    circuit_choice,
    make_binding,
    market_option,
    mode_option,
    now_option,
    prove_circuit_option,
)
from cli.portfolio import checked_portfolio_inputs, prove_portfolio_here
from cli.serve import served_proof
from cli.stressopts import attach_stress, prepare_stress, stress_option
from prover.backends import BACKENDS, ENV_VAR
from prover.prove import Prover
from zkmargin.accounts import parse_account, parse_market_data
from zkmargin.encoding import Binding
from zkmargin.errors import InputError, InsufficientMargin, ZkMarginError
from zkmargin.jsonio import read_json_file
from zkmargin.model import Mode
from zkmargin.paths import build_dir
from zkmargin.portfolio_encoding import PORTFOLIO_CIRCUIT
from zkmargin.proofs import ProofBundle


@click.command()
@account_argument
@market_option
@click.option(
    "--output",
    "-o",
    required=True,
    type=click.Path(path_type=Path, dir_okay=False),
    help="Where to write the proof file (public data only).",
)
@mode_option
@prove_circuit_option
@now_option
@click.option(
    "--opening",
    is_flag=True,
    help="Opening proof: every position's entry price must equal the oracle price.",
)
@click.option(
    "--backend",
    type=click.Choice(BACKENDS),
    default=None,
    help=f"Proving backend (default: ${ENV_VAR}, else the fastest installed: "
    "arkworks with zkmargin[fast], else snarkjs-worker).",
)
@click.option(
    "--local",
    is_flag=True,
    help="Prove in this process even if `zkmargin serve` is running.",
)
@stress_option
@binding_options
def prove(
    account_file: Path,
    market_file: Path,
    output: Path,
    mode: str,
    circuit: str,
    opening: bool,
    chain_id: int,
    engine: str,
    nonce: int,
    backend: str | None,
    local: bool,
    stress_spec: str | None,
    now: str | None,
) -> None:
    """Prove that ACCOUNT meets the margin requirement at the market file's prices.

    Writes nothing and exits 1 if the account does not meet it. With --stress, the
    prices are the market file's moved by the shocks (a shareable stress proof). With
    --circuit portfolio, -m is a risk file and ACCOUNT may hold options (docs/portfolio.md).
    """
    check_output_path(output, account_file, market_file)
    if circuit == "portfolio" and stress_spec is not None:
        raise InputError(
            "--stress: stress proofs use the rate-based circuits, not --circuit portfolio"
        )
    if circuit == "portfolio":
        prove_portfolio(
            account_file,
            market_file,
            output,
            mode=mode,
            opening=opening,
            binding=make_binding(chain_id, engine, nonce),
            backend=backend,
            local=local,
            now_text=now,
        )
        return
    market_raw = read_json_file(market_file, "market file")
    data = parse_market_data(market_raw, f"market file {market_file}")
    account_raw = read_json_file(account_file, "account file")
    account = parse_account(account_raw, data, f"account file {account_file}")
    stressed = (
        None
        if stress_spec is None
        else prepare_stress(stress_spec, mode, opening, market_raw, data)
    )
    if stressed is not None:
        market_raw, data = stressed.market_json, stressed.data
    binding = make_binding(chain_id, engine, nonce)
    started = time.perf_counter()
    request = {
        "account": account_raw,
        "market": market_raw,
        "mode": mode,
        "circuit": circuit_choice(circuit),
        "opening": opening,
    }

    def here() -> ProofBundle:
        prover = Prover(backend=backend) if backend else Prover()
        return prover.prove(
            account,
            data,
            mode=Mode(mode),
            binding=binding,
            circuit=circuit_choice(circuit),
            opening=opening,
        )

    bundle, how = served_or_here(request, binding, backend, local, here)
    if stressed is not None:
        bundle = attach_stress(bundle, stressed, account, binding)
    bundle.save(output)
    click.echo(
        f"wrote {output}: {bundle.circuit} {mode} proof, verified {how} "
        f"({time.perf_counter() - started:.2f} s)"
    )


def prove_portfolio(
    account_file: Path,
    risk_file: Path,
    output: Path,
    *,
    mode: str,
    opening: bool,
    binding: Binding,
    backend: str | None,
    local: bool,
    now_text: str | None,
) -> None:
    """``--circuit portfolio``: the inputs checked here (one line naming the file), then
    proved by a running ``zkmargin serve`` for this build and backend, else in-process."""
    started = time.perf_counter()
    inputs = checked_portfolio_inputs(
        account_file, risk_file, mode=mode, now_text=now_text, opening=opening
    )
    # the files' raw JSON is the request's; read again only when a server may answer
    request = {
        "circuit": PORTFOLIO_CIRCUIT,
        "account": None if local else read_json_file(account_file, "account file"),
        "risk": None if local else read_json_file(risk_file, "risk file"),
        "now": inputs.now,
        "mode": inputs.mode.value,
        "opening": inputs.opening,
    }
    bundle, how = served_or_here(
        request,
        binding,
        backend,
        local,
        lambda: prove_portfolio_here(inputs, binding=binding, backend=backend),
    )
    bundle.save(output)
    label = "initial (opening)" if opening else mode
    click.echo(
        f"wrote {output}: portfolio {label} proof, verified {how} "
        f"({time.perf_counter() - started:.2f} s)"
    )


def served_or_here(
    request: dict[str, object],
    binding: Binding,
    backend: str | None,
    local: bool,
    here: Callable[[], ProofBundle],
) -> tuple[ProofBundle, str]:
    """The proof of ``request`` (plus its backend and binding) from a running ``zkmargin
    serve`` for this build, unless ``local``; else ``here()``. Returns it and how it was
    made, for the command's last line."""
    reply = None
    if not local:
        full = {
            "backend": backend or os.environ.get(ENV_VAR) or None,
            **request,
            "binding": binding_json(binding),
        }
        reply = served_proof(full, build_dir())
    if reply is not None:
        return bundle_from_reply(reply), f"by zkmargin serve, {reply.get('backend')}"
    return here(), "locally"


def binding_json(binding: Binding) -> dict[str, int]:
    return {"chain_id": binding.chain_id, "engine": binding.engine, "nonce": binding.nonce}


def bundle_from_reply(reply: dict[str, object]) -> ProofBundle:
    """The served proof, or the server's refusal as the error the local prover raises."""
    if reply.get("ok") is True:
        return ProofBundle.from_json(reply.get("bundle"), "proof from zkmargin serve")
    if reply.get("kind") == "insufficient":
        raise InsufficientMargin(str(reply.get("equity")), str(reply.get("requirement")))
    raise ZkMarginError(str(reply.get("message", "zkmargin serve failed")))


def check_output_path(output: Path, *inputs: Path) -> None:
    """Refuse before proving: a missing directory, or an output that is one of the inputs
    (replacing the account file would destroy the only copy of its salt)."""
    if not output.parent.resolve().is_dir():
        raise InputError(f"--output {output}: cannot write: no directory {output.parent}")
    for path in inputs:
        if output.resolve() == path.resolve() or (
            output.exists() and path.exists() and output.samefile(path)
        ):
            raise InputError(f"--output {output}: is an input file; choose another name")
