//! Operator commands on a standalone activity: pause, unpause, reset, update its options,
//! terminate, delete (`temporal activity ...`, as an API). Their options and answers are
//! shared with a workflow's activities (`workflow_activity.rs`).

use prost_wkt_types::FieldMask;

use super::*;
use crate::proto::WireActivityOptions;

/// How [`ActivityHandle::reset`] (and [`WorkflowActivityHandle::reset`]) resets an
/// activity: back to attempt 1, scheduled again at once. A standalone activity's running
/// attempt learns of it at its next heartbeat
/// ([`CancelReason::Reset`](crate::CancelReason::Reset)). A workflow's activity is
/// replaced at once instead (as measured on server 1.32): the running attempt's next
/// heartbeat finds it gone ([`CancelReason::NotFound`](crate::CancelReason::NotFound)), and
/// the new attempt is not numbered 1 (a reset during attempt 2 gave another attempt 2).
///
/// [`WorkflowActivityHandle::reset`]: super::WorkflowActivityHandle::reset
#[derive(Debug, Clone, Default, PartialEq)]
#[non_exhaustive]
pub struct ResetOptions {
    /// Clear the recorded heartbeat details, so the next attempt starts from nothing.
    pub reset_heartbeat: bool,
    /// Leave a paused activity paused (by default a reset also unpauses it).
    pub keep_paused: bool,
    /// Delay the new attempt by a random time up to this, to spread a mass reset.
    pub jitter: Option<Duration>,
    /// Undo every [`update_options`](ActivityHandle::update_options): the options it was
    /// started with apply again.
    pub restore_original_options: bool,
}

/// Which options [`ActivityHandle::update_options`] changes: only the fields set are sent,
/// each named in the request's field mask; the rest stay as they are.
///
/// ```
/// use std::time::Duration;
/// use legwork::client::ActivityOptionsUpdate;
///
/// let mut update = ActivityOptionsUpdate::default();
/// update.start_to_close_timeout = Some(Duration::from_secs(300));
/// ```
#[derive(Debug, Clone, Default, PartialEq)]
#[non_exhaustive]
pub struct ActivityOptionsUpdate {
    /// Limit of one attempt; applies from the next attempt.
    pub start_to_close_timeout: Option<Duration>,
    /// Limit of the whole activity, all attempts included.
    pub schedule_to_close_timeout: Option<Duration>,
    /// Limit of the time a task waits in the queue.
    pub schedule_to_start_timeout: Option<Duration>,
    /// Maximum time between two heartbeats.
    pub heartbeat_timeout: Option<Duration>,
    /// The retry policy's fields that are set (and `non_retryable_error_types` when not
    /// empty) replace the current ones; its unset fields are left alone.
    pub retry_policy: Option<RetryPolicy>,
}

impl ActivityOptionsUpdate {
    /// The options and the mask naming exactly the fields set (snake_case paths, as the
    /// server and the other SDKs spell them).
    pub(super) fn to_proto(&self) -> (WireActivityOptions, FieldMask) {
        let mut options = WireActivityOptions::default();
        let mut paths = Vec::new();
        let mut set =
            |path: &str, value: Option<Duration>, field: &mut Option<prost_wkt_types::Duration>| {
                if let Some(value) = value {
                    *field = to_proto_duration(value);
                    paths.push(path.to_owned());
                }
            };
        set(
            "start_to_close_timeout",
            self.start_to_close_timeout,
            &mut options.start_to_close_timeout,
        );
        set(
            "schedule_to_close_timeout",
            self.schedule_to_close_timeout,
            &mut options.schedule_to_close_timeout,
        );
        set(
            "schedule_to_start_timeout",
            self.schedule_to_start_timeout,
            &mut options.schedule_to_start_timeout,
        );
        set(
            "heartbeat_timeout",
            self.heartbeat_timeout,
            &mut options.heartbeat_timeout,
        );
        if let Some(policy) = &self.retry_policy {
            options.retry_policy = Some(policy.to_proto());
            paths.extend(retry_policy_paths(policy));
        }
        (options, FieldMask { paths })
    }
}

