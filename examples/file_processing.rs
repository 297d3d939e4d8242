//! A sync activity that processes a file line by line, heartbeats its progress, resumes
//! after a crash from its last heartbeat, and stops promptly when cancelled.
//!
//! ```text
//! scripts/example file_processing
//! cargo run --example file_processing -- --address 127.0.0.1:7233   # your own server
//! ```
//!
//! The activity is `count_words` below. The rest of the file is the demo, which runs it
//! through a real server: it writes a file, starts a worker process, kills it with SIGKILL
//! mid-file, starts another one, which takes the retry and continues from the last
//! heartbeat; then it cancels a second run and shows where the activity stopped.
//!
//! A deployed worker is the activity plus `legwork::main!()`; the demo's worker processes
//! embed one with `Worker::new(..).start()` instead, so that one file holds it all. The
//! demo's dev server is `legwork::testing::DevServer` (feature `testing`).

use std::error::Error;
use std::fs::File;
use std::io::{BufRead, BufReader, Seek, SeekFrom, Write};
use std::path::Path;
use std::process::Stdio;
use std::thread;
use std::time::{Duration, Instant};

use legwork::client::{ActivityHandle, ActivityOutcome, Client, StartActivity};
use legwork::testing::DevServer;
use legwork::worker::{Worker, WorkerOptions};
use legwork::RetryPolicy;
use legwork::{activity, ActivityContext, ActivityError};
use serde::{Deserialize, Serialize};
use tokio::process::{Child, Command};

const TASK_QUEUE: &str = "file-processing";

/// Where the activity is in the file: what it heartbeats, and what a retry resumes from.
#[derive(Debug, Default, Serialize, Deserialize)]
struct Progress {
    /// Lines done so far.
    line: u64,
    /// Where the next line starts, to seek to.
    offset: u64,
    /// Words in the lines done so far.
    words: u64,
}

/// What `count_words` returns.
#[derive(Debug, Serialize, Deserialize)]
struct Counted {
    lines: u64,
    words: u64,
    /// The attempt that finished, and the line it began at (0 unless it resumed).
    attempt: u32,
    resumed_at_line: u64,
}

/// Counts the words of a file, a line at a time.
///
/// Each line's progress is heartbeated: cheap, since the worker sends the latest details
/// only every 0.8 × heartbeat timeout. A retry after a crash starts from the last details
/// the server received, and `heartbeat(..)?` returns the cancellation once the activity
/// is cancelled, which ends the activity Canceled.
#[activity]
fn count_words(ctx: &ActivityContext, path: String) -> Result<Counted, ActivityError> {
    let mut progress: Progress = ctx.last_heartbeat()?.unwrap_or_default();
    let resumed_at_line = progress.line;
    if resumed_at_line > 0 {
        tracing::info!(%path, line = progress.line, "resuming from the last heartbeat");
    }
    let mut file = File::open(&path)
        .map_err(|error| ActivityError::new(format!("cannot open {path}: {error}")))?;
    file.seek(SeekFrom::Start(progress.offset))
        .map_err(|error| ActivityError::new(format!("cannot seek in {path}: {error}")))?;
    let mut reader = BufReader::new(file);
    let mut line = String::new();
    loop {
        line.clear();
        let read = reader
            .read_line(&mut line)
            .map_err(|error| ActivityError::new(format!("cannot read {path}: {error}")))?;
        if read == 0 {
            break;
        }
        progress.words += line.split_whitespace().count() as u64;
        progress.line += 1;
        progress.offset += read as u64;
        // Stands for the real work on a line: parsing, a lookup, a transformation.
        thread::sleep(Duration::from_millis(1));
        if let Err(cancelled) = ctx.heartbeat(&progress) {
            tracing::info!(%path, line = progress.line, "cancelled; stopping");
            return Err(cancelled);
        }
    }
    Ok(Counted {
        lines: progress.line,
        words: progress.words,
        attempt: ctx.info().attempt,
        resumed_at_line,
    })
}

fn main() -> Result<(), Box<dyn Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.as_slice() {
        // The demo runs this same binary as its worker processes.
        [role, address] if role == "--worker" => run_worker(address),
        [flag, address] if flag == "--address" => demo(address),
        [] => {
            let server = DevServer::builder().kill_with_parent(true).start()?;
            println!("dev server at {}", server.address());
            demo(&server.address())
        }
        _ => Err("usage: file_processing [--address HOST:PORT]".into()),
    }
}

/// A worker process: serves `count_words` until its stdin closes, then shuts down
/// gracefully (the demo kills the first one instead).
fn run_worker(address: &str) -> Result<(), Box<dyn Error>> {
    init_logs();
    let mut options = WorkerOptions::new(TASK_QUEUE);
    options.connection.address = address.to_owned();
    let worker = Worker::new(options).start()?;
    std::io::copy(&mut std::io::stdin(), &mut std::io::sink())?;
    worker.shutdown();
    worker.join();
    Ok(())
}

