//! [`SerializationContext`]: whose payloads a codec or a storage driver is handling, as
//! the SDKs pass it (Python's `ActivitySerializationContext`), so that a key can be
//! chosen per workflow or per tenant.

/// Whose payloads these are. The worker fills it from the attempt's task
/// ([`ActivityInfo::serialization_context`](crate::ActivityInfo::serialization_context));
/// the client from what it starts or completes. Fields the caller does not know are `None`.
///
/// ```
/// use legwork::codec::SerializationContext;
///
/// let mut context = SerializationContext::default();
/// context.namespace = "payments".into();
/// context.workflow_id = Some("order-7".into());
/// assert_eq!(context.workflow_id.as_deref(), Some("order-7"));
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct SerializationContext {
    /// The namespace.
    pub namespace: String,
    /// The task queue of the activity.
    pub task_queue: Option<String>,
    /// The activity's type name.
    pub activity_type: Option<String>,
    /// The activity's id.
    pub activity_id: Option<String>,
    /// The run of a standalone activity.
    pub activity_run_id: Option<String>,
    /// The workflow that scheduled the activity, when one did.
    pub workflow_id: Option<String>,
    /// That workflow's type name.
    pub workflow_type: Option<String>,
    /// That workflow's run.
    pub workflow_run_id: Option<String>,
}