/// The mask paths of a retry policy's set fields.
fn retry_policy_paths(policy: &RetryPolicy) -> impl Iterator<Item = String> {
    [
        ("initial_interval", policy.initial_interval.is_some()),
        ("backoff_coefficient", policy.backoff_coefficient.is_some()),
        ("maximum_interval", policy.maximum_interval.is_some()),
        ("maximum_attempts", policy.maximum_attempts.is_some()),
        (
            "non_retryable_error_types",
            !policy.non_retryable_error_types.is_empty(),
        ),
    ]
    .into_iter()
    .filter(|(_, set)| *set)
    .map(|(field, _)| format!("retry_policy.{field}"))
}

/// An activity's options after [`ActivityHandle::update_options`], as the server answered.
#[derive(Debug, Clone, Default, PartialEq)]
#[non_exhaustive]
pub struct CurrentActivityOptions {
    /// The task queue its attempts are scheduled on.
    pub task_queue: String,
    /// Limit of one attempt; `None` when unset.
    pub start_to_close_timeout: Option<Duration>,
    /// Limit of the whole activity; `None` when unset.
    pub schedule_to_close_timeout: Option<Duration>,
    /// Limit of the time a task waits in the queue; `None` when unset.
    pub schedule_to_start_timeout: Option<Duration>,
    /// Maximum time between two heartbeats; `None` when unset.
    pub heartbeat_timeout: Option<Duration>,
    /// The retry policy, when the server sent one.
    pub retry_policy: Option<RetryPolicy>,
    /// Its priority and fairness.
    pub priority: Priority,
}

impl CurrentActivityOptions {
    pub(super) fn from_proto(options: Option<WireActivityOptions>) -> Self {
        let options = options.unwrap_or_default();
        CurrentActivityOptions {
            task_queue: options.task_queue.map(|q| q.name).unwrap_or_default(),
            start_to_close_timeout: from_proto_duration(options.start_to_close_timeout),
            schedule_to_close_timeout: from_proto_duration(options.schedule_to_close_timeout),
            schedule_to_start_timeout: from_proto_duration(options.schedule_to_start_timeout),
            heartbeat_timeout: from_proto_duration(options.heartbeat_timeout),
            retry_policy: options.retry_policy.as_ref().map(RetryPolicy::from_proto),
            priority: options
                .priority
                .as_ref()
                .map(Priority::from_proto)
                .unwrap_or_default(),
        }
    }
}

/// Operator commands on a standalone activity. Each targets the handle's run, or the
/// latest run of its id when the handle has no run id; the server's refusal is
/// [`ClientError::Rpc`] naming the RPC.
impl ActivityHandle {
    /// Pauses the activity: no new attempt is scheduled until [`unpause`](Self::unpause).
    /// A running attempt learns of it at its next heartbeat
    /// ([`CancelReason::Paused`](crate::CancelReason::Paused)); one that does not
    /// heartbeat runs to its end, and a failure then waits for the unpause.
    pub async fn pause(&self, reason: &str) -> Result<(), ClientError> {
        let request = service::PauseActivityExecutionRequest {
            namespace: self.client.namespace.clone(),
            activity_id: self.activity_id.clone(),
            run_id: self.run_id.clone().unwrap_or_default(),
            identity: self.client.identity.clone(),
            reason: reason.to_owned(),
            request_id: uuid::Uuid::new_v4().to_string(),
            ..Default::default()
        };
        self.client
            .service()
            .pause_activity_execution(with_deadline(request, UNARY_DEADLINE))
            .await
            .map_err(rpc_error("PauseActivityExecution"))?;
        Ok(())
    }

    /// Resumes a paused activity: its next attempt is scheduled at once.
    pub async fn unpause(&self) -> Result<(), ClientError> {
        let request = service::UnpauseActivityExecutionRequest {
            namespace: self.client.namespace.clone(),
            activity_id: self.activity_id.clone(),
            run_id: self.run_id.clone().unwrap_or_default(),
            identity: self.client.identity.clone(),
            request_id: uuid::Uuid::new_v4().to_string(),
            ..Default::default()
        };
        self.client
            .service()
            .unpause_activity_execution(with_deadline(request, UNARY_DEADLINE))
            .await
            .map_err(rpc_error("UnpauseActivityExecution"))?;
        Ok(())
    }

