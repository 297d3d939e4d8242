//! Worker processes built with `legwork::main!()` (the examples), run as a user runs them,
//! and the `temporal` CLI as a client we did not write.

use std::io::{self, BufRead, BufReader, Read};
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{mpsc, Mutex, OnceLock};
use std::thread;
use std::time::{Duration, Instant};

/// Plain `cargo test` builds the examples next to the test binaries' `deps/` folder.
pub fn example(name: &str) -> PathBuf {
    let deps = std::env::current_exe()
        .unwrap()
        .parent()
        .unwrap()
        .to_owned();
    let path = deps.parent().unwrap().join("examples").join(name);
    assert!(
        path.exists(),
        "{} is missing: `cargo test` builds it (`cargo build --examples` does too)",
        path.display()
    );
    path
}

/// A worker process whose log lines arrive on a channel.
pub struct WorkerProcess {
    child: Child,
    log: mpsc::Receiver<String>,
}

impl WorkerProcess {
    pub fn spawn(args: &[&str]) -> Self {
        Self::spawn_with(args, &[])
    }

    /// The `hello` example with `args` and extra environment variables, and none of the
    /// test process's own `TEMPORAL_*` connection variables (only `TEMPORAL_CLI` stays).
    pub fn spawn_with(args: &[&str], env: &[(&str, &str)]) -> Self {
        Self::spawn_example("hello", args, env)
    }

    /// Any example built with `legwork::main!()`, as [`WorkerProcess::spawn_with`] runs `hello`.
    pub fn spawn_example(name: &str, args: &[&str], env: &[(&str, &str)]) -> Self {
        let mut command = Command::new(example(name));
        for (name, _) in std::env::vars() {
            if name.starts_with("TEMPORAL_") && name != "TEMPORAL_CLI" {
                command.env_remove(name);
            }
        }
        let mut child = command
            .args(args)
            .env("RUST_LOG", "info")
            .env("NO_COLOR", "1")
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|error| panic!("the {name} example starts: {error}"));
        let stdout = forward_lines(child.stdout.take().unwrap());
        let stderr = forward_lines(child.stderr.take().unwrap());
        // One stream, stdout and stderr together: tests read everything the worker writes.
        let (sender, log) = mpsc::channel();
        for stream in [stdout, stderr] {
            let sender = sender.clone();
            thread::spawn(move || {
                for line in stream {
                    if sender.send(line).is_err() {
                        break;
                    }
                }
            });
        }
        WorkerProcess { child, log }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Waits up to `limit` for the process to exit by itself; its status, how long it
    /// took, and every line it wrote.
    pub fn wait_for_exit(mut self, limit: Duration) -> (ExitStatus, Duration, Vec<String>) {
        let began = Instant::now();
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            assert!(
                began.elapsed() < limit,
                "the worker was still running after {limit:?}; it wrote:\n{}",
                self.drain_log().join("\n")
            );
            thread::sleep(Duration::from_millis(20));
        };
        let elapsed = began.elapsed();
        thread::sleep(Duration::from_millis(100));
        (status, elapsed, self.drain_log())
    }

    /// The lines written so far and not yet read.
    pub fn drain_log(&self) -> Vec<String> {
        self.log.try_iter().collect()
    }

    /// Waits for a log line containing `needle` and returns it.
    pub fn wait_for_log(&self, needle: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(30);
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            match self.log.recv_timeout(left) {
                Ok(line) if line.contains(needle) => return line,
                Ok(_) => {}
                Err(_) => break,
            }
        }
        panic!("the worker never logged {needle:?}");
    }

    /// SIGKILL, as the OOM killer or `kill -9` ends a worker; waits for it.
    pub fn kill(&mut self) -> ExitStatus {
        self.child.kill().unwrap();
        self.child.wait().unwrap()
    }

    pub fn terminate(&mut self) -> ExitStatus {
        let pid = self.child.id().to_string();
        Command::new("kill").args(["-TERM", &pid]).status().unwrap();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "the worker did not exit after SIGTERM"
            );
            thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for WorkerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn forward_lines(stream: impl Read + Send + 'static) -> mpsc::Receiver<String> {
    let (sender, receiver) = mpsc::channel();
    thread::spawn(move || {
        for line in BufReader::new(stream).lines().map_while(Result::ok) {
            if sender.send(line).is_err() {
                break;
            }
        }
    });
    receiver
}

/// `temporal activity execute` of `activity` with one `--input` per argument; its output.
pub fn execute(address: &str, queue: &str, activity: &str, id: &str, inputs: &[&str]) -> String {
    let cli = std::env::var("TEMPORAL_CLI").unwrap_or_else(|_| "temporal".to_owned());
    let mut command = Command::new(cli);
    command.args([
        "activity",
        "execute",
        "--address",
        address,
        "--type",
        activity,
    ]);
    command.args([
        "--task-queue",
        queue,
        "--activity-id",
        id,
        "--start-to-close-timeout",
        "30s",
    ]);
    for input in inputs {
        command.args(["--input", input]);
    }
    let output = command.output().expect("the temporal CLI runs");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "temporal activity execute {activity} failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

/// Spawns `command` so that it gets SIGKILL when the test process dies. Linux sends the
/// parent-death signal when the spawning *thread* exits, and test threads end with their
/// test, so every spawn happens on one thread that lives as long as the process.
pub fn spawn_killed_with_parent(mut command: Command) -> io::Result<Child> {
    use std::os::unix::process::CommandExt;

    type Job = (Command, mpsc::Sender<io::Result<Child>>);
    static SPAWNER: OnceLock<Mutex<mpsc::Sender<Job>>> = OnceLock::new();

    // SAFETY: prctl is async-signal-safe and touches no memory of the parent.
    unsafe {
        command.pre_exec(|| {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) == -1 {
                return Err(io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let spawner = SPAWNER.get_or_init(|| {
        let (jobs, receiver) = mpsc::channel::<Job>();
        thread::Builder::new()
            .name("test-child-spawner".to_owned())
            .spawn(move || {
                for (mut command, reply) in receiver {
                    let _ = reply.send(command.spawn());
                }
            })
            .expect("the spawner thread starts");
        Mutex::new(jobs)
    });
    let (reply, answer) = mpsc::channel();
    spawner
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .send((command, reply))
        .expect("the spawner thread runs");
    answer.recv().expect("the spawner thread answers")
}
