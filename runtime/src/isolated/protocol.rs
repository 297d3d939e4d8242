//! What the worker and an isolated child say to each other over their socket pair.
//!
//! Each frame is a little-endian `u32` length and a protobuf message (prost, already in
//! the tree for Temporal's own messages, so payloads cross without a second encoding).
//! The worker sends `Run`, `Cancel` and `Shutdown`; the child answers `Hello` once, then
//! per attempt any number of `Heartbeat` and `Log` frames and exactly one `Outcome`.

use std::io::{self, Read, Write};
use std::time::Duration;

use prost::Message;

use crate::attempt::CancelReason;
use crate::error::ActivityError;
use crate::proto::service::PollActivityTaskQueueResponse;
use crate::proto::Payloads;

/// Set in a child's environment to the file descriptor of its end of the socket pair.
pub(crate) const CHILD_ENV: &str = "LEGWORK_ISOLATED_CHILD";
/// The descriptor the child's end is moved to before `exec`.
pub(crate) const CHILD_FD: i32 = 3;
/// The exit code of an executable started as a child that did not call
/// `legwork::isolated::init()` before starting a worker of its own.
pub(crate) const EXIT_NOT_A_CHILD: i32 = 86;
/// Payloads are at most 2 MiB on the server; this only bounds what a broken peer can make
/// the other side allocate.
const MAX_FRAME: usize = 64 << 20;

/// From the worker to a child.
#[derive(Clone, PartialEq, Message)]
pub(crate) struct ToChild {
    #[prost(oneof = "to_child::Kind", tags = "1, 2, 3")]
    pub(crate) kind: Option<to_child::Kind>,
}

pub(crate) mod to_child {
    /// One frame's meaning.
    #[derive(Clone, PartialEq, prost::Oneof)]
    pub(crate) enum Kind {
        #[prost(message, boxed, tag = "1")]
        Run(Box<super::Run>),
        /// A [`CancelReason`](crate::CancelReason) as [`super::reason_code`] numbers it.
        #[prost(int32, tag = "2")]
        Cancel(i32),
        /// The worker began to shut down.
        #[prost(bool, tag = "3")]
        Shutdown(bool),
    }
}

/// One attempt for a child to run.
#[derive(Clone, PartialEq, Message)]
pub(crate) struct Run {
    /// The registered name of the function (not the task's type: a dynamic activity serves
    /// many).
    #[prost(string, tag = "1")]
    pub(crate) function: String,
    /// The task as polled, without its input and header: the child rebuilds the same
    /// `ActivityInfo` from it.
    #[prost(message, optional, tag = "2")]
    pub(crate) task: Option<PollActivityTaskQueueResponse>,
    #[prost(string, tag = "3")]
    pub(crate) namespace: String,
    #[prost(string, tag = "4")]
    pub(crate) task_queue: String,
    /// The arguments, already through the worker's codecs.
    #[prost(message, repeated, tag = "5")]
    pub(crate) args: Vec<crate::proto::WirePayload>,
    /// The data-segment cap in bytes, 0 for none.
    #[prost(uint64, tag = "6")]
    pub(crate) memory_limit: u64,
    /// The worker had already begun to shut down.
    #[prost(bool, tag = "7")]
    pub(crate) worker_shutdown: bool,
}

/// From a child to the worker.
#[derive(Clone, PartialEq, Message)]
pub(crate) struct FromChild {
    #[prost(oneof = "from_child::Kind", tags = "1, 2, 3, 4")]
    pub(crate) kind: Option<from_child::Kind>,
}

pub(crate) mod from_child {
    /// One frame's meaning.
    #[derive(Clone, PartialEq, prost::Oneof)]
    pub(crate) enum Kind {
        /// The child is ready; its process id.
        #[prost(uint32, tag = "1")]
        Hello(u32),
        #[prost(message, tag = "2")]
        Heartbeat(crate::proto::WirePayload),
        #[prost(message, tag = "3")]
        Log(super::Log),
        #[prost(message, tag = "4")]
        Outcome(super::Outcome),
    }
}

/// A `tracing` event of the activity, formatted in the child.
#[derive(Clone, PartialEq, Message)]
pub(crate) struct Log {
    /// 1 (error) to 5 (trace).
    #[prost(int32, tag = "1")]
    pub(crate) level: i32,
    #[prost(string, tag = "2")]
    pub(crate) target: String,
    /// The message and the event's other fields.
    #[prost(string, tag = "3")]
    pub(crate) message: String,
}

/// How the attempt ended in the child: a result, or an [`ActivityError`] field by field.
#[derive(Clone, PartialEq, Message)]
pub(crate) struct Outcome {
    #[prost(message, optional, tag = "1")]
    pub(crate) result: Option<crate::proto::WirePayload>,
    #[prost(string, tag = "2")]
    pub(crate) message: String,
    #[prost(string, tag = "3")]
    pub(crate) error_type: String,
    #[prost(bool, tag = "4")]
    pub(crate) non_retryable: bool,
    #[prost(uint64, optional, tag = "5")]
    pub(crate) next_retry_delay_ms: Option<u64>,
    #[prost(message, optional, tag = "6")]
    pub(crate) details: Option<Payloads>,
    #[prost(bool, tag = "7")]
    pub(crate) benign: bool,
    #[prost(int32, optional, tag = "8")]
    pub(crate) cancelled: Option<i32>,
    #[prost(bool, tag = "9")]
    pub(crate) complete_async: bool,
}

