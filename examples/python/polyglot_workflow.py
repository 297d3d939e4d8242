"""A Python workflow that calls Rust activities by name (examples/polyglot.rs).

The workflow knows the activities only by the names the Rust worker registers them
under; arguments and results travel as JSON. This file holds only the workflow, so the
Python SDK's sandbox can import it on its own (examples/python/polyglot.py runs it).
"""

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, CancelledError
from temporalio.workflow import ActivityCancellationType


@workflow.defn(name="Polyglot")
class Polyglot:
    @workflow.run
    async def run(self, name: str) -> list[str]:
        report = []

        # A plain sync activity. No task_queue: activities go to the workflow's own task
        # queue, where the Rust worker polls activity tasks and this Python worker polls
        # workflow tasks.
        greeting = await workflow.execute_activity(
            "greet", name, start_to_close_timeout=timedelta(seconds=10)
        )
        report.append(f"greet({name!r}) -> {greeting}")

        # A sync activity that runs about 2 s with a 1 s heartbeat timeout: it completes
        # only because it heartbeats. A retry would resume from its last heartbeat.
        squares = await workflow.execute_activity(
            "sum_of_squares",
            100,
            start_to_close_timeout=timedelta(seconds=30),
            heartbeat_timeout=timedelta(seconds=1),
            retry_policy=RetryPolicy(initial_interval=timedelta(milliseconds=200)),
        )
        report.append(f"sum_of_squares(100) -> {squares}")

        # An async activity that waits until cancelled. WAIT_CANCELLATION_COMPLETED: the
        # workflow waits until the activity has seen the cancellation and ended Canceled.
        approval = workflow.start_activity(
            "await_approval",
            "T-42",
            start_to_close_timeout=timedelta(seconds=60),
            heartbeat_timeout=timedelta(seconds=1),
            cancellation_type=ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
        )
        await workflow.sleep(timedelta(seconds=1))
        approval.cancel()
        try:
            outcome = await approval
            report.append(f"await_approval('T-42') completed: {outcome}")
        except ActivityError as error:
            if not isinstance(error.cause, CancelledError):
                raise
            # The details of a Canceled activity are its last heartbeat's.
            details = ", ".join(str(detail) for detail in error.cause.details)
            report.append(f"await_approval('T-42') -> canceled by the workflow: {details}")
        return report
