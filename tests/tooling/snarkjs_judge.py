"""Test tooling: `snarkjs groth16 verify`'s verdict without a Node start-up per case.

One long-lived node process reads one JSON request per line (the three files' *texts*:
verification key, public signals, proof), parses each text with ``JSON.parse`` and calls
``snarkjs.groth16.verify`` on the results, which is exactly what the CLI does with its
three files (snarkjs 0.7.6, build/cli.cjs ``groth16Verify``), and answers the CLI's exit
code: 0 valid, 1 invalid or thrown (the CLI's top level turns a throw into exit 1).
``tests/test_groth16.py`` pins the judge against the real CLI on a handful of cases.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from types import TracebackType

from zkmargin.paths import project_root
from zkmargin.toolrun import minimal_env

_JUDGE_JS = r"""
const path = require("path");
const readline = require("readline");
const snarkjs = require(path.join(process.argv[1], "node_modules", "snarkjs"));
const rl = readline.createInterface({ input: process.stdin, terminal: false });
let queue = Promise.resolve();
rl.on("line", (line) => {
  queue = queue.then(async () => {
    const req = JSON.parse(line);
    let rc;
    try {
      const ok = await snarkjs.groth16.verify(
        JSON.parse(req.vk), JSON.parse(req.public), JSON.parse(req.proof));
      rc = ok ? 0 : 1;
    } catch (e) {
      rc = 1;
    }
    process.stdout.write(JSON.stringify({ rc }) + "\n");
  });
});
rl.on("close", () => { queue.then(() => process.exit(0)); });
"""


class SnarkjsJudge:
    """``with SnarkjsJudge() as judge: judge.exit_code(vk_text, public_text, proof_text)``."""

    def __init__(self) -> None:
        node = shutil.which("node")
        assert node is not None, "node is not on PATH"
        self._proc = subprocess.Popen(
            [node, "-e", _JUDGE_JS, str(project_root())],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            env=minimal_env(),
        )

    def exit_code(self, vk: str, public: str, proof: str) -> int:
        assert self._proc.stdin is not None and self._proc.stdout is not None
        self._proc.stdin.write(json.dumps({"vk": vk, "public": public, "proof": proof}) + "\n")
        self._proc.stdin.flush()
        line = self._proc.stdout.readline()
        assert line, f"the snarkjs judge died (exit {self._proc.poll()})"
        return int(json.loads(line)["rc"])

    def close(self) -> None:
        if self._proc.stdin is not None:
            self._proc.stdin.close()
        try:
            self._proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()

    def __enter__(self) -> SnarkjsJudge:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
