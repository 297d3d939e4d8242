//! Server outages, as a worker meets them in production: the server killed and restarted,
//! the network path silent (a black hole), connections reset. Each test starts its own dev
//! server on a SQLite file (so its state survives a restart), an in-process worker, and a
//! client that talks to the server directly and rides the outage out by retrying.
//!
//! In each, every activity must end Completed, and the worker must log one warning when the
//! outage begins and one line when it ends, not one per failed call. Each test prints how
//! long the worker took to serve again once the server or the path came back.
//!
//! The tests run one at a time (`SERIAL`): they share the process's log capture, which
//! cannot tell two workers apart, and each runs a server of its own on 2 cores.

mod common;

use std::collections::HashMap;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};
use std::thread;
use std::time::{Duration, Instant};

use legwork::client::{ActivityHandle, Client, ClientError, RunState, StartActivity};
use legwork::testing::DevServer;
use legwork::worker::{RunningWorker, Worker, WorkerOptions};
use legwork::RetryPolicy;
use legwork::{activity, ActivityContext, ActivityError, CancelReason};
use serde::de::DeserializeOwned;
use tokio::task::block_in_place;

use common::relay::Relay;
use common::task_queue;

/// One outage test at a time; see the module docs.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Each test must end well inside two minutes; every wait is bounded by this.
const BUDGET: Duration = Duration::from_secs(115);

const LOST: &str = "lost contact with the Temporal server";
const AGAIN: &str = "in contact with the Temporal server again";

// ---------------------------------------------------------------------------------------
// Activities, and what they tell the test (keyed by task queue: one per test).
// ---------------------------------------------------------------------------------------

#[derive(Default)]
struct Journal {
    /// When each attempt began.
    begun: Vec<Instant>,
    /// The attempts that began, by activity id.
    attempts: HashMap<String, Vec<u32>>,
    /// Attempts that returned.
    ended: usize,
    /// Attempts that saw a cancellation: (attempt, reason, when).
    cancelled: Vec<(u32, Option<CancelReason>, Instant)>,
    /// Set by the test: `hold` activities may return.
    released: bool,
}

static JOURNALS: Mutex<Option<HashMap<String, Journal>>> = Mutex::new(None);

fn journal<T>(queue: &str, f: impl FnOnce(&mut Journal) -> T) -> T {
    let mut journals = JOURNALS.lock().unwrap();
    f(journals
        .get_or_insert_with(HashMap::new)
        .entry(queue.to_owned())
        .or_default())
}

/// Notes that an attempt began.
fn begin(ctx: &ActivityContext) {
    let info = ctx.info();
    journal(&info.task_queue, |j| {
        j.begun.push(Instant::now());
        j.attempts
            .entry(info.activity_id.clone())
            .or_default()
            .push(info.attempt);
    });
}

/// Sleeps `millis` on a pool thread; returns its index and the attempt that ran.
#[activity]
fn nap(ctx: &ActivityContext, index: u32, millis: u64) -> (u32, u32) {
    let info = ctx.info();
    begin(ctx);
    thread::sleep(Duration::from_millis(millis));
    journal(&info.task_queue, |j| j.ended += 1);
    (index, info.attempt)
}

/// `nap` on the event loop.
#[activity(async)]
async fn nap_async(ctx: &ActivityContext, index: u32, millis: u64) -> (u32, u32) {
    let info = ctx.info();
    begin(ctx);
    tokio::time::sleep(Duration::from_millis(millis)).await;
    journal(&info.task_queue, |j| j.ended += 1);
    (index, info.attempt)
}

/// Heartbeats every 100 ms: the first attempt for `first_secs` (or until it is
/// cancelled), later ones for `later_secs`. Returns the attempt that finished.
#[activity]
fn heartbeat_steadily(
    ctx: &ActivityContext,
    first_secs: u64,
    later_secs: u64,
) -> Result<u32, ActivityError> {
    let info = ctx.info();
    begin(ctx);
    let seconds = if info.attempt == 1 {
        first_secs
    } else {
        later_secs
    };
    let until = Instant::now() + Duration::from_secs(seconds);
    let mut beat = 0u64;
    while Instant::now() < until {
        if let Err(error) = ctx.heartbeat(&beat) {
            let reason = ctx.cancel_reason();
            journal(&info.task_queue, |j| {
                j.cancelled.push((info.attempt, reason, Instant::now()))
            });
            return Err(error);
        }
        beat += 1;
        thread::sleep(Duration::from_millis(100));
    }
    journal(&info.task_queue, |j| j.ended += 1);
    Ok(info.attempt)
}

