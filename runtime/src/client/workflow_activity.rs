//! Operator commands on an activity a workflow scheduled, named by the workflow's id and
//! the activity's id: `PauseActivity`, `UnpauseActivity`, `ResetActivity` and
//! `UpdateActivityOptions`, the workflow-side RPCs (a workflow's activity has no run of its
//! own to terminate or delete: that is the workflow's business).

use super::*;
use crate::proto::service::{
    pause_activity_request, reset_activity_request, unpause_activity_request,
    update_activity_options_request,
};
use crate::proto::WorkflowExecution;

/// One activity of one workflow, for operator commands.
///
/// ```no_run
/// use legwork::client::{Client, ResetOptions};
///
/// # async fn run(client: Client) -> Result<(), Box<dyn std::error::Error>> {
/// let charge = client.workflow_activity("order-42", None, "charge-card");
/// charge.pause("the card processor is down").await?;
/// // ... later
/// let mut reset = ResetOptions::default();
/// reset.reset_heartbeat = true;
/// charge.reset(reset).await?;
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct WorkflowActivityHandle {
    client: Client,
    workflow_id: String,
    workflow_run_id: Option<String>,
    activity_id: String,
}

impl Client {
    /// A handle on activity `activity_id` of workflow `workflow_id`; `workflow_run_id: None`
    /// targets the workflow's latest run. The activity id is the one the workflow gave (by
    /// default the SDKs number a workflow's activities "1", "2", ...).
    pub fn workflow_activity(
        &self,
        workflow_id: impl Into<String>,
        workflow_run_id: Option<String>,
        activity_id: impl Into<String>,
    ) -> WorkflowActivityHandle {
        WorkflowActivityHandle {
            client: self.clone(),
            workflow_id: workflow_id.into(),
            workflow_run_id: workflow_run_id.filter(|id| !id.is_empty()),
            activity_id: activity_id.into(),
        }
    }
}

impl WorkflowActivityHandle {
    /// The workflow's id.
    pub fn workflow_id(&self) -> &str {
        &self.workflow_id
    }

    /// The activity's id within the workflow.
    pub fn activity_id(&self) -> &str {
        &self.activity_id
    }

    fn execution(&self) -> Option<WorkflowExecution> {
        Some(WorkflowExecution {
            workflow_id: self.workflow_id.clone(),
            run_id: self.workflow_run_id.clone().unwrap_or_default(),
        })
    }

    /// Pauses the activity, as [`ActivityHandle::pause`] does a standalone one.
    pub async fn pause(&self, reason: &str) -> Result<(), ClientError> {
        let request = service::PauseActivityRequest {
            namespace: self.client.namespace.clone(),
            execution: self.execution(),
            identity: self.client.identity.clone(),
            reason: reason.to_owned(),
            request_id: uuid::Uuid::new_v4().to_string(),
            activity: Some(pause_activity_request::Activity::Id(
                self.activity_id.clone(),
            )),
        };
        self.client
            .service()
            .pause_activity(with_deadline(request, UNARY_DEADLINE))
            .await
            .map_err(rpc_error("PauseActivity"))?;
        Ok(())
    }

    /// Resumes the paused activity: its next attempt is scheduled at once.
    pub async fn unpause(&self) -> Result<(), ClientError> {
        let request = service::UnpauseActivityRequest {
            namespace: self.client.namespace.clone(),
            execution: self.execution(),
            identity: self.client.identity.clone(),
            activity: Some(unpause_activity_request::Activity::Id(
                self.activity_id.clone(),
            )),
            ..Default::default()
        };
        self.client
            .service()
            .unpause_activity(with_deadline(request, UNARY_DEADLINE))
            .await
            .map_err(rpc_error("UnpauseActivity"))?;
        Ok(())
    }

    /// Resets the activity to attempt 1, as `options` say.
    pub async fn reset(&self, options: ResetOptions) -> Result<(), ClientError> {
        let request = service::ResetActivityRequest {
            namespace: self.client.namespace.clone(),
            execution: self.execution(),
            identity: self.client.identity.clone(),
            reset_heartbeat: options.reset_heartbeat,
            keep_paused: options.keep_paused,
            jitter: options.jitter.and_then(to_proto_duration),
            restore_original_options: options.restore_original_options,
            activity: Some(reset_activity_request::Activity::Id(
                self.activity_id.clone(),
            )),
        };
        self.client
            .service()
            .reset_activity(with_deadline(request, UNARY_DEADLINE))
            .await
            .map_err(rpc_error("ResetActivity"))?;
        Ok(())
    }

    /// Changes the options `update` sets; returns them all as they now are.
    pub async fn update_options(
        &self,
        update: ActivityOptionsUpdate,
    ) -> Result<CurrentActivityOptions, ClientError> {
        let (activity_options, mask) = update.to_proto();
        let request = service::UpdateActivityOptionsRequest {
            namespace: self.client.namespace.clone(),
            execution: self.execution(),
            identity: self.client.identity.clone(),
            activity_options: Some(activity_options),
            update_mask: Some(mask),
            restore_original: false,
            activity: Some(update_activity_options_request::Activity::Id(
                self.activity_id.clone(),
            )),
        };
        let response = self
            .client
            .service()
            .update_activity_options(with_deadline(request, UNARY_DEADLINE))
            .await
            .map_err(rpc_error("UpdateActivityOptions"))?;
        Ok(CurrentActivityOptions::from_proto(
            response.into_inner().activity_options,
        ))
    }
}
