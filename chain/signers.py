"""Who signs transactions: a private key from the environment or a key file, or on a
local anvil chain one of its well-known dev accounts.

Keys never come from the command line (visible in ``ps`` and shell history) and are
never printed: :class:`Signer`'s ``repr`` shows the address and where the key came from.

* ``ZKMARGIN_PRIVATE_KEY``: a hex private key in the environment.
* ``--key-file PATH``: a file holding a hex private key, or an encrypted JSON keystore
  (password from ``ZKMARGIN_KEYSTORE_PASSWORD``). The file must
  not be readable by group or others (like ssh's keys).
* Dev accounts (anvil only): the 10 accounts of anvil's default, public mnemonic
  ``test test … junk``. Index 0 deploys and administers; the demo's traders are 1 and 2
  and its keeper is 3 (see ``cli/demo.py``).
"""

from __future__ import annotations

import json
import os
import re
import stat
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from eth_account import Account as EthAccount
from eth_account.signers.local import LocalAccount
from eth_utils.address import to_checksum_address

from chain.anvil import DEV_ACCOUNT_COUNT, DEV_MNEMONIC
from chain.errors import ChainError

KEY_ENV = "ZKMARGIN_PRIVATE_KEY"
KEYSTORE_PASSWORD_ENV = "ZKMARGIN_KEYSTORE_PASSWORD"  # noqa: S105 -- a variable name
_HEX_KEY = re.compile(r"(0x)?[0-9a-fA-F]{64}")


@dataclass(frozen=True)
class Signer:
    """An address and the means to sign for it. The key stays inside."""

    address: str  # EIP-55 checksum
    source: str  # where the key came from, for messages ("anvil dev account 1", ...)
    _account: LocalAccount = field(repr=False, compare=False)

    def __repr__(self) -> str:
        return f"Signer({self.address}, {self.source})"

    def sign_transaction(self, tx: Mapping[str, Any]) -> bytes:
        signed = self._account.sign_transaction(dict(tx))
        return bytes(signed.raw_transaction)


def _from_key(key: str, source: str) -> Signer:
    try:
        account: LocalAccount = EthAccount.from_key(key)
    except (ValueError, TypeError):
        raise ChainError(f"{source}: not a valid secp256k1 private key") from None
    return Signer(str(account.address), source, account)


@cache
def dev_signers() -> tuple[Signer, ...]:
    """anvil's default accounts 0..9 (public keys of a public mnemonic: local chains only)."""
    EthAccount.enable_unaudited_hdwallet_features()
    out = []
    for i in range(DEV_ACCOUNT_COUNT):
        account: LocalAccount = EthAccount.from_mnemonic(
            DEV_MNEMONIC, account_path=f"m/44'/60'/0'/0/{i}"
        )
        out.append(Signer(str(account.address), f"anvil dev account {i}", account))
    return tuple(out)


def dev_signer(index_or_address: int | str) -> Signer:
    signers = dev_signers()
    if isinstance(index_or_address, int):
        if not 0 <= index_or_address < len(signers):
            raise ChainError(
                f"dev account index {index_or_address}: expected 0..{len(signers) - 1}"
            )
        return signers[index_or_address]
    want = str(to_checksum_address(index_or_address))
    for signer in signers:
        if signer.address == want:
            return signer
    raise ChainError(
        f"{want} is not one of anvil's dev accounts (see `zkmargin chain accounts`); "
        f"create the account file with `zkmargin account new --address <a dev address>`, "
        f"or give its key in {KEY_ENV} or --key-file"
    )


def signer_from_env(env: Mapping[str, str] | None = None) -> Signer | None:
    env = os.environ if env is None else env
    key = env.get(KEY_ENV)
    if not key:
        return None
    if not _HEX_KEY.fullmatch(key.strip()):
        raise ChainError(f"{KEY_ENV}: expected a 32-byte hex private key")
    return _from_key(key.strip(), KEY_ENV)


def signer_from_keyfile(path: Path, password: str | None = None) -> Signer:
    """A hex key or a JSON keystore; refuses files readable by group or others."""
    try:
        mode = path.stat().st_mode
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ChainError(f"key file {path}: no such file") from None
    except (OSError, UnicodeDecodeError):
        raise ChainError(f"key file {path}: cannot read it") from None
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise ChainError(
            f"key file {path}: readable by others (mode {stat.S_IMODE(mode):04o}); "
            f"run `chmod 600 {path}`"
        )
    source = f"key file {path}"
    if _HEX_KEY.fullmatch(text.strip()):
        return _from_key(text.strip(), source)
    try:
        keystore = json.loads(text)
    except ValueError:
        raise ChainError(f"{source}: neither a hex private key nor a JSON keystore") from None
    if password is None:
        password = os.environ.get(KEYSTORE_PASSWORD_ENV)
    if password is None:
        raise ChainError(f"{source}: a keystore needs its password in {KEYSTORE_PASSWORD_ENV}")
    try:
        key = EthAccount.decrypt(keystore, password)
    except (ValueError, TypeError, KeyError):
        raise ChainError(f"{source}: wrong password or malformed keystore") from None
    return _from_key("0x" + bytes(key).hex(), source)


def resolve_signer(
    *,
    address: str | None = None,
    key_file: Path | None = None,
    password: str | None = None,
    dev_chain: bool = False,
    dev_default: int | str = 0,
) -> Signer:
    """Pick the signer for ``address`` (or the default signer when it is None).

    An explicit key (``key_file``, else ``ZKMARGIN_PRIVATE_KEY``) wins and must match
    ``address``. Without one, a dev chain signs with its dev account ``address`` (or
    ``dev_default``); any other chain refuses.
    """
    explicit = signer_from_keyfile(key_file, password) if key_file else signer_from_env()
    want = None if address is None else str(to_checksum_address(address))
    if explicit is not None:
        if want is not None and explicit.address != want:
            raise ChainError(
                f"the key from {explicit.source} signs for {explicit.address}, "
                f"but the account is {want}"
            )
        return explicit
    if not dev_chain:
        raise ChainError(
            f"no signing key: put it in {KEY_ENV} or a --key-file (never on the command line)"
        )
    return dev_signer(want if want is not None else dev_default)