/// A value that names this process and the attempt: a retry's result, or another run's,
/// cannot pass for attempt 1's.
fn attempt_stamp(attempt: u32) -> String {
    static NONCE: OnceLock<String> = OnceLock::new();
    let nonce = NONCE.get_or_init(|| {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .subsec_nanos();
        format!("{}-{nanos}", std::process::id())
    });
    format!("{nonce}:attempt-{attempt}")
}

fn released(queue: &str) -> bool {
    journal(queue, |j| j.released)
}

/// Waits until the test releases it (at most 90 s), then returns its attempt's stamp.
#[activity]
fn hold(ctx: &ActivityContext) -> String {
    let info = ctx.info();
    begin(ctx);
    let until = Instant::now() + Duration::from_secs(90);
    while !released(&info.task_queue) && Instant::now() < until {
        thread::sleep(Duration::from_millis(10));
    }
    journal(&info.task_queue, |j| j.ended += 1);
    attempt_stamp(info.attempt)
}

/// `hold` on the event loop.
#[activity(async)]
async fn hold_async(ctx: &ActivityContext) -> String {
    let info = ctx.info();
    begin(ctx);
    let until = Instant::now() + Duration::from_secs(90);
    while !released(&info.task_queue) && Instant::now() < until {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    journal(&info.task_queue, |j| j.ended += 1);
    attempt_stamp(info.attempt)
}

// ---------------------------------------------------------------------------------------
// The worker's log lines, captured for the whole binary.
// ---------------------------------------------------------------------------------------

mod logs {
    use std::io::Write;
    use std::sync::{Mutex, OnceLock};
    use std::time::Instant;

    use tracing_subscriber::filter::Targets;
    use tracing_subscriber::layer::SubscriberExt;

    struct Captured {
        partial: Vec<u8>,
        lines: Vec<(Instant, String)>,
    }

    static CAPTURED: Mutex<Captured> = Mutex::new(Captured {
        partial: Vec::new(),
        lines: Vec::new(),
    });

    struct Writer;

    impl Write for Writer {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            let mut captured = CAPTURED.lock().unwrap();
            captured.partial.extend_from_slice(bytes);
            while let Some(end) = captured.partial.iter().position(|&b| b == b'\n') {
                let line: Vec<u8> = captured.partial.drain(..=end).collect();
                let line = String::from_utf8_lossy(&line).trim_end().to_owned();
                captured.lines.push((Instant::now(), line));
            }
            Ok(bytes.len())
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    /// Installs the capture as the global subscriber (the worker logs from its own
    /// threads), once; returns where the lines of the caller's test begin.
    pub fn mark() -> usize {
        static INSTALLED: OnceLock<()> = OnceLock::new();
        INSTALLED.get_or_init(|| {
            let subscriber = tracing_subscriber::registry()
                .with(
                    tracing_subscriber::fmt::layer()
                        .with_ansi(false)
                        .with_writer(|| Writer),
                )
                .with(Targets::new().with_target("legwork_runtime", tracing::Level::INFO));
            tracing::subscriber::set_global_default(subscriber)
                .expect("no other global subscriber in this binary");
        });
        CAPTURED.lock().unwrap().lines.len()
    }

    /// The lines written since `mark`, with when each was written.
    pub fn since(mark: usize) -> Vec<(Instant, String)> {
        CAPTURED.lock().unwrap().lines[mark..].to_vec()
    }
}

// ---------------------------------------------------------------------------------------
// One test's world: its server, a worker, a client that rides outages out.
// ---------------------------------------------------------------------------------------

/// A directory removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        let path = std::env::temp_dir().join(format!(
            "legwork-outages-{name}-{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap_or_default()
                .as_nanos()
        ));
        std::fs::create_dir_all(&path).expect("a temporary directory");
        TempDir(path)
    }

    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

