//! What to start, and how the server retries it.

use temporalio_protos::protos::google::rpc::Status as GrpcStatus;
use temporalio_protos::protos::temporal::api::errordetails::v1::ActivityExecutionAlreadyStartedFailure;

use super::*;

/// What to start: built with [`StartActivity::new`] and passed to [`Client::start_activity`].
///
/// An activity type, its arguments, and [`ActivityOptions`]; the options' setters forward
/// from here (one list, `forward_to_options!`) so a start reads as one chain.
#[derive(Debug, Clone)]
pub struct StartActivity {
    activity_type: String,
    options: ActivityOptions,
    // An argument that failed to encode is reported by `start_activity`, so the builder
    // stays chainable.
    args: Vec<Result<Payload, String>>,
}

impl StartActivity {
    /// An activity of `activity_type` on `task_queue`, with a random (UUID v4) id, no
    /// arguments and a 60 s start-to-close timeout.
    pub fn new(activity_type: impl Into<String>, task_queue: impl Into<String>) -> Self {
        Self::with_options(activity_type, ActivityOptions::new(task_queue))
    }

    /// An activity of `activity_type` started with `options`, no arguments yet.
    pub fn with_options(activity_type: impl Into<String>, options: ActivityOptions) -> Self {
        Self {
            activity_type: activity_type.into(),
            options,
            args: Vec::new(),
        }
    }

    fn map(mut self, f: impl FnOnce(ActivityOptions) -> ActivityOptions) -> Self {
        self.options = f(self.options);
        self
    }

    /// Appends an argument, encoded as JSON (`binary/null` for `()` and `None`).
    pub fn arg<T: Serialize + ?Sized>(mut self, value: &T) -> Self {
        self.args
            .push(encode_json(value).map_err(|error| error.to_string()));
        self
    }

    /// Appends an argument already encoded, e.g. `binary/plain` bytes.
    pub fn arg_payload(mut self, payload: Payload) -> Self {
        self.args.push(Ok(payload));
        self
    }

    /// The type, options and encoded arguments, or the first argument that did not encode.
    pub(super) fn into_parts(self) -> Result<(String, ActivityOptions, Vec<Payload>), ClientError> {
        let payloads = self
            .args
            .into_iter()
            .map(|arg| {
                arg.map_err(|message| ClientError::Encode(serde::ser::Error::custom(message)))
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok((self.activity_type, self.options, payloads))
    }

    #[cfg(test)]
    pub(super) fn into_request(
        self,
        namespace: &str,
        identity: &str,
    ) -> Result<service::StartActivityExecutionRequest, ClientError> {
        let (activity_type, options, payloads) = self.into_parts()?;
        Ok(options.into_request(namespace, identity, activity_type, payloads))
    }
}

/// `StartActivity`'s option setters, each the [`ActivityOptions`] setter of the same name:
/// written once here, so that the two lists cannot drift apart.
macro_rules! forward_to_options {
    ($($setter:ident($value:ident: $ty:ty): $what:literal;)*) => {
        impl StartActivity {
            $(
                #[doc = concat!($what, " (as [`ActivityOptions::", stringify!($setter), "`]).")]
                pub fn $setter(self, $value: $ty) -> Self {
                    self.map(|options| options.$setter($value))
                }
            )*
        }
    };
}

forward_to_options! {
    id(id: impl Into<String>): "The activity id, unique among the namespace's running activities";
    start_to_close_timeout(timeout: Duration): "Limit of one attempt, from a worker picking it up to its answer";
    schedule_to_close_timeout(timeout: Duration): "Limit of the whole activity, all attempts and queueing included";
    schedule_to_start_timeout(timeout: Duration): "Limit of the time a task waits in the queue for a worker";
    heartbeat_timeout(timeout: Duration): "Maximum time between two heartbeats of a running attempt";
    retry_policy(policy: RetryPolicy): "Replaces the retry policy";
    max_attempts(attempts: u32): "Sets the retry policy's total attempts (1 = no retry)";
    id_reuse_policy(policy: IdReusePolicy): "Whether the id of a closed activity may be reused";
    id_conflict_policy(policy: IdConflictPolicy): "What to do when an activity with this id is running";
    start_delay(delay: Duration): "Queue the first attempt only after `delay`";
    priority(priority: Priority): "The priority key, fairness key and weight its tasks are dispatched by";
}

impl Client {
    /// Queues an activity; a worker polling `task_queue` will run it.
    pub async fn start_activity(
        &self,
        options: StartActivity,
    ) -> Result<ActivityHandle, ClientError> {
        let (activity_type, options, payloads) = options.into_parts()?;
        self.start_activity_with_payloads(&activity_type, options, payloads)
            .await
    }

    /// Queues an activity of `activity_type` with arguments already encoded; the client's
    /// codecs are applied to them before they leave.
    ///
    /// An id in use, under the policies in `options`, is [`ClientError::AlreadyStarted`];
    /// with [`IdConflictPolicy::UseExisting`] the handle is the running activity's.
    ///
    /// ```no_run
    /// use legwork_runtime::client::{ActivityOptions, Client};
    /// use legwork_runtime::Payload;
    ///
    /// # async fn run(client: Client) -> Result<(), Box<dyn std::error::Error>> {
    /// let raw = Payload::new(
    ///     [("encoding".to_owned(), b"binary/plain".to_vec())].into(),
    ///     b"raw bytes".to_vec(),
    /// );
    /// let handle = client
    ///     .start_activity_with_payloads("checksum", ActivityOptions::new("files"), vec![raw])
    ///     .await?;
    /// let result: Option<Payload> = handle.result_payload().await?;
    /// # Ok(())
    /// # }
    /// ```
    pub async fn start_activity_with_payloads(
        &self,
        activity_type: &str,
        options: ActivityOptions,
        args: Vec<Payload>,
    ) -> Result<ActivityHandle, ClientError> {
        let activity_id = options.activity_id.clone();
        let mut context = self.payload_context(&activity_id);
        context.activity_type = Some(activity_type.to_owned());
        context.task_queue = Some(options.task_queue.clone());
        let args = self.encode_payloads(&context, args).await?;
        let request = options.into_request(
            &self.namespace,
            &self.identity,
            activity_type.to_owned(),
            args,
        );
        let response = self
            .service()
            .start_activity_execution(with_deadline(request, UNARY_DEADLINE))
            .await
            .map_err(|status| start_error(&activity_id, status))?
            .into_inner();
        Ok(self.handle(activity_id, Some(response.run_id)))
    }
}

/// `ALREADY_EXISTS` with an `ActivityExecutionAlreadyStartedFailure` in its details is the
/// typed [`ClientError::AlreadyStarted`]; anything else stays an RPC error.
fn start_error(activity_id: &str, status: tonic::Status) -> ClientError {
    if status.code() == Code::AlreadyExists {
        if let Some(failure) = already_started_detail(status.details()) {
            return ClientError::AlreadyStarted {
                activity_id: activity_id.to_owned(),
                run_id: failure.run_id,
            };
        }
    }
    rpc_error("StartActivityExecution")(status)
}

fn already_started_detail(details: &[u8]) -> Option<ActivityExecutionAlreadyStartedFailure> {
    use prost::{Message, Name};
    let status = GrpcStatus::decode(details).ok()?;
    status
        .details
        .iter()
        .find(|any| {
            any.type_url
                .ends_with(ActivityExecutionAlreadyStartedFailure::NAME)
        })
        .and_then(|any| ActivityExecutionAlreadyStartedFailure::decode(any.value.as_slice()).ok())
}
