"""The simulation's clock: chain seconds per step and the traders' and feeds' cadences."""

from __future__ import annotations

STEP = 60  # seconds of chain time per simulation step
REFRESH_MARGIN = 600  # traders re-prove when their proof is this close to expiring
FEED_REFRESH = 1800  # unfrozen feeds publish at least this often (heartbeats are >= 3600)
RETRY = 60  # a trader attempts at most one proof per this many seconds