/// Starts this binary as a worker process. Its stdin is a pipe: dropping the `Child`
/// closes it, which shuts the worker down.
fn spawn_worker(address: &str) -> Result<Child, Box<dyn Error>> {
    let child = Command::new(std::env::current_exe()?)
        .args(["--worker", address])
        .stdin(Stdio::piped())
        .spawn()?;
    println!("worker process {} started", child.id().unwrap_or_default());
    Ok(child)
}

fn demo(address: &str) -> Result<(), Box<dyn Error>> {
    let dir = std::env::temp_dir().join(format!("legwork-file-processing-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let input = dir.join("input.txt");
    let (lines, words) = write_input(&input, 3000)?;
    println!("input: {} ({lines} lines, {words} words)", input.display());

    let mut quick_retries = RetryPolicy::default();
    quick_retries.initial_interval = Some(Duration::from_millis(200));
    let count_words = StartActivity::new("count_words", TASK_QUEUE)
        .arg(&input)
        .start_to_close_timeout(Duration::from_secs(60))
        // A killed worker is noticed 1 s after its last heartbeat.
        .heartbeat_timeout(Duration::from_secs(1))
        .retry_policy(quick_retries);
    tokio::runtime::Runtime::new()?.block_on(async {
        let client = Client::connect(address, "default").await?;
        let mut worker =
            crash_and_resume(&client, count_words.clone(), address, (lines, words)).await?;
        cancel_midway(&client, count_words, lines).await?;
        // Closing its stdin shuts the worker down gracefully.
        drop(worker.stdin.take());
        worker.wait().await?;
        std::fs::remove_dir_all(&dir)?;
        Ok(())
    })
}

/// Kills the worker mid-file; the retry, on a new worker, resumes from the last heartbeat.
/// The new worker, still running.
async fn crash_and_resume(
    client: &Client,
    count_words: StartActivity,
    address: &str,
    (lines, words): (u64, u64),
) -> Result<Child, Box<dyn Error>> {
    let mut first = spawn_worker(address)?;
    let handle = client.start_activity(count_words).await?;
    let seen = heartbeat_past(&handle, lines / 4).await?;
    first.kill().await?;
    println!(
        "worker process killed (SIGKILL) after the server saw line {}",
        seen.line
    );

    let second = spawn_worker(address)?;
    let counted: Counted = handle.result().await?;
    println!(
        "count_words finished on attempt {}, resumed at line {}: {} lines, {} words",
        counted.attempt, counted.resumed_at_line, counted.lines, counted.words
    );
    if counted.attempt < 2 || counted.resumed_at_line == 0 || counted.words != words {
        return Err(format!("expected a resumed attempt that counts {words} words").into());
    }
    Ok(second)
}

/// Cancels a run mid-file: the activity sees it at its next heartbeat and stops there.
async fn cancel_midway(
    client: &Client,
    count_words: StartActivity,
    lines: u64,
) -> Result<(), Box<dyn Error>> {
    let handle = client.start_activity(count_words).await?;
    heartbeat_past(&handle, 1).await?;
    let requested = Instant::now();
    handle.cancel("the demo cancels it").await?;
    let outcome = handle.outcome().await?;
    let elapsed = requested.elapsed();
    // A Canceled activity's details are its last heartbeat's: where it stopped.
    let stopped_at: Progress = match handle.describe().await?.last_heartbeat_details.first() {
        Some(details) => serde_json::from_slice(&details.data)?,
        None => Progress::default(),
    };
    match outcome {
        ActivityOutcome::Failed(failure) if failure.is_canceled() => println!(
            "count_words canceled {:.1} s after the request; it stopped at line {} of {lines}",
            elapsed.as_secs_f64(),
            stopped_at.line
        ),
        other => return Err(format!("expected Canceled, got {other:?}").into()),
    }
    Ok(())
}

/// Waits until the server holds a heartbeat past `line`; the progress it holds.
async fn heartbeat_past(handle: &ActivityHandle, line: u64) -> Result<Progress, Box<dyn Error>> {
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        let description = handle.describe().await?;
        if let Some(details) = description.last_heartbeat_details.first() {
            let progress: Progress = serde_json::from_slice(&details.data)?;
            if progress.line >= line {
                return Ok(progress);
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Err(format!("no heartbeat past line {line} in 30 s").into())
}

/// Writes `lines` lines of made-up text; the lines and words it wrote.
fn write_input(path: &Path, lines: u64) -> std::io::Result<(u64, u64)> {
    const WORDS: [&str; 8] = [
        "lorem", "ipsum", "dolor", "sit", "amet", "legwork", "temporal", "rust",
    ];
    let mut file = std::io::BufWriter::new(File::create(path)?);
    let mut words = 0;
    for n in 0..lines {
        let count = 3 + n % 9;
        let text: Vec<&str> = (0..count).map(|i| WORDS[((n + i) % 8) as usize]).collect();
        writeln!(file, "{}", text.join(" "))?;
        words += count;
    }
    file.flush()?;
    Ok((lines, words))
}

/// Log lines (the worker's, the activity's) to stderr, so stdout holds the demo's report.
fn init_logs() {
    use std::io::IsTerminal;
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_target(false)
        .init();
}
