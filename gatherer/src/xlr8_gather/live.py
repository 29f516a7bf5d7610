"""The plan's ``LiveDataGatherer`` ("Integration with Intelligence Engine")::

    gatherer = LiveDataGatherer(project_id)
    truths = gatherer.gather("How many active employees were hired in 2024?")
    truths = gatherer.gather(question, {"entities": ["employee"], "filters": {"employment_status": "active"}})

``project_id`` is the engine project's UUID or a project name (mapped by ``project_uuid``); the project's active
credentials in the credential store pick the products, and the rows land in the truths store as Reality or
Configuration truths.
"""

from __future__ import annotations

import typing as t
from collections.abc import Mapping

from xlr8_gather.gather import Analysis, GatherReport, gather, project_uuid

if t.TYPE_CHECKING:
    from target_xlr8_truths.ledger import Truth
    from xlr8_kit.credentials.model import ProductCredential


class LiveDataGatherer:
    """Gather live data from connected products (plan, Live Data Gathering)."""

    def __init__(
        self,
        project_id: str,
        *,
        store: str | None = None,
        duckdb_path: str = ".xlr8/truths.duckdb",
        sources: Mapping[str, Mapping[str, t.Any]] | None = None,
        target_settings: Mapping[str, t.Any] | None = None,
    ) -> None:
        self.project_id = project_uuid(project_id)
        self.project = project_id
        self.store = store
        self.duckdb_path = duckdb_path
        self.sources = sources
        self.target_settings = dict(target_settings or {})
        self.credentials: list[ProductCredential] = [] if sources is not None else self._credentials()
        self.last_report = GatherReport()

    def _credentials(self) -> list[ProductCredential]:
        from xlr8_kit.credentials.resolve import open_manager

        manager = open_manager(self.store, create=False)
        try:
            found = {
                c.credential_id: c
                for key in dict.fromkeys((self.project, self.project_id))
                for c in manager.list_by_project(key)
            }
        finally:
            manager.close()
        return sorted(found.values(), key=lambda c: c.credential_id)

    def gather(self, question: str, analysis: Analysis | Mapping[str, t.Any] | None = None) -> list[Truth]:
        """1. find the products and entities the question is about, 2. create their connectors, 3. read them with
        the filters pushed down where the API can, 4. land the rows and return them as ``Truth`` objects."""
        self.last_report = GatherReport()
        return gather(
            question,
            analysis,
            project=self.project,
            sources=self.sources,
            store=self.store,
            duckdb_path=self.duckdb_path,
            report=self.last_report,
            target_settings=self.target_settings,
        )
