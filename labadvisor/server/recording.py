"""The usage ledger as the server extension uses it: one ledger for the sampler and for
``GET usage``, and where the sampler learns each kernel's own Docker context.

A kernel that switches on its own publishes its context beside its connection file
(:func:`labadvisor.contexts.kernel_contexts`) and records the switch in the ledger it
knows (``$LABADVISOR_USAGE_URL`` or the default file), which need not be the one the
operator configured for the server (``c.LabAdvisor.usage_url``). The published files are
this server's truth about its live kernels, so :class:`ServerLedger` answers the sampler's
``kernel_contexts`` from them, over what the ledger holds.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from labadvisor.contexts import KernelContext
    from labadvisor.usage import Batch, LedgerBackend
    from labadvisor.usage.store import DailyRow

log = logging.getLogger("labadvisor.server")

Published = Callable[[Iterable[str]], Mapping[str, "KernelContext"]]


class ServerLedger:
    """``ledger`` with kernels' contexts taken from the files they published."""

    def __init__(self, ledger: LedgerBackend, published: Published) -> None:
        self.ledger = ledger
        self._published = published

    @property
    def location(self) -> str:
        return self.ledger.location

    def write(self, batch: Batch) -> bool:
        return self.ledger.write(batch)

    def prune(self, retention_days: float, *, now: float | None = None) -> int:
        return self.ledger.prune(retention_days, now=now)

    def recording_since(self) -> float | None:
        return self.ledger.recording_since()

    def daily(self, since: int, until: int, busy_percent: float) -> list[DailyRow]:
        return self.ledger.daily(since, until, busy_percent)

    def holder_peaks(self, since: int, until: int) -> dict[str, int]:
        return self.ledger.holder_peaks(since, until)

    def kernel_contexts(
        self, server: str, kernel_ids: Iterable[str]
    ) -> dict[str, tuple[str, str | None]]:
        ids = list(kernel_ids)
        try:
            found = self.ledger.kernel_contexts(server, ids)
        except Exception as exc:  # the ledger is down: the files still say it
            log.debug("usage ledger: kernel contexts not read (%s)", exc)
            found = {}
        published = self._published(ids)
        found = {k: v for k, v in found.items() if k not in published}
        found.update({k: (p.context, p.role) for k, p in published.items()})
        return found

    def close(self) -> None:
        self.ledger.close()
