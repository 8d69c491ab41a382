"""The one Procrastinate `App`. Tasks register on it at import; each process start-up swaps in a
fresh connector bound to that process's pool (see `worker.runner`).

Jobs are deferred with plain SQL inside our own transactions (`app.engine.jobs`), so the queue is
only used here for task registration and for running workers.
"""

import procrastinate

queue = procrastinate.App(connector=procrastinate.PsycopgConnector(), import_paths=["worker.tasks"])
