"""The engine's vaults: one MarginPool (ERC-4626, delayed exits) per collateral asset.

Each vault is the counterparty and insurance fund for its asset (docs/pool.md): the
engine pays trader losses, close fees and liquidation proceeds into it and has it pay
trader profits (an IOU when it is short). Liquidity providers enter at once
(:meth:`Pools.deposit`) and leave in two steps: :meth:`Pools.request_redeem` escrows
shares, and :meth:`Pools.redeem` executes them between ``maturesAt`` and ``expiresAt``
at the share price of that moment. Traders holding an IOU draw it with
:meth:`Pools.claim`. Amounts are token base units; shares have the asset's decimals + 6.
"""

from __future__ import annotations

from dataclasses import dataclass

from eth_utils.address import to_checksum_address

from chain.artifacts import load_artifact
from chain.deploy import Deployment
from chain.errors import ChainError
from chain.rpc import Chain, Contract, TxResult
from chain.signers import Signer
from zkmargin.errors import InputError

SHARE_DECIMALS_OFFSET = 6  # MarginPool.DECIMALS_OFFSET


@dataclass(frozen=True)
class PoolState:
    """A vault's totals (IMarginPool.Accounts and the ERC-4626 views), token base units."""

    asset: str
    address: str
    total_assets: int  # held - owed: what the LPs' shares are worth together
    total_supply: int  # shares
    held: int
    owed: int  # IOUs to traders
    deposited: int
    withdrawn: int
    funded: int
    losses_received: int  # trader losses and close fees
    penalties_received: int
    profits_paid: int
    iou_issued: int
    iou_claimed: int
    bad_debt: int
    withdraw_delay: int  # seconds
    execution_window: int  # seconds
    pending_shares: int


@dataclass(frozen=True)
class LpPosition:
    """One address in one vault."""

    shares: int  # free shares
    value: int  # what the free shares are worth now, rounded down
    pending_shares: int  # escrowed by a redemption request
    matures_at: int  # 0 if no request
    expires_at: int
    redeemable: int  # shares redeemable now (0 outside the window)
    iou: int  # profit the vault owes this address as a trader


class Pools:
    """The deployment's vaults, by asset name."""

    def __init__(self, chain: Chain, deployment: Deployment) -> None:
        self.chain = chain
        self.deployment = deployment
        abi = load_artifact("MarginPool").abi
        self.contracts = {
            a.name: Contract(chain, a.pool, abi, f"{a.name} pool") for a in deployment.assets
        }
        self._token_abi = load_artifact("MockERC20").abi

    def _pool(self, asset: str) -> Contract:
        self.deployment.asset(asset)  # names the listed assets if unknown
        return self.contracts[asset]

    # ------------------------------------------------------------ reads

    def total_assets(self, asset: str) -> int:
        return int(self._pool(asset).call("totalAssets"))

    def state(self, asset: str) -> PoolState:
        pool = self._pool(asset)
        acc = [int(x) for x in pool.call("accounts")]
        return PoolState(
            asset=asset,
            address=pool.address,
            total_assets=int(pool.call("totalAssets")),
            total_supply=int(pool.call("totalSupply")),
            held=acc[0],
            owed=acc[1],
            deposited=acc[2],
            withdrawn=acc[3],
            funded=acc[4],
            losses_received=acc[5],
            penalties_received=acc[6],
            profits_paid=acc[7],
            iou_issued=acc[8],
            iou_claimed=acc[9],
            bad_debt=acc[10],
            withdraw_delay=int(pool.call("withdrawDelay")),
            execution_window=int(pool.call("executionWindow")),
            pending_shares=int(pool.call("totalPendingShares")),
        )

    def position(self, asset: str, who: str) -> LpPosition:
        pool = self._pool(asset)
        who = _checksum(who)
        shares = int(pool.call("balanceOf", who))
        pending, matures, expires = pool.call("pendingRedeem", who)
        return LpPosition(
            shares=shares,
            value=int(pool.call("convertToAssets", shares)),
            pending_shares=int(pending),
            matures_at=int(matures),
            expires_at=int(expires),
            redeemable=int(pool.call("maxRedeem", who)),
            iou=int(pool.call("iouOf", who)),
        )

    # ------------------------------------------------------------ LPs and traders

    def deposit(self, signer: Signer, asset: str, amount: int) -> tuple[TxResult, TxResult]:
        """approve + deposit ``amount`` base units for shares (to the signer)."""
        if amount <= 0:
            raise InputError("amount: must be greater than zero")
        pool = self._pool(asset)
        token = Contract(self.chain, self.deployment.asset(asset).token, self._token_abi, asset)
        have = int(token.call("balanceOf", signer.address))
        if have < amount:
            raise ChainError(
                f"cannot deposit {amount} base units of {asset}: the wallet "
                f"{signer.address} holds {have}"
            )
        approve = token.transact(signer, "approve", pool.address, amount)
        return approve, pool.transact(signer, "deposit", amount, signer.address)

    def request_redeem(self, signer: Signer, asset: str, shares: int | None = None) -> TxResult:
        """Escrow ``shares`` (all free shares if None); they mature after the delay."""
        pool = self._pool(asset)
        if shares is None:
            shares = int(pool.call("balanceOf", signer.address))
        if shares <= 0:
            raise InputError(f"{signer.address} holds no free {asset} pool shares")
        return pool.transact(signer, "requestRedeem", shares)

    def redeem(self, signer: Signer, asset: str, shares: int | None = None) -> TxResult:
        """Execute ``shares`` of the signer's matured request (all of it if None)."""
        pool = self._pool(asset)
        if shares is None:
            shares = int(pool.call("maxRedeem", signer.address))
            if shares == 0:
                pending, matures, expires = pool.call("pendingRedeem", signer.address)
                if int(pending) == 0:
                    raise InputError(f"{signer.address} has no {asset} redemption request")
                raise InputError(
                    f"the {asset} request of {signer.address} executes from {int(matures)} "
                    f"to {int(expires)} (chain time {self.chain.timestamp()})"
                )
        return pool.transact(signer, "redeem", shares, signer.address, signer.address)

    def claim(self, signer: Signer, asset: str) -> TxResult:
        """Draw the signer's IOU (as far as the vault holds tokens)."""
        return self._pool(asset).transact(signer, "claim", signer.address)


def _checksum(address: str) -> str:
    return str(to_checksum_address(address))
