"""jobflow's job store inside the screening database, for FireWorks workers anywhere.

jobflow keeps job outputs in ``JOB_STORE`` (an in-memory store unless configured), and a
Firework that needs an upstream output reads it from there: with the default, any workflow
that crosses a process boundary fails (``Could not resolve reference``). The store here
lives in the same database as the results — the embedded file or ``SCREENING_DB_URI`` —
and is resolved **on the worker** when it connects, so the serialised store that travels
inside every Firework carries a collection name and no host or password.

``campaign submit`` passes it to ``flow_to_workflow``; ``screening db jobflow-file`` writes a
``jobflow.yaml`` that makes it the default ``JOB_STORE`` for other jobflow entry points.
"""

from __future__ import annotations

from maggma.stores.mongolike import MemoryStore

OUTPUTS_COLLECTION = "jobflow_outputs"


class ScreeningDocsStore(MemoryStore):
    """maggma store on a collection of the screening database (see the module docstring).

    Parameters
    ----------
    collection_name : str
        Collection of job outputs.
    **kwargs
        Passed to maggma's ``Store`` (key, last_updated_field, ...).
    """

    def __init__(self, collection_name: str = OUTPUTS_COLLECTION, **kwargs) -> None:
        super().__init__(collection_name=collection_name, **kwargs)

    @property
    def name(self) -> str:
        """Name for the store."""
        return f"screening://{self.collection_name}"

    def connect(self, force_reset: bool = False) -> None:
        """Open the collection on the database this process is configured for."""
        if self._coll is None or force_reset:
            from screening.store.backend import connect

            self._coll = connect().db[self.collection_name]

    def update(self, docs: list[dict] | dict, key: list | str | None = None) -> None:
        """Upsert documents by ``key``. On the embedded store one ``replace_one`` each
        (mongomock 4.3 cannot run pymongo >= 4.11 ``ReplaceOne`` bulk requests); on a real
        server maggma's bulk write."""
        if not type(self._collection).__module__.startswith("mongomock"):
            super().update(docs, key)
            return
        from monty.json import jsanitize

        key = key or self.key
        keys = key if isinstance(key, list) else [key]
        for d in docs if isinstance(docs, list) else [docs]:
            d = jsanitize(d, allow_bson=True, recursive_msonable=True)
            self._collection.replace_one({k: d[k] for k in keys}, d, upsert=True)

    def close(self) -> None:
        """Forget the collection (the shared client stays open for the results)."""
        self._coll = None


def screening_job_store():
    """A jobflow ``JobStore`` whose documents live in the screening database."""
    from jobflow import JobStore

    return JobStore(docs_store=ScreeningDocsStore())