impl Outcome {
    pub(crate) fn of(outcome: crate::invoke::Outcome) -> Self {
        match outcome {
            Ok(payload) => Outcome {
                result: Some(payload.into_wire()),
                ..Default::default()
            },
            Err(error) => {
                let parts = error.parts();
                Outcome {
                    result: None,
                    message: parts.message,
                    error_type: parts.error_type,
                    non_retryable: parts.non_retryable,
                    next_retry_delay_ms: parts.next_retry_delay.map(|d| d.as_millis() as u64),
                    details: parts.details,
                    benign: parts.benign,
                    cancelled: parts.cancelled.map(reason_code),
                    complete_async: parts.complete_async,
                }
            }
        }
    }

    pub(crate) fn into_outcome(self) -> crate::invoke::Outcome {
        if let Some(payload) = self.result {
            return Ok(crate::payload::Payload::from_wire(payload));
        }
        Err(ActivityError::from_parts(crate::error::ErrorParts {
            message: self.message,
            error_type: self.error_type,
            non_retryable: self.non_retryable,
            next_retry_delay: self.next_retry_delay_ms.map(Duration::from_millis),
            details: self.details,
            benign: self.benign,
            cancelled: self.cancelled.and_then(reason_of),
            complete_async: self.complete_async,
        }))
    }
}

/// The task `info` was read from (`ActivityInfo::from_task`), less its input and header:
/// how the attempt's facts cross to the child, which reads them back the same way.
pub(crate) fn task_of(info: &crate::context::ActivityInfo) -> PollActivityTaskQueueResponse {
    use crate::proto::ActivityType;
    use crate::retry_policy::RetryPolicy;
    use temporalio_protos::protos::temporal::api::common::v1::{WorkflowExecution, WorkflowType};
    let time = |t: Option<std::time::SystemTime>| t.map(prost_wkt_types::Timestamp::from);
    let duration =
        |d: Option<Duration>| d.and_then(|d| prost_wkt_types::Duration::try_from(d).ok());
    let policy = info.retry_policy.as_ref().map(RetryPolicy::to_proto);
    PollActivityTaskQueueResponse {
        task_token: info.task_token.clone(),
        workflow_namespace: info.namespace.clone(),
        workflow_type: info.workflow_type.clone().map(|name| WorkflowType { name }),
        workflow_execution: info
            .workflow_id
            .clone()
            .map(|workflow_id| WorkflowExecution {
                workflow_id,
                run_id: info.workflow_run_id.clone().unwrap_or_default(),
            }),
        activity_type: Some(ActivityType {
            name: info.activity_type.clone(),
        }),
        activity_id: info.activity_id.clone(),
        activity_run_id: info.activity_run_id.clone().unwrap_or_default(),
        scheduled_time: time(info.scheduled_time),
        started_time: time(info.started_time),
        attempt: info.attempt.min(i32::MAX as u32) as i32,
        schedule_to_close_timeout: duration(info.schedule_to_close_timeout),
        start_to_close_timeout: duration(info.start_to_close_timeout),
        heartbeat_timeout: duration(info.heartbeat_timeout),
        retry_policy: policy,
        heartbeat_details: (!info.heartbeat_details.is_empty()).then(|| Payloads {
            payloads: crate::payload::to_wire(info.heartbeat_details.clone()),
        }),
        priority: (!info.priority.is_unset()).then(|| info.priority.to_proto()),
        ..Default::default()
    }
}

/// Numbers for the reasons that cross the socket; unknown numbers are dropped.
pub(crate) fn reason_code(reason: CancelReason) -> i32 {
    match reason {
        CancelReason::CancelRequested => 1,
        CancelReason::Paused => 2,
        CancelReason::Reset => 3,
        CancelReason::TimedOut => 4,
        CancelReason::NotFound => 5,
        CancelReason::WorkerShutdown => 6,
    }
}

pub(crate) fn reason_of(code: i32) -> Option<CancelReason> {
    Some(match code {
        1 => CancelReason::CancelRequested,
        2 => CancelReason::Paused,
        3 => CancelReason::Reset,
        4 => CancelReason::TimedOut,
        5 => CancelReason::NotFound,
        6 => CancelReason::WorkerShutdown,
        _ => return None,
    })
}

/// The frame of `message`: its length, then its bytes.
pub(crate) fn frame(message: &impl Message) -> Vec<u8> {
    let len = message.encoded_len();
    let mut bytes = Vec::with_capacity(4 + len);
    bytes.extend_from_slice(&(len as u32).to_le_bytes());
    message
        .encode(&mut bytes)
        .expect("a Vec grows to hold the message");
    bytes
}