struct Scene {
    began: Instant,
    queue: String,
    /// Of every activity the test starts. Longer than the outage plus the worker's
    /// backoff, so that a result computed during the outage can still be delivered; as
    /// short as that allows, since a task whose poll response is lost in the outage waits
    /// for it before the server retries.
    start_to_close: Duration,
    log_mark: usize,
    client: Client,
    server: DevServer,
    // Dropped after the server, which writes into it.
    _dir: TempDir,
}

impl Scene {
    async fn start(name: &str, start_to_close: Duration) -> Scene {
        let log_mark = logs::mark();
        let began = Instant::now();
        let dir = TempDir::new(name);
        let db = dir.path().join("temporal.db");
        let server = block_in_place(|| {
            DevServer::builder()
                .db_filename(db)
                // Writes reach the OS without an fsync each: they survive a SIGKILL of the
                // server (not a crash of the machine), and the server keeps up.
                .extra_args([
                    "--sqlite-pragma",
                    "journal_mode=wal",
                    "--sqlite-pragma",
                    "synchronous=off",
                ])
                .kill_with_parent(true)
                .start()
        })
        .expect("a dev server starts");
        let client = Client::connect(&server.address(), "default")
            .await
            .expect("the client connects");
        Scene {
            began,
            queue: task_queue(name),
            start_to_close,
            log_mark,
            client,
            server,
            _dir: dir,
        }
    }

    fn deadline(&self) -> Instant {
        self.began + BUDGET
    }

    /// A worker on this test's queue, reaching the server at `address`.
    fn worker(&self, address: &str) -> RunningWorker {
        let mut options = WorkerOptions::new(&self.queue);
        options.connection.address = address.to_owned();
        options.shutdown_grace = Duration::from_secs(2);
        block_in_place(|| Worker::new(options).start()).expect("the worker starts")
    }

    fn kill(&mut self) {
        block_in_place(|| self.server.kill());
    }

    fn restart(&mut self) {
        block_in_place(|| self.server.restart()).expect("the dev server starts again");
        eprintln!("dev server restarted in {:?}", self.server.startup_time());
    }

    /// `activity_type` on this test's queue, retried by the server up to 5 times.
    fn activity(&self, activity_type: &str) -> StartActivity {
        StartActivity::new(activity_type, &self.queue)
            .start_to_close_timeout(self.start_to_close)
            .retry_policy({
                let mut policy = RetryPolicy::default();
                policy.initial_interval = Some(Duration::from_secs(1));
                policy.maximum_attempts = Some(5);
                policy
            })
    }

    /// A `nap` or `nap_async` (alternating by index) of `millis`, and its id.
    fn nap(&self, index: u32, millis: u64) -> (String, StartActivity) {
        let activity_type = if index.is_multiple_of(2) {
            "nap"
        } else {
            "nap_async"
        };
        let start = self.activity(activity_type).arg(&index).arg(&millis);
        (format!("{}-nap-{index}", self.queue), start)
    }

    fn begun(&self) -> usize {
        journal(&self.queue, |j| j.begun.len())
    }

    fn ended(&self) -> usize {
        journal(&self.queue, |j| j.ended)
    }

    /// How long after `since` the first attempt began: the worker took a task again.
    fn first_task_after(&self, since: Instant) -> Option<Duration> {
        journal(&self.queue, |j| {
            j.begun
                .iter()
                .filter(|&&at| at >= since)
                .min()
                .map(|&at| at - since)
        })
    }

    fn log_lines(&self) -> Vec<(Instant, String)> {
        logs::since(self.log_mark)
    }
}

/// Whether a client call failed for want of a server, not because the server said no.
fn unreachable(error: &ClientError) -> bool {
    use tonic::Code;
    matches!(
        error,
        ClientError::Rpc { status, .. } if matches!(
            status.code(),
            Code::Unavailable | Code::DeadlineExceeded | Code::Unknown | Code::Cancelled
                | Code::Internal | Code::ResourceExhausted | Code::Aborted
        )
    )
}

