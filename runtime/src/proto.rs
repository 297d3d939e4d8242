//! The Temporal API types legwork speaks, under short names.
//!
//! Every other module imports protocol types from here, so a move in
//! `temporalio-protos` touches one file.

pub use temporalio_protos::protos::temporal::api::activity::v1::ActivityOptions as WireActivityOptions;
pub use temporalio_protos::protos::temporal::api::common::v1::{
    ActivityType, Header, Payload as WirePayload, Payloads, Priority as WirePriority, RetryPolicy,
    WorkflowExecution,
};
pub use temporalio_protos::protos::temporal::api::deployment::v1::WorkerDeploymentOptions;
pub use temporalio_protos::protos::temporal::api::enums::v1::WorkerVersioningMode;
pub use temporalio_protos::protos::temporal::api::enums::v1::{
    ActivityTaskFailedCause, ApplicationErrorCategory, TaskQueueKind, TaskQueueType, WorkerStatus,
};
pub use temporalio_protos::protos::temporal::api::failure::v1::{
    failure::FailureInfo, ApplicationFailureInfo, Failure, NexusHandlerFailureInfo,
};
pub use temporalio_protos::protos::temporal::api::namespace::v1::namespace_info::Capabilities;
pub use temporalio_protos::protos::temporal::api::nexus::v1 as nexus;
pub use temporalio_protos::protos::temporal::api::nexusservices::workerservice::v1::{
    ExecuteCommandsRequest, ExecuteCommandsResponse,
};
pub use temporalio_protos::protos::temporal::api::taskqueue::v1::{TaskQueue, TaskQueueMetadata};
pub use temporalio_protos::protos::temporal::api::worker::v1::{
    worker_command, worker_command_result, CancelActivityResult, StorageDriverInfo,
    WorkerCommandResult, WorkerHeartbeat, WorkerHostInfo, WorkerPollerInfo, WorkerSlotsInfo,
};
/// Only the server sends these; the tests build them.
#[cfg(test)]
pub use temporalio_protos::protos::temporal::api::worker::v1::{
    CancelActivityCommand, WorkerCommand,
};
pub use temporalio_protos::protos::temporal::api::workflowservice::v1 as service;
pub use temporalio_protos::protos::temporal::api::workflowservice::v1::workflow_service_client::WorkflowServiceClient;
