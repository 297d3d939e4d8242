//! A real S3-compatible server for the external-storage tests: moto's (PyPI
//! `moto[server]`, installed by scripts/python-env.sh), on a free loopback port. It dies
//! with the test process, and is killed when dropped.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::http;

pub struct Moto {
    child: Child,
    address: SocketAddr,
}

impl Moto {
    /// Starts the server and waits until it answers.
    pub fn start() -> Moto {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .expect("a free loopback port")
            .port();
        let mut command = Command::new("python3");
        command
            .args([
                "-m",
                "moto.server",
                "-H",
                "127.0.0.1",
                "-p",
                &port.to_string(),
            ])
            .env("PYTHONPATH", super::python::python_path())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let child = super::process::spawn_killed_with_parent(command).expect("moto starts");
        let address: SocketAddr = ([127, 0, 0, 1], port).into();
        let deadline = Instant::now() + Duration::from_secs(30);
        // Polled, not slept on: the server is ready once it accepts a connection.
        while TcpStream::connect(address).is_err() {
            assert!(
                Instant::now() < deadline,
                "moto did not listen on {address} within 30 s"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Moto { child, address }
    }

    /// `http://127.0.0.1:PORT`, as drivers take it.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.address)
    }

    /// Creates `bucket` (moto keeps it in memory).
    pub fn create_bucket(&self, bucket: &str) {
        let reply = http::request(self.address, "PUT", &format!("/{bucket}"));
        assert_eq!(
            reply.status, 200,
            "creating bucket {bucket}: {}",
            reply.body
        );
    }

    /// Each object of `bucket` by key, its first 256 bytes as Latin-1 text (a serialized
    /// payload: the metadata reads as text). Read with boto3, as an operator would.
    pub fn objects(&self, bucket: &str) -> serde_json::Map<String, serde_json::Value> {
        let out = self.boto(bucket, &["list"]);
        out["objects"].as_object().expect("objects").clone()
    }

    /// Deletes one object, with boto3.
    pub fn delete(&self, bucket: &str, key: &str) {
        self.boto(bucket, &["delete", key]);
    }

    fn boto(&self, bucket: &str, command: &[&str]) -> serde_json::Value {
        let mut args = vec![self.endpoint(), bucket.to_owned()];
        args.extend(command.iter().map(|part| part.to_string()));
        super::python::run_script("s3_objects.py", &args)
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