    /// Resets the activity to attempt 1, as `options` say.
    pub async fn reset(&self, options: ResetOptions) -> Result<(), ClientError> {
        let request = service::ResetActivityExecutionRequest {
            namespace: self.client.namespace.clone(),
            activity_id: self.activity_id.clone(),
            run_id: self.run_id.clone().unwrap_or_default(),
            identity: self.client.identity.clone(),
            keep_paused: options.keep_paused,
            jitter: options.jitter.and_then(to_proto_duration),
            restore_original_options: options.restore_original_options,
            reset_heartbeat: options.reset_heartbeat,
            request_id: uuid::Uuid::new_v4().to_string(),
            ..Default::default()
        };
        self.client
            .service()
            .reset_activity_execution(with_deadline(request, UNARY_DEADLINE))
            .await
            .map_err(rpc_error("ResetActivityExecution"))?;
        Ok(())
    }

    /// Changes the options `update` sets; returns them all as they now are.
    pub async fn update_options(
        &self,
        update: ActivityOptionsUpdate,
    ) -> Result<CurrentActivityOptions, ClientError> {
        let (activity_options, mask) = update.to_proto();
        let request = service::UpdateActivityExecutionOptionsRequest {
            namespace: self.client.namespace.clone(),
            activity_id: self.activity_id.clone(),
            run_id: self.run_id.clone().unwrap_or_default(),
            identity: self.client.identity.clone(),
            activity_options: Some(activity_options),
            update_mask: Some(mask),
            request_id: uuid::Uuid::new_v4().to_string(),
            ..Default::default()
        };
        let response = self
            .client
            .service()
            .update_activity_execution_options(with_deadline(request, UNARY_DEADLINE))
            .await
            .map_err(rpc_error("UpdateActivityExecutionOptions"))?;
        Ok(CurrentActivityOptions::from_proto(
            response.into_inner().activity_options,
        ))
    }

    /// Ends the activity at once as Terminated. A running attempt is not told: its report
    /// is refused, and its heartbeats learn the activity is gone.
    pub async fn terminate(&self, reason: &str) -> Result<(), ClientError> {
        let request = service::TerminateActivityExecutionRequest {
            namespace: self.client.namespace.clone(),
            activity_id: self.activity_id.clone(),
            run_id: self.run_id.clone().unwrap_or_default(),
            identity: self.client.identity.clone(),
            request_id: uuid::Uuid::new_v4().to_string(),
            reason: reason.to_owned(),
        };
        self.client
            .service()
            .terminate_activity_execution(with_deadline(request, UNARY_DEADLINE))
            .await
            .map_err(rpc_error("TerminateActivityExecution"))?;
        Ok(())
    }

    /// Deletes the activity and its record, running or closed: `describe` then fails
    /// with `NotFound`.
    pub async fn delete(&self) -> Result<(), ClientError> {
        let request = service::DeleteActivityExecutionRequest {
            namespace: self.client.namespace.clone(),
            activity_id: self.activity_id.clone(),
            run_id: self.run_id.clone().unwrap_or_default(),
        };
        self.client
            .service()
            .delete_activity_execution(with_deadline(request, UNARY_DEADLINE))
            .await
            .map_err(rpc_error("DeleteActivityExecution"))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_update_sends_and_masks_only_the_fields_set() {
        let (options, mask) = ActivityOptionsUpdate::default().to_proto();
        assert_eq!(options, WireActivityOptions::default());
        assert!(mask.paths.is_empty());

        let policy = RetryPolicy {
            maximum_attempts: Some(4),
            ..Default::default()
        };
        let update = ActivityOptionsUpdate {
            start_to_close_timeout: Some(Duration::from_secs(45)),
            heartbeat_timeout: Some(Duration::from_secs(5)),
            retry_policy: Some(policy),
            ..Default::default()
        };
        let (options, mask) = update.to_proto();
        assert_eq!(
            mask.paths,
            [
                "start_to_close_timeout",
                "heartbeat_timeout",
                "retry_policy.maximum_attempts"
            ]
        );
        assert_eq!(options.start_to_close_timeout.unwrap().seconds, 45);
        assert_eq!(options.heartbeat_timeout.unwrap().seconds, 5);
        assert_eq!(options.retry_policy.unwrap().maximum_attempts, 4);
        assert!(options.schedule_to_close_timeout.is_none());
    }
}
