//! A limit per activity type, inside the worker's slots: `#[activity(max_concurrent = N)]`
//! or [`WorkerOptions::activity_limits`](super::super::WorkerOptions::activity_limits)
//! (`--max-concurrent TYPE=N`), so that one heavy type cannot run in every slot. No
//! Temporal SDK has it; their answer is a task queue per heavy type.
//!
//! A poll cannot choose the type it receives, so a task of a type at its limit has
//! already been taken from the server when the worker sees it. It waits in the worker for
//! its type's permit, holding its slot: the worker never holds more tasks than slots, and
//! the other slots keep polling and serving other types. The wait counts against the
//! attempt's start-to-close and heartbeat timeouts, as the server counts them; a waiting
//! task that shutdown reaches is reported at once as `WorkerShutdown` (it never started,
//! so another worker can take it straight away). A backlog made only of one limited type
//! can still fill the free slots with waiting tasks; a type that must never delay others
//! belongs on its own task queue.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_util::sync::CancellationToken;

use crate::attempt::{Attempt, CancelReason};
use crate::error::ActivityError;
use crate::registry::Registry;
use crate::worker::invalid_option::InvalidOption;

/// Held by a running attempt of a limited type.
pub(crate) type TypePermit = OwnedSemaphorePermit;

/// The limited types of one worker and their permits.
#[derive(Debug, Default)]
pub(crate) struct TypeLimits {
    by_type: HashMap<String, (usize, Arc<Semaphore>)>,
}

fn invalid_limit(reason: String) -> InvalidOption {
    InvalidOption::new("activity_limits", "--max-concurrent", reason)
}

impl TypeLimits {
    /// The descriptors' limits, overridden by `overrides` (the worker's options); an
    /// error names the setting to fix.
    pub(crate) fn new(
        registry: &Registry,
        overrides: &BTreeMap<String, usize>,
    ) -> Result<Self, InvalidOption> {
        let mut limits: BTreeMap<String, usize> = BTreeMap::new();
        for descriptor in registry.iter() {
            match descriptor.max_concurrent {
                Some(0) => {
                    return Err(InvalidOption::new(
                        "#[activity(max_concurrent)]",
                        "#[activity(max_concurrent)]",
                        format!(
                            "activity `{}` ({}) has 0; a limit must be at least 1",
                            descriptor.name, descriptor.location
                        ),
                    ))
                }
                Some(limit) => {
                    limits.insert(descriptor.name.to_owned(), limit);
                }
                None => {}
            }
        }
        for (activity_type, &limit) in overrides {
            if limit == 0 {
                return Err(invalid_limit(format!(
                    "`{activity_type}` has 0: a limit must be at least 1; remove it to leave \
                     `{activity_type}` unlimited"
                )));
            }
            // A type the dynamic activity would serve can be limited by name too.
            if registry.get(activity_type).is_none() && registry.dynamic().is_none() {
                let served: Vec<&str> = registry.names().collect();
                return Err(invalid_limit(format!(
                    "names `{activity_type}`, which this worker does not serve; its activities \
                     are: {}",
                    served.join(", ")
                )));
            }
            limits.insert(activity_type.clone(), limit);
        }
        let by_type = limits
            .into_iter()
            .map(|(name, limit)| (name, (limit, Arc::new(Semaphore::new(limit)))))
            .collect();
        Ok(TypeLimits { by_type })
    }

    /// `name=N, ...` for the start-up line; empty without limits.
    pub(crate) fn describe(&self) -> String {
        let mut limits: Vec<_> = self
            .by_type
            .iter()
            .map(|(name, (limit, _))| format!("{name}={limit}"))
            .collect();
        limits.sort();
        limits.join(", ")
    }

