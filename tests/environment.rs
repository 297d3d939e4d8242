//! `ActivityEnvironment`: activities run in-process, without a server.

use std::thread;
use std::time::{Duration, Instant};

use legwork::testing::{payload, ActivityEnvironment};
use legwork::{activity, ActivityContext, ActivityError, CancelReason};

#[activity]
fn count_to(ctx: &ActivityContext, to: u32) -> Result<u32, ActivityError> {
    let from = ctx.last_heartbeat::<u32>()?.map_or(0, |last| last + 1);
    for i in from..to {
        ctx.heartbeat(&i)?;
    }
    Ok(to - from)
}

/// Heartbeats until cancelled, then says why.
#[activity]
fn until_cancelled(ctx: &ActivityContext) -> Result<String, ActivityError> {
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        ctx.heartbeat(&"alive")?;
        thread::sleep(Duration::from_millis(5));
    }
    Ok("never cancelled".to_owned())
}

#[activity(async)]
async fn async_until_cancelled(ctx: &ActivityContext) -> Result<String, ActivityError> {
    tokio::select! {
        reason = ctx.cancelled() => Ok(format!("saw {reason}")),
        _ = tokio::time::sleep(Duration::from_secs(10)) => Ok("never cancelled".to_owned()),
    }
}

#[activity]
fn shutdown_watcher(ctx: &ActivityContext) -> bool {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !ctx.is_worker_shutdown() && Instant::now() < deadline {
        thread::sleep(Duration::from_millis(5));
    }
    ctx.is_worker_shutdown()
}

#[test]
fn heartbeats_are_captured_in_order() {
    let env = ActivityEnvironment::new();
    assert_eq!(env.run_as::<u32>("count_to", vec![payload(&4)]).unwrap(), 4);
    assert_eq!(env.heartbeats::<u32>(), [0, 1, 2, 3]);
}

#[test]
fn last_heartbeat_resumes_a_later_attempt() {
    let env = ActivityEnvironment::new().with_last_heartbeat(&6);
    assert_eq!(
        env.run_as::<u32>("count_to", vec![payload(&10)]).unwrap(),
        3
    );
    assert_eq!(env.heartbeats::<u32>(), [7, 8, 9]);
}

#[test]
fn cancelling_a_sync_activity_ends_it_with_the_reason() {
    let env = ActivityEnvironment::new();
    let canceller = env.clone();
    let cancel = thread::spawn(move || {
        thread::sleep(Duration::from_millis(50));
        canceller.cancel(CancelReason::Paused);
    });
    let error = env.run("until_cancelled", vec![]).unwrap_err();
    cancel.join().unwrap();
    assert_eq!(error.cancel_reason(), Some(CancelReason::Paused));
    assert!(!env.heartbeats::<String>().is_empty());
}

#[test]
fn cancelling_an_async_activity_lets_it_see_why() {
    let env = ActivityEnvironment::new();
    let canceller = env.clone();
    thread::spawn(move || {
        thread::sleep(Duration::from_millis(50));
        canceller.cancel(CancelReason::CancelRequested);
    });
    let result = env
        .run_as::<String>("async_until_cancelled", vec![])
        .unwrap();
    assert_eq!(result, "saw cancel requested");
}

#[test]
fn worker_shutdown_is_visible_to_the_activity() {
    let env = ActivityEnvironment::new();
    let shutter = env.clone();
    thread::spawn(move || {
        thread::sleep(Duration::from_millis(50));
        shutter.shutdown();
    });
    assert!(env.run_as::<bool>("shutdown_watcher", vec![]).unwrap());
}

#[test]
fn an_unknown_name_lists_the_known_ones() {
    let env = ActivityEnvironment::new();
    let error = env.run("no_such_activity", vec![]).unwrap_err();
    assert!(error.message().contains("count_to"), "{}", error.message());
}
