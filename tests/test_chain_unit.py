"""chain without a chain: calldata, revert decoding, input checks, signers, files."""

from __future__ import annotations

import json
import os
import stat
from dataclasses import replace
from pathlib import Path

import pytest
from eth_abi.abi import encode as abi_encode
from eth_utils.address import to_checksum_address
from eth_utils.crypto import keccak

from chain.artifacts import load_abis, load_artifact
from chain.calldata import flat_words
from chain.client import check_public_inputs, make_decoder, proof_calldata
from chain.deploy import DEFAULT_SPEC, Deployment, FeedInfo, feed_answer, parse_price
from chain.errors import ChainError, PublicInputsMismatch, RevertDecoder, RevertError
from chain.rpc import Chain, Contract
from chain.signers import (
    KEY_ENV,
    Signer,
    dev_signer,
    dev_signers,
    resolve_signer,
    signer_from_keyfile,
)
from zkmargin.encoding import Statement
from zkmargin.errors import InputError, ZkMarginError

# anvil's dev account 5: a public, well-known key (never a real one).
DEV5_KEY = "0x8b3a350cf5c34c9194ca85829a2df0ec3153be0318b5e2d3348e872092edffba"
DEV5 = "0x9965507D1a55bcC2695C58ba16FB37d819B0A4dc"


def selector(signature: str) -> bytes:
    return keccak(text=signature)[:4]


# ---------------------------------------------------------------- proof calldata


def test_proof_calldata_swaps_each_g2_coordinate() -> None:
    proof = {
        "pi_a": ["1", "2", "1"],
        "pi_b": [["10", "11"], ["20", "21"], ["1", "0"]],
        "pi_c": ["3", "4", "1"],
        "protocol": "groth16",
    }
    a, b, c = proof_calldata(proof)
    assert a == (1, 2)
    assert b == ((11, 10), (21, 20))
    assert c == (3, 4)


def test_proof_calldata_refuses_garbage() -> None:
    with pytest.raises(InputError):
        proof_calldata({"pi_a": ["1"]})


# ---------------------------------------------------------------- revert decoding


def test_decoder_knows_every_engine_and_oracle_error() -> None:
    decoder = make_decoder()
    for name in ("MarginEngine", "OracleAdapter", "MockERC20"):
        for entry in load_artifact(name).abi:
            if entry["type"] != "error":
                continue
            types = [i["type"] for i in entry["inputs"]]
            data = selector(f"{entry['name']}({','.join(types)})")
            data += abi_encode(types, [_sample(t) for t in types])
            decoded = decoder.decode(data)
            assert decoded is not None and decoded.name == entry["name"]


def _sample(typ: str) -> object:
    if typ == "address":
        return "0x" + "11" * 20
    if typ == "bool":
        return True
    if typ == "string":
        return "x"
    return 7


def test_invalid_proof_reads_as_one_line() -> None:
    err = RevertError(
        "MarginEngine.proveMargin",
        make_decoder().decode(selector("MarginEngine__InvalidProof()")),
        b"",
    )
    assert str(err) == (
        "MarginEngine.proveMargin reverted: MarginEngine__InvalidProof(): "
        "the verifier rejected the proof for the engine's public inputs"
    )
    assert isinstance(err, ZkMarginError) and err.name == "MarginEngine__InvalidProof"


def test_stale_price_names_arguments_and_labels_the_feed() -> None:
    feed = "0x5FbDB2315678afecb367f032d93F642f64180aa3"
    decoder = RevertDecoder(load_abis(), {feed: "ETH/USD feed"})
    data = selector("OracleAdapter__StalePrice(address,uint256,uint256)") + abi_encode(
        ["address", "uint256", "uint256"], [feed, 1_700_000_000, 3600]
    )
    decoded = decoder.decode(data)
    assert str(decoded) == (
        f"OracleAdapter__StalePrice(feed={feed} [ETH/USD feed], updatedAt=1700000000, "
        "heartbeat=3600)"
    )


def test_standard_error_panic_and_unknown() -> None:
    decoder = make_decoder()
    text = decoder.decode(selector("Error(string)") + abi_encode(["string"], ["boom"]))
    assert str(text) == "Error('boom')"
    panic = decoder.decode(selector("Panic(uint256)") + abi_encode(["uint256"], [0x11]))
    assert str(panic) == "Panic(0x11 arithmetic overflow or underflow)"
    assert decoder.decode(b"\xde\xad\xbe\xef") is None
    assert decoder.decode(b"") is None
    unknown = RevertError("x", None, b"\xde\xad\xbe\xef")
    assert "unknown revert data 0xdeadbeef" in str(unknown)
    # truncated arguments do not crash the decoder
    assert decoder.decode(selector("OracleAdapter__StalePrice(address,uint256,uint256)")) is None


# ---------------------------------------------------------------- public inputs


