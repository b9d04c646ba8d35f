"""Where batch work runs (threads, a local ``dask.distributed`` cluster of processes, or a
cluster by its address), chunked zarr stores and resume bookkeeping.

Workflows hand the engine a function and its tasks; none of them imports dask.
"""

from tmdlearn.engine.choice import map_tasks, workflow_engine
from tmdlearn.engine.scheduler import SCHEDULER_HELP, Engine, open_engine

__all__ = ["SCHEDULER_HELP", "Engine", "map_tasks", "open_engine", "workflow_engine"]