/// Writes one frame (blocking; the child's side).
pub(crate) fn write_frame(out: &mut impl Write, message: &impl Message) -> io::Result<()> {
    out.write_all(&frame(message))
}

/// Reads one frame (blocking; the child's side); `None` at a clean end of the stream.
pub(crate) fn read_frame<M: Message + Default>(input: &mut impl Read) -> io::Result<Option<M>> {
    let mut len = [0u8; 4];
    match input.read_exact(&mut len) {
        Ok(()) => {}
        Err(error) if error.kind() == io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(error) => return Err(error),
    }
    let mut body = vec![0u8; checked_len(len)?];
    input.read_exact(&mut body)?;
    decode(&body).map(Some)
}

/// Reads one frame from an async stream (the worker's side); `None` at the end.
pub(crate) async fn read_frame_async<M: Message + Default>(
    input: &mut (impl tokio::io::AsyncRead + Unpin),
) -> io::Result<Option<M>> {
    use tokio::io::AsyncReadExt;
    let mut len = [0u8; 4];
    match input.read_exact(&mut len).await {
        Ok(_) => {}
        Err(error) if error.kind() == io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(error) => return Err(error),
    }
    let mut body = vec![0u8; checked_len(len)?];
    input.read_exact(&mut body).await?;
    decode(&body).map(Some)
}

fn checked_len(len: [u8; 4]) -> io::Result<usize> {
    let len = u32::from_le_bytes(len) as usize;
    if len > MAX_FRAME {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("a frame of {len} bytes, over the {MAX_FRAME}-byte limit"),
        ));
    }
    Ok(len)
}

fn decode<M: Message + Default>(body: &[u8]) -> io::Result<M> {
    M::decode(body).map_err(|error| io::Error::new(io::ErrorKind::InvalidData, error))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_round_trip_and_end_cleanly() {
        let message = ToChild {
            kind: Some(to_child::Kind::Cancel(reason_code(CancelReason::TimedOut))),
        };
        let mut bytes = frame(&message);
        bytes.extend(frame(&ToChild {
            kind: Some(to_child::Kind::Shutdown(true)),
        }));
        let mut input = bytes.as_slice();
        assert_eq!(read_frame::<ToChild>(&mut input).unwrap(), Some(message));
        assert!(read_frame::<ToChild>(&mut input).unwrap().is_some());
        assert_eq!(read_frame::<ToChild>(&mut input).unwrap(), None);
    }

    #[test]
    fn an_oversized_length_is_refused_before_allocating() {
        let mut input: &[u8] = &[0xff, 0xff, 0xff, 0xff, 1, 2];
        let error = read_frame::<ToChild>(&mut input).unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::InvalidData);
    }

    #[test]
    fn the_child_reads_the_same_info() {
        use crate::context::ActivityInfo;
        use crate::retry_policy::RetryPolicy;
        use std::time::UNIX_EPOCH;
        let at = |secs| UNIX_EPOCH + Duration::from_secs(secs);
        let mut info = ActivityInfo {
            activity_id: "a-1".into(),
            activity_type: "resize".into(),
            attempt: 3,
            task_queue: "images".into(),
            namespace: "ns".into(),
            task_token: vec![1, 2, 3],
            workflow_id: Some("wf".into()),
            workflow_run_id: Some("run".into()),
            workflow_type: Some("Flow".into()),
            activity_run_id: None,
            scheduled_time: Some(at(1_000)),
            started_time: Some(at(1_010)),
            schedule_to_close_timeout: Some(Duration::from_secs(600)),
            start_to_close_timeout: Some(Duration::from_secs(30)),
            heartbeat_timeout: Some(Duration::from_millis(2500)),
            deadline: None,
            retry_policy: Some(RetryPolicy {
                initial_interval: Some(Duration::from_secs(1)),
                backoff_coefficient: Some(2.0),
                maximum_interval: None,
                maximum_attempts: Some(5),
                non_retryable_error_types: vec!["Bad".into()],
            }),
            heartbeat_details: vec![crate::payload::encode_json(7).unwrap()],
            priority: crate::priority::Priority {
                priority_key: Some(2),
                fairness_key: Some("tenant-a".into()),
                fairness_weight: Some(1.5),
            },
        };
        info.deadline = Some(at(1_040));
        let back = ActivityInfo::from_task(&task_of(&info), "other", "images");
        assert_eq!(back, info);
    }

    #[test]
    fn errors_cross_with_every_field() {
        let error = ActivityError::cancelled(CancelReason::CancelRequested)
            .non_retryable()
            .with_next_retry_delay(Duration::from_millis(1500))
            .with_details(&"why");
        let back = Outcome::of(Err(error.clone())).into_outcome().unwrap_err();
        assert!(back == error, "{back:?} != {error:?}");
        assert_eq!(back.cancel_reason(), Some(CancelReason::CancelRequested));
        for code in 1..=6 {
            assert_eq!(reason_of(code).map(reason_code), Some(code));
        }
        assert_eq!(reason_of(99), None);
    }
}