def test_check_public_inputs_names_the_field() -> None:
    engine = [11, 22, 33, 44, 55, 66]
    check_public_inputs(list(engine), engine, "isolated")
    with pytest.raises(PublicInputsMismatch, match=r"public input 0, commitment.*account file"):
        check_public_inputs([12, 22, 33, 44, 55, 66], engine, "isolated")
    with pytest.raises(PublicInputsMismatch, match=r"public input 4, accountNonce"):
        check_public_inputs([11, 22, 33, 44, 56, 66], engine, "isolated")
    with pytest.raises(PublicInputsMismatch, match=r"engineChain \(engine, chain id\)"):
        check_public_inputs([11, 22, 33, 44, 55, 67], engine, "isolated")
    cross = [1, 2, 3, 4, 5, 6, 7]
    with pytest.raises(PublicInputsMismatch, match=r"priceWords\[1\]"):
        check_public_inputs([1, 2, 9, 4, 5, 6, 7], cross, "cross")
    with pytest.raises(PublicInputsMismatch, match="7 public inputs encoded"):
        check_public_inputs(cross, engine, "isolated")


# ---------------------------------------------------------------- signers


def test_dev_signers_are_anvils_defaults_and_hide_keys() -> None:
    signers = dev_signers()
    assert len(signers) == 10
    assert signers[0].address == "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"
    assert dev_signer(5).address == DEV5
    assert dev_signer(DEV5.lower()).address == DEV5
    assert DEV5_KEY[2:] not in repr(dev_signer(5)).lower()
    assert repr(dev_signer(5)) == f"Signer({DEV5}, anvil dev account 5)"
    with pytest.raises(ChainError, match="not one of anvil's dev accounts"):
        dev_signer("0x" + "12" * 20)


