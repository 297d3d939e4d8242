use super::constants::NAMESPACE;
use super::server::check_health;
use super::*;
use crate::connection::connect_plain;

#[test]
fn command_line_is_loopback_with_one_partition() {
    let args = DevServer::builder()
        .db_filename("x.db")
        .extra_args(["--ui-port", "7002"])
        .command_line(7000, Some(7001))
        .join(" ");
    assert!(args.starts_with("server start-dev --headless --ip 127.0.0.1 --port 7000"));
    assert!(args.contains("--log-level warn"));
    assert!(args.contains("--dynamic-config-value matching.numTaskqueueReadPartitions=1"));
    assert!(args.contains("--metrics-port 7001 --db-filename x.db --ui-port 7002"));
}

/// A standalone activity no worker runs: whether the server still knows it says
/// whether its state survived.
async fn start_activity(address: &str, id: &str) {
    let client = crate::client::Client::connect(address, NAMESPACE)
        .await
        .unwrap();
    client
        .start_activity(
            crate::client::StartActivity::new("nobody_runs_this", "dev-server-test").id(id),
        )
        .await
        .unwrap();
}

async fn still_known(address: &str, id: &str) -> bool {
    let client = crate::client::Client::connect(address, NAMESPACE)
        .await
        .unwrap();
    match client.handle(id, None).describe().await {
        Ok(description) => description.activity_id == id,
        Err(crate::client::ClientError::Rpc { status, .. })
            if status.code() == tonic::Code::NotFound =>
        {
            false
        }
        Err(error) => panic!("describe failed: {error}"),
    }
}

#[test]
fn killed_then_restarted_on_the_same_port_and_file_keeps_its_state() {
    if skip_without_cli() {
        return;
    }
    let dir = std::env::temp_dir().join(format!("legwork-dev-server-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let db = dir.join("temporal.db");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();

    let mut server = DevServer::builder()
        .db_filename(&db)
        .metrics(true)
        .start()
        .unwrap();
    let (address, metrics_url) = (server.address(), server.metrics_url());
    runtime.block_on(start_activity(&address, "kept"));

    server.kill();
    assert!(
        std::net::TcpStream::connect(&address).is_err(),
        "port still open after kill"
    );
    server.restart().unwrap();
    eprintln!("restarted in {:?}", server.startup_time());
    assert_eq!(server.address(), address);
    assert_eq!(server.metrics_url(), metrics_url);
    assert!(
        runtime.block_on(still_known(&address, "kept")),
        "state lost in the restart"
    );

    // A second server on the same port and file takes over from a killed one.
    server.kill();
    let port = address.rsplit(':').next().unwrap().parse().unwrap();
    let second = DevServer::builder()
        .port(port)
        .db_filename(&db)
        .start()
        .unwrap();
    assert_eq!(second.address(), address);
    assert!(runtime.block_on(still_known(&address, "kept")));
    assert!(!runtime.block_on(still_known(&address, "never-started")));
    drop((server, second));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn starts_serves_and_stops() {
    if skip_without_cli() {
        return;
    }
    let server = DevServer::builder().metrics(true).start().unwrap();
    let address = server.address();
    eprintln!("dev server started in {:?}", server.startup_time());
    assert!(address.starts_with("127.0.0.1:"));
    assert_eq!(server.namespace(), "default");
    assert!(server.metrics_url().unwrap().ends_with("/metrics"));

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(check_health(&address)).unwrap();
    let info = runtime.block_on(async {
        let mut client = connect_plain(&address).await.unwrap();
        client
            .get_system_info(crate::proto::service::GetSystemInfoRequest {})
            .await
            .unwrap()
            .into_inner()
    });
    assert!(!info.server_version.is_empty());

    let log_path = server.log_path().to_owned();
    drop(server);
    assert!(
        std::net::TcpStream::connect(&address).is_err(),
        "port still open after drop"
    );
    assert!(!log_path.exists());
}