    /// The permit of `activity_type` (`None` when it is not limited), waited for until the
    /// attempt is cancelled or the worker shuts down; either ends it as a cancellation.
    pub(crate) async fn wait(
        &self,
        activity_type: &str,
        attempt: &Attempt,
        shutdown: &CancellationToken,
    ) -> Result<Option<TypePermit>, ActivityError> {
        let Some((_, semaphore)) = self.by_type.get(activity_type) else {
            return Ok(None);
        };
        if let Ok(permit) = semaphore.clone().try_acquire_owned() {
            return Ok(Some(permit));
        }
        tracing::debug!(
            activity_type,
            "at its max_concurrent limit: waiting for a permit"
        );
        tokio::select! {
            biased;
            reason = attempt.cancelled() => Err(ActivityError::cancelled(reason)),
            _ = shutdown.cancelled() => {
                attempt.cancel(CancelReason::WorkerShutdown);
                Err(ActivityError::cancelled(CancelReason::WorkerShutdown))
            }
            permit = semaphore.clone().acquire_owned() => {
                Ok(Some(permit.expect("type limits are never closed")))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::context::ActivityContext;
    use crate::invoke::Args;
    use crate::invoke::Outcome;
    use crate::registry::{ActivityDescriptor, Invoker, SourceLocation};
    use std::time::Duration;

    fn noop(_: &ActivityContext, _: Args) -> Outcome {
        Err(ActivityError::new("not called"))
    }

    const fn descriptor(name: &'static str, max_concurrent: Option<usize>) -> ActivityDescriptor {
        ActivityDescriptor {
            name,
            function: name,
            location: SourceLocation {
                file: "src/a.rs",
                line: 1,
                column: 1,
            },
            invoker: Invoker::Sync(noop),
            max_concurrent,
        }
    }

    static HEAVY: ActivityDescriptor = descriptor("heavy", Some(2));
    static LIGHT: ActivityDescriptor = descriptor("light", None);

    fn registry() -> Registry {
        Registry::from_descriptors([&HEAVY, &LIGHT]).unwrap()
    }

    #[test]
    fn options_override_the_attribute_and_bad_ones_are_refused() {
        let limits = TypeLimits::new(&registry(), &BTreeMap::new()).unwrap();
        assert_eq!(limits.describe(), "heavy=2");
        let overrides = BTreeMap::from([("heavy".to_owned(), 5), ("light".to_owned(), 1)]);
        let limits = TypeLimits::new(&registry(), &overrides).unwrap();
        assert_eq!(limits.describe(), "heavy=5, light=1");

        let zero = BTreeMap::from([("light".to_owned(), 0)]);
        let error = TypeLimits::new(&registry(), &zero).unwrap_err();
        assert_eq!(error.option, "activity_limits");
        assert!(
            error
                .on_command_line()
                .starts_with("invalid --max-concurrent: `light` has 0"),
            "{error}"
        );
        let unknown = BTreeMap::from([("hevy".to_owned(), 3)]);
        let error = TypeLimits::new(&registry(), &unknown).unwrap_err();
        assert!(
            error.reason.contains("`hevy`") && error.reason.contains("heavy, light"),
            "{error}"
        );
    }

    #[tokio::test]
    async fn a_type_at_its_limit_waits_until_cancelled_or_shut_down() {
        let limits = TypeLimits::new(&registry(), &BTreeMap::new()).unwrap();
        let shutdown = CancellationToken::new();
        let attempt = Attempt::new(shutdown.clone(), None);
        let light = limits.wait("light", &attempt, &shutdown).await.unwrap();
        assert!(light.is_none(), "an unlimited type needs no permit");
        let first = limits.wait("heavy", &attempt, &shutdown).await.unwrap();
        let _second = limits.wait("heavy", &attempt, &shutdown).await.unwrap();
        let third = tokio::time::timeout(
            Duration::from_millis(30),
            limits.wait("heavy", &attempt, &shutdown),
        );
        assert!(third.await.is_err(), "a third heavy attempt got a permit");
        drop(first);
        let third = limits.wait("heavy", &attempt, &shutdown).await.unwrap();
        assert!(third.is_some(), "a permit freed is taken");

        let waiting = Attempt::new(shutdown.clone(), None);
        shutdown.cancel();
        let error = limits.wait("heavy", &waiting, &shutdown).await.unwrap_err();
        assert_eq!(error.cancel_reason(), Some(CancelReason::WorkerShutdown));
        assert_eq!(waiting.cancel_reason(), Some(CancelReason::WorkerShutdown));
    }
}
