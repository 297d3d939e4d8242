"""What the interop scripts here share: how one ends, and how it reports a workflow's outcome.

Imported by its neighbours (Python puts a script's own directory on sys.path).
"""

import asyncio
import json
import os
import sys

from temporalio.client import WorkflowFailureError


def run(main, *args):
    """Runs `main(*args)` to its end, then leaves without finalizing: the SDK's native
    threads can crash the interpreter while it finalizes ("PyGILState_Release ...
    finalizing"), after the work is done."""
    asyncio.run(main(*args))
    sys.stdout.flush()
    os._exit(0)


async def print_outcome(handle):
    """Prints {"result": ..., "error": null}, or the innermost cause's message as "error"
    when the workflow failed."""
    try:
        print(json.dumps({"result": await handle.result(), "error": None}))
    except WorkflowFailureError as error:
        cause = error.cause
        while getattr(cause, "cause", None) is not None:
            cause = cause.cause
        print(json.dumps({"result": None, "error": str(cause)}))
