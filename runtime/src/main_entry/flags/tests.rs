use super::*;

fn flags(args: &[&str]) -> Flags {
    Flags::try_parse_from(std::iter::once("worker").chain(args.iter().copied())).unwrap()
}

#[test]
fn flags_beat_the_environment_and_file() {
    let mut connection = ConnectionOptions::new("file:7233");
    connection.namespace = "from-file".into();
    connection.tls = TlsMode::On;
    connection.headers = vec![("x-team".into(), "a".into())];
    flags(&[
        "--address=flag:7233",
        "--tls=false",
        "--grpc-meta",
        "X-Team=b",
        "--grpc-meta=x-other=c",
    ])
    .apply(&mut connection)
    .unwrap();
    assert_eq!(connection.address, "flag:7233");
    assert_eq!(connection.namespace, "from-file");
    assert_eq!(connection.tls, TlsMode::Off);
    assert_eq!(
        connection.headers,
        vec![
            ("x-team".into(), "b".into()),
            ("x-other".into(), "c".into())
        ]
    );
}

#[test]
fn bare_tls_flag_means_on() {
    let mut connection = ConnectionOptions::default();
    flags(&["--tls"]).apply(&mut connection).unwrap();
    assert_eq!(connection.tls, TlsMode::On);
}

#[test]
fn a_certificate_flag_needs_its_key_from_somewhere() {
    let mut connection = ConnectionOptions::default();
    let error = flags(&["--tls-cert-path", "c.pem"])
        .apply(&mut connection)
        .unwrap_err();
    assert!(error.to_string().contains("--tls-key-path"), "{error}");

    connection.client_certificate = Some(ClientCertificate {
        cert: Pem::path("env.pem"),
        key: Pem::path("env.key"),
    });
    flags(&["--tls-cert-path", "c.pem"])
        .apply(&mut connection)
        .unwrap();
    let certificate = connection.client_certificate.unwrap();
    assert_eq!(certificate.cert, Pem::path("c.pem"));
    assert_eq!(certificate.key, Pem::path("env.key"));
}

#[test]
fn fleet_flags() {
    let mut options = WorkerOptions::new("q");
    flags(&[]).apply_fleet(&mut options);
    assert_eq!(options.pollers, Pollers::Auto);
    assert_eq!(options.deployment, Deployment::default());
    assert_eq!(options.max_task_queue_activities_per_second, None);

    flags(&[
        "--pollers=2..50",
        "--max-activities-per-second=20",
        "--max-task-queue-activities-per-second",
        "100",
        "--deployment-name=images",
        "--build-id=b7",
        "--health-bind=127.0.0.1:8080",
    ])
    .apply_fleet(&mut options);
    assert_eq!(options.pollers, Pollers::autoscaling(2, 5, 50));
    assert_eq!(options.max_activities_per_second, Some(20.0));
    assert_eq!(options.max_task_queue_activities_per_second, Some(100.0));
    assert_eq!(options.deployment, Deployment::versioned("images", "b7"));
    assert_eq!(options.health_bind, Some("127.0.0.1:8080".parse().unwrap()));

    flags(&["--pollers", "3", "--build-id=b8"]).apply_fleet(&mut options);
    assert_eq!(options.pollers, Pollers::Fixed(3));
    assert_eq!(options.deployment, Deployment::unversioned("b8"));
    flags(&[
        "--pollers=8..20",
        "--deployment-name=d",
        "--versioning-mode=unversioned",
    ])
    .apply_fleet(&mut options);
    assert_eq!(options.pollers, Pollers::autoscaling(8, 8, 20));
    assert_eq!(options.deployment.mode, VersioningMode::Unversioned);
    assert!(Flags::try_parse_from(["w", "--pollers=many"]).is_err());
}

#[test]
fn durations_take_units_and_the_api_key_never_prints() {
    let parsed = flags(&[
        "--shutdown-grace",
        "30s",
        "--stall-threshold=250ms",
        "--api-key",
        "very-secret",
    ]);
    assert_eq!(parsed.shutdown_grace, Duration::from_secs(30));
    assert_eq!(parsed.stall_threshold(), Duration::from_millis(250));
    assert!(!format!("{parsed:?}").contains("very-secret"));
    assert_eq!(
        flags(&["--stall-threshold-ms", "40"]).stall_threshold(),
        Duration::from_millis(40)
    );
    assert_eq!(
        flags(&["--shutdown-grace", "2.5"]).shutdown_grace,
        Duration::from_millis(2500)
    );
}

#[test]
fn external_storage_flags() {
    let mut options = WorkerOptions::new("q");
    flags(&[]).apply_storage(&mut options);
    assert!(options.external_storage.is_none());

    let dir = flags(&[
        "--external-storage-dir",
        "/mnt/payloads",
        "--external-storage-threshold=1KiB",
    ]);
    dir.apply_storage(&mut options);
    let storage = options.external_storage.as_ref().expect("storage is set");
    assert_eq!(storage.threshold_bytes(), 1024);
    assert_eq!(
        storage.drivers().collect::<Vec<_>>(),
        [("legwork.filesystem", "legwork.filesystem")]
    );

    let s3 = flags(&["--external-storage-s3-bucket", "payloads"]);
    s3.apply_storage(&mut options);
    let storage = options.external_storage.as_ref().unwrap();
    assert_eq!(storage.threshold_bytes(), 256 * 1024);
    assert_eq!(
        storage.drivers().next(),
        Some(("aws.s3driver", "aws.s3driver"))
    );

    let both = [
        "w",
        "--external-storage-dir=/a",
        "--external-storage-s3-bucket=b",
    ];
    assert!(Flags::try_parse_from(both).is_err());
    assert!(Flags::try_parse_from(["w", "--external-storage-threshold=lots"]).is_err());
}