/// Calls until the server answers: the client rides out the outage as the worker does.
async fn ride_out<T, F, Fut>(what: &str, deadline: Instant, mut call: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, ClientError>>,
{
    loop {
        match call().await {
            Ok(value) => return value,
            Err(error) if unreachable(&error) && Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
            Err(error) => panic!("{what}: {error}"),
        }
    }
}

/// Starts an activity with this id, retrying while the server is away; a start that
/// reached the server before its answer was lost counts.
/// The heartbeating activity: `beats` seconds of heartbeats under `timeout`, then a retry
/// of 2 s.
async fn start_heartbeating(
    scene: &Scene,
    timeout: Duration,
    beats: u64,
    deadline: Instant,
) -> ActivityHandle {
    let heartbeating = scene
        .activity("heartbeat_steadily")
        .heartbeat_timeout(timeout)
        .arg(&beats)
        .arg(&2u64);
    let id = format!("{}-heartbeat", scene.queue);
    start(&scene.client, (id, heartbeating), deadline).await
}

/// Naps of `base` ms plus a spread below `spread` ms, one per index.
async fn start_naps(
    scene: &Scene,
    indexes: std::ops::Range<u32>,
    (base, spread): (u64, u32),
    deadline: Instant,
) -> Vec<(u32, ActivityHandle)> {
    let mut naps = Vec::new();
    for index in indexes {
        let nap = scene.nap(index, base + u64::from(index * 97 % spread));
        naps.push((index, start(&scene.client, nap, deadline).await));
    }
    naps
}

async fn start(
    client: &Client,
    (id, start): (String, StartActivity),
    deadline: Instant,
) -> ActivityHandle {
    let start = start.id(&id);
    loop {
        let result = client.start_activity(start.clone()).await;
        match result {
            Ok(handle) => return handle,
            Err(ClientError::Rpc { status, .. }) if status.code() == tonic::Code::AlreadyExists => {
                return client.handle(id, None);
            }
            Err(error) if unreachable(&error) && Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
            Err(error) => panic!("starting an activity: {error}"),
        }
    }
}

/// The activity's result once it completed; panics if it failed.
async fn result<T: DeserializeOwned>(handle: &ActivityHandle, deadline: Instant) -> T {
    let what = format!("the result of {}", handle.id());
    tokio::time::timeout_at(
        deadline.into(),
        ride_out(&what, deadline, || handle.result::<T>()),
    )
    .await
    .unwrap_or_else(|_| panic!("{what} did not arrive in time"))
}

/// Waits for `condition`, checking every 20 ms, until `deadline`.
async fn wait_for(what: &str, deadline: Instant, mut condition: impl FnMut() -> bool) {
    while !condition() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Sleeps until `at`.
async fn sleep_until(at: Instant) {
    tokio::time::sleep_until(at.into()).await;
}

/// Every nap's result, checked against its index; prints why those retried were.
async fn nap_results(label: &str, naps: &[(u32, ActivityHandle)], deadline: Instant) -> usize {
    let mut retried = Vec::new();
    for (index, handle) in naps {
        let (returned, attempt): (u32, u32) = result(handle, deadline).await;
        assert_eq!(returned, *index, "{}", handle.id());
        if attempt > 1 {
            retried.push(handle);
        }
    }
    for handle in &retried {
        let description = ride_out("describe", deadline, || handle.describe()).await;
        let why = description.last_failure.map(|failure| {
            format!(
                "{} {:?}: {}",
                failure.kind, failure.timeout_type, failure.message
            )
        });
        let queue = description.task_queue.clone();
        let begun = journal(&queue, |j| j.attempts.get(handle.id()).cloned());
        eprintln!(
            "[{label}] {} completed on attempt {}; the attempt before: {why:?}; attempts \
             begun on the worker: {begun:?}",
            handle.id(),
            description.attempt
        );
    }
    retried.len()
}

/// The contact lines of the worker: (when, line) of each `lost` and `again`.
type Contact = (Vec<(Instant, String)>, Vec<(Instant, String)>);

fn contact_lines(scene: &Scene) -> Contact {
    let lines = scene.log_lines();
    let pick = |phrase: &str| -> Vec<(Instant, String)> {
        lines
            .iter()
            .filter(|(_, line)| line.contains(phrase))
            .cloned()
            .collect()
    };
    (pick(LOST), pick(AGAIN))
}

/// Prints the worker's warnings and contact lines, for the record.
fn print_warnings(label: &str, scene: &Scene) {
    for (_, line) in scene.log_lines() {
        if line.contains(" WARN ") || line.contains(AGAIN) {
            eprintln!("[{label}] log: {line}");
        }
    }
}

fn all_lines(scene: &Scene) -> String {
    scene
        .log_lines()
        .iter()
        .map(|(_, line)| line.as_str())
        .collect::<Vec<_>>()
        .join("\n")
}

/// Prints how long the worker took to serve again after `restored`.
fn print_recovery(outage: &str, scene: &Scene, restored: Instant) {
    let (_, again) = contact_lines(scene);
    let again_after = again
        .iter()
        .find(|(at, _)| *at >= restored)
        .map(|(at, _)| *at - restored);
    eprintln!(
        "[{outage}] after the path came back: first task taken in {:?}, `{AGAIN}` logged in {:?}",
        scene.first_task_after(restored),
        again_after
    );
}

/// Exactly one warning when the outage began and one line when it ended, in that order:
/// the warning while the server was away (`lost_in`: from the outage to the moment the
/// path began to come back), the line after that.
fn assert_one_outage_logged(scene: &Scene, lost_in: (Instant, Instant)) {
    let (lost, again) = contact_lines(scene);
    let all = all_lines(scene);
    assert_eq!(lost.len(), 1, "one `{LOST}` warning per outage:\n{all}");
    assert_eq!(again.len(), 1, "one `{AGAIN}` line per outage:\n{all}");
    let (lost_at, lost_line) = &lost[0];
    assert!(lost_line.contains(" WARN "), "a warning: {lost_line}");
    assert!(
        lost_in.0 <= *lost_at && *lost_at < lost_in.1,
        "the outage was noticed while it lasted ({:?} after it began), not after:\n{all}",
        lost_at.saturating_duration_since(lost_in.0)
    );
    assert!(
        again[0].0 >= lost_in.1,
        "contact is back only once the server is:\n{all}"
    );
}

// ---------------------------------------------------------------------------------------
// The tests.
// ---------------------------------------------------------------------------------------

/// 500 short activities, sync and async; the server is SIGKILLed mid-run and restarted on
/// the same port and database 10 s later. Every activity completes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_killed_and_restarted() {
    const COUNT: u32 = 500;
    const STARTERS: u32 = 16;
    let _serial = SERIAL.lock().await;
    let mut scene = Scene::start("killed", Duration::from_secs(30)).await;
    let deadline = scene.deadline();

    // All queued before the worker starts, and long enough (0.5-2 s) that many run when
    // the server dies, their results computed during the outage.
    let starters: Vec<_> = (0..STARTERS)
        .map(|first| {
            let client = scene.client.clone();
            let naps: Vec<_> = (first..COUNT)
                .step_by(STARTERS as usize)
                .map(|index| (index, scene.nap(index, 500 + u64::from(index * 37 % 1501))))
                .collect();
            tokio::spawn(async move {
                let mut handles = Vec::new();
                for (index, nap) in naps {
                    handles.push((index, start(&client, nap, deadline).await));
                }
                handles
            })
        })
        .collect();
    let mut handles = Vec::new();
    for starter in starters {
        handles.extend(starter.await.expect("a starter finishes"));
    }
    handles.sort_by_key(|(index, _)| *index);
    assert_eq!(handles.len(), COUNT as usize);
    eprintln!("[killed] {COUNT} queued in {:?}", scene.began.elapsed());

    let _worker = scene.worker(&scene.server.address());
    // The client waits for the results all along, riding the outage out.
    let results = tokio::spawn(async move { nap_results("killed", &handles, deadline).await });
    wait_for("a quarter of the activities to end", deadline, || {
        scene.ended() >= COUNT as usize / 4
    })
    .await;
    let killed = Instant::now();
    scene.kill();
    let (begun, ended) = (scene.begun(), scene.ended());
    eprintln!(
        "[killed] SIGKILL after {:?}: {begun} begun, {ended} ended, {} running",
        scene.began.elapsed(),
        begun - ended
    );
    sleep_until(killed + Duration::from_secs(10)).await;
    // The server may answer the worker a moment before `restart` sees it ready: contact
    // can be back from here on, not only from `restored`.
    let restarting = Instant::now();
    scene.restart();
    let restored = Instant::now();

    let retried = results.await.expect("every result arrives");
    eprintln!(
        "[killed] all {COUNT} completed {:?} after the restart ({retried} on a retry); test took {:?}",
        restored.elapsed(),
        scene.began.elapsed()
    );
    print_recovery("killed", &scene, restored);
    print_warnings("killed", &scene);
    assert_one_outage_logged(&scene, (killed, restarting));
}

/// The worker reaches the server through a relay that goes silent for 30 s, connections
/// left open, while activities run (one of them heartbeating) and more are started; then
/// the path comes back. Every activity completes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn black_hole_for_30s() {
    const BEFORE: u32 = 40;
    const DURING: u32 = 20;
    let _serial = SERIAL.lock().await;
    let scene = Scene::start("blackhole", Duration::from_secs(60)).await;
    let deadline = scene.deadline();
    let relay = Relay::start(&scene.server.address());
    let _worker = scene.worker(&relay.address());
    let client = &scene.client;

    // The first attempt heartbeats until it is cancelled; a retry runs 2 s.
    let heartbeating = start_heartbeating(&scene, Duration::from_secs(10), 90, deadline).await;
    let mut naps = start_naps(&scene, 0..BEFORE, (500, 3500), deadline).await;
    loop {
        let description = ride_out("describe", deadline, || heartbeating.describe()).await;
        if !description.last_heartbeat_details.is_empty() {
            break;
        }
        assert!(Instant::now() < deadline, "no heartbeat was recorded");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    wait_for("activities to run", deadline, || scene.begun() >= 10).await;

    relay.black_hole();
    let holed = Instant::now();
    eprintln!(
        "[black hole] begins after {:?}: {} begun, {} ended",
        scene.began.elapsed(),
        scene.begun(),
        scene.ended()
    );
    for index in BEFORE..BEFORE + DURING {
        let nap = scene.nap(index, 200 + u64::from(index * 97 % 1000));
        naps.push((index, start(client, nap, deadline).await));
    }
    sleep_until(holed + Duration::from_secs(30)).await;
    relay.restore();
    let restored = Instant::now();
    eprintln!(
        "[black hole] restored: {} begun, {} ended; relay accepted {} connections",
        scene.begun(),
        scene.ended(),
        relay.accepted()
    );

    let retried = nap_results("black hole", &naps, deadline).await;
    let attempt: u32 = result(&heartbeating, deadline).await;
    eprintln!(
        "[black hole] all {} completed {:?} after the restore ({retried} naps on a retry; the \
         heartbeating one on attempt {attempt}); test took {:?}",
        naps.len() + 1,
        restored.elapsed(),
        scene.began.elapsed()
    );
    // Its heartbeats went unanswered for longer than its heartbeat timeout: the worker
    // noticed through its own timer while the path was still silent, and gave the attempt
    // up; the server timed it out and a retry completed.
    let cancelled = journal(&scene.queue, |j| j.cancelled.clone());
    let (first, reason, at) = cancelled.first().copied().expect(
        "the first attempt of the heartbeating activity was cancelled during the black hole",
    );
    assert_eq!((first, reason), (1, Some(CancelReason::TimedOut)));
    assert!(
        holed < at && at < restored,
        "cancelled {:?} after the black hole began",
        at.saturating_duration_since(holed)
    );
    assert!(attempt > 1);
    print_recovery("black hole", &scene, restored);
    print_warnings("black hole", &scene);
    assert_one_outage_logged(&scene, (holed, restored));
}

/// Every connection between worker and server is reset (RST), three times 2 s apart,
/// while polls, heartbeats and activities are in flight. Every activity completes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_reset() {
    const RESETS: usize = 3;
    const BEFORE: u32 = 30;
    const AFTER_EACH: u32 = 10;
    let _serial = SERIAL.lock().await;
    let scene = Scene::start("reset", Duration::from_secs(10)).await;
    let deadline = scene.deadline();
    let relay = Relay::start(&scene.server.address());
    let _worker = scene.worker(&relay.address());
    let client = &scene.client;

    // Heartbeats throughout the resets (every 1.6 s at most, as its timeout says).
    let heartbeating = start_heartbeating(&scene, Duration::from_secs(2), 9, deadline).await;
    let mut naps = start_naps(&scene, 0..BEFORE, (1000, 3000), deadline).await;
    wait_for("activities to run", deadline, || scene.begun() >= 10).await;

    let mut index = BEFORE;
    let mut recoveries = Vec::new();
    for round in 1..=RESETS {
        let accepted = relay.accepted();
        relay.reset();
        let reset_at = Instant::now();
        for _ in 0..AFTER_EACH {
            let nap = scene.nap(index, 300);
            naps.push((index, start(client, nap, deadline).await));
            index += 1;
        }
        sleep_until(reset_at + Duration::from_secs(2)).await;
        assert!(
            relay.accepted() > accepted,
            "the worker connected again after reset {round}"
        );
        recoveries.push((reset_at, scene.first_task_after(reset_at)));
    }

    let retried = nap_results("reset", &naps, deadline).await;
    let attempt: u32 = result(&heartbeating, deadline).await;
    eprintln!(
        "[reset] all {} completed ({retried} naps on a retry; the heartbeating one on \
         attempt {attempt}); relay accepted {} connections; test took {:?}",
        naps.len() + 1,
        relay.accepted(),
        scene.began.elapsed()
    );
    print_warnings("reset", &scene);
    let (lost, again) = contact_lines(&scene);
    for (round, (reset_at, first_task)) in recoveries.iter().enumerate() {
        let again_after = again
            .iter()
            .find(|(at, _)| at >= reset_at)
            .map(|(at, _)| *at - *reset_at);
        eprintln!(
            "[reset {}] first task taken {first_task:?} after the reset, `{AGAIN}` in {again_after:?}",
            round + 1
        );
    }
    // A reset is over as soon as the worker has redialled, so each may be an outage of its
    // own: as many warnings as lines saying it ended, at most one per reset.
    let all = all_lines(&scene);
    assert!(
        (1..=RESETS).contains(&lost.len()),
        "one `{LOST}` warning per reset at most, and at least one:\n{all}"
    );
    assert_eq!(lost.len(), again.len(), "each outage ends:\n{all}");
    assert!(
        lost.iter().all(|(_, line)| line.contains(" WARN ")),
        "{all}"
    );
}