def test_resolve_signer(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(KEY_ENV, raising=False)
    assert resolve_signer(address=DEV5, dev_chain=True).source == "anvil dev account 5"
    assert resolve_signer(dev_chain=True, dev_default=3) == dev_signer(3)
    with pytest.raises(ChainError, match="no signing key"):
        resolve_signer(address=DEV5, dev_chain=False)
    monkeypatch.setenv(KEY_ENV, DEV5_KEY)
    signer = resolve_signer(address=DEV5, dev_chain=False)
    assert signer.address == DEV5 and signer.source == KEY_ENV
    with pytest.raises(ChainError, match=f"signs for {DEV5}, but the account is") as info:
        resolve_signer(address=dev_signer(1).address, dev_chain=True)
    assert DEV5_KEY[2:] not in str(info.value)
    monkeypatch.setenv(KEY_ENV, "0x1234")
    with pytest.raises(ChainError, match="32-byte hex") as info:
        resolve_signer(dev_chain=True)
    assert "1234" not in str(info.value)


def test_key_file_must_be_private(tmp_path: Path) -> None:
    path = tmp_path / "key"
    path.write_text(DEV5_KEY + "\n")
    path.chmod(0o644)
    with pytest.raises(ChainError, match="readable by others"):
        signer_from_keyfile(path)
    path.chmod(0o600)
    assert signer_from_keyfile(path).address == DEV5
    garbage = tmp_path / "garbage"
    garbage.write_text("not a key " + DEV5_KEY[:20])
    garbage.chmod(0o600)
    with pytest.raises(ChainError) as info:
        signer_from_keyfile(garbage)
    assert DEV5_KEY[:20] not in str(info.value)
    with pytest.raises(ChainError, match="no such file"):
        signer_from_keyfile(tmp_path / "missing")


def test_keystore_key_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from eth_account import Account as EthAccount

    keystore = EthAccount.encrypt(DEV5_KEY, "pw", kdf="pbkdf2", iterations=2)
    path = tmp_path / "keystore.json"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump(keystore, handle)
    monkeypatch.delenv("ZKMARGIN_KEYSTORE_PASSWORD", raising=False)
    with pytest.raises(ChainError, match="ZKMARGIN_KEYSTORE_PASSWORD"):
        signer_from_keyfile(path)
    monkeypatch.setenv("ZKMARGIN_KEYSTORE_PASSWORD", "wrong")
    with pytest.raises(ChainError, match="wrong password"):
        signer_from_keyfile(path)
    monkeypatch.setenv("ZKMARGIN_KEYSTORE_PASSWORD", "pw")
    assert signer_from_keyfile(path).address == DEV5
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_signer_type_is_frozen() -> None:
    signer: Signer = dev_signer(1)
    with pytest.raises(AttributeError):
        signer.address = DEV5  # type: ignore[misc]


# ---------------------------------------------------------------- deployment file and prices


def test_feed_answer_scales_exactly() -> None:
    price = parse_price("1600.5")
    assert price == 160_050_000_000
    assert feed_answer(price, 8) == price
    assert feed_answer(price, 18) == 1600_5 * 10**17
    assert feed_answer(parse_price("1600"), 6) == 1600 * 10**6
    with pytest.raises(InputError, match="more than the feed's 6 decimals"):
        feed_answer(parse_price("1600.0000001"), 6)
    with pytest.raises(InputError):
        parse_price("-1")


def _cs(byte: str) -> str:
    return str(to_checksum_address("0x" + byte * 20))


def test_deployment_round_trip_and_lookups(tmp_path: Path) -> None:
    dep = Deployment(
        chain_id=31337,
        rpc_url="http://127.0.0.1:1",
        contracts={"MarginEngine": _cs("aa"), "OracleAdapter": _cs("bb")},
        feeds=(FeedInfo("ETH/USD", _cs("cc"), 8, 3600),),
        markets=(),
        assets=(),
        params={"proof_lifetime": 3600},
        owner=_cs("dd"),
        block=1,
    )
    path = tmp_path / "d.json"
    dep.save(path)
    again = Deployment.load(path)
    assert again == dep
    assert again.feed("ETH/USD").heartbeat == 3600
    with pytest.raises(InputError, match="unknown market"):
        again.market("ETH-USD")
    path.write_text('{"zkmargin_deployment": 1}')
    with pytest.raises(InputError, match="malformed"):
        Deployment.load(path)
    with pytest.raises(InputError, match="run `zkmargin deploy` first"):
        Deployment.load(tmp_path / "none.json")


def test_default_spec_is_consistent() -> None:
    feeds = {f.name for f in DEFAULT_SPEC.feeds}
    assert all(m.feed in feeds for m in DEFAULT_SPEC.markets)
    assert all(a.feed in feeds for a in DEFAULT_SPEC.assets)
    assert len(DEFAULT_SPEC.markets) <= 4 and len(DEFAULT_SPEC.assets) <= 2
    assert {a.decimals for a in DEFAULT_SPEC.assets} == {6, 18}


def test_a_mismatch_is_told_in_fields_not_packed_words() -> None:
    """The packed words (account | nonce << 160, ...) are unpacked for the message."""
    account, engine_addr = int(DEV5, 16), 0xA51C1FC2F0D1A1B8494ED1FE312D7C3A78ED91C0
    statement = Statement(
        circuit="isolated",
        commitment=123,
        prices=(2000 * 10**8, 10**8),
        balances=(1000 * 10**18,),
        rates=(500,),
        haircuts=(0,),
        opening=False,
        account=account,
        nonce=5,
        engine=engine_addr,
        chain_id=31337,
    )
    engine = statement.public_signals()

    def message(**change: object) -> str:
        ours = replace(statement, **change).public_signals()  # type: ignore[arg-type]
        with pytest.raises(PublicInputsMismatch) as info:
            check_public_inputs(ours, engine, "isolated", slot_names=("ETH-USD", "USDC"))
        return str(info.value)

    text = message(nonce=4)
    assert text.startswith("refusing to send: public input 4, accountNonce (account, nonce), ")
    assert "nonce 4 in the proof, 5 at the engine" in text and str(engine[4]) not in text
    assert "ETH-USD price 2001 in the proof, 2000 at the engine" in message(
        prices=(2001 * 10**8, 10**8)
    )
    assert "USDC balance 999.5 tokens in the proof, 1000 tokens at the engine" in message(
        balances=(9995 * 10**17,)
    )
    assert "ETH-USD margin rate 1000 bps in the proof, 500 bps at the engine" in message(
        rates=(1000,)
    )
    assert "chain id 1 in the proof, 31337 at the engine" in message(chain_id=1)
    assert f"account 0x{'00' * 19}01 in the proof, {DEV5} at the engine" in message(account=1)


# ---------------------------------------------------------------- web3 contract objects


def test_contract_encodes_through_web3_and_refuses_bad_arguments_in_one_line() -> None:
    """Encoding is web3's (offline: no node is contacted); a wrong call names the ABI."""
    chain = Chain("http://127.0.0.1:9")  # nothing listens there
    engine = Contract(chain, "0x" + "11" * 20, load_artifact("MarginEngine").abi, "MarginEngine")
    data = engine.encode("deposit", 1, 5)
    assert data == selector("deposit(uint8,uint256)") + abi_encode(["uint8", "uint256"], [1, 5])
    with pytest.raises(ChainError) as info:
        engine.encode("deposit", "USDC", 5)
    assert str(info.value) == (
        "MarginEngine.deposit: the arguments do not match deposit(uint8,uint256)"
    )
    with pytest.raises(ChainError, match="MarginEngine has no function depositAll"):
        engine.encode("depositAll")
    with pytest.raises(ChainError, match=r"cannot reach the RPC endpoint http://127\.0\.0\.1:9"):
        engine.call("marketCount")


def test_proof_calldata_flattens_in_the_verifiers_order() -> None:
    calldata = ((1, 2), ((11, 10), (21, 20)), (3, 4))
    assert flat_words(calldata) == [1, 2, 11, 10, 21, 20, 3, 4]
