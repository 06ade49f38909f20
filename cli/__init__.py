"""The ``zkmargin`` command line: a thin click layer over the prover and verifier."""