/// Activities that finish while the server is down for 20 s (killed, then restarted on the
/// same database) have their own result recorded, from attempt 1, although the server
/// would retry them (up to 5 attempts).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn result_computed_during_outage_is_kept() {
    const HELD: usize = 4;
    let _serial = SERIAL.lock().await;
    let mut scene = Scene::start("kept", Duration::from_secs(60)).await;
    let deadline = scene.deadline();
    let _worker = scene.worker(&scene.server.address());

    let mut handles = Vec::new();
    for index in 0..HELD {
        let activity_type = if index.is_multiple_of(2) {
            "hold"
        } else {
            "hold_async"
        };
        let id = format!("{}-held-{index}", scene.queue);
        let held = (id, scene.activity(activity_type));
        handles.push(start(&scene.client, held, deadline).await);
    }
    wait_for("every activity to begin", deadline, || {
        scene.begun() == HELD
    })
    .await;

    let killed = Instant::now();
    scene.kill();
    tokio::time::sleep(Duration::from_secs(2)).await;
    journal(&scene.queue, |j| j.released = true);
    wait_for("the activities to return", deadline, || {
        scene.ended() == HELD
    })
    .await;
    eprintln!(
        "[kept] {HELD} results computed {:?} into the outage",
        killed.elapsed()
    );
    sleep_until(killed + Duration::from_secs(20)).await;
    // The server may answer the worker a moment before `restart` sees it ready: contact
    // can be back from here on, not only from `restored`.
    let restarting = Instant::now();
    scene.restart();
    let restored = Instant::now();

    let expected = attempt_stamp(1);
    for handle in &handles {
        let recorded: String = result(handle, deadline).await;
        assert_eq!(
            recorded,
            expected,
            "{}: the result computed during the outage, not a retry's",
            handle.id()
        );
    }
    let recorded_after = restored.elapsed();
    for handle in &handles {
        let description = ride_out("describe", deadline, || handle.describe()).await;
        assert_eq!(description.attempt, 1, "{} was not retried", handle.id());
        assert_eq!(description.run_state, RunState::None);
    }
    eprintln!(
        "[kept] all {HELD} results recorded within {recorded_after:?} of the restart; test took {:?}",
        scene.began.elapsed()
    );
    print_recovery("kept", &scene, restored);
    print_warnings("kept", &scene);
    assert_one_outage_logged(&scene, (killed, restarting));
}
