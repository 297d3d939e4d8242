//! Id reuse and conflict policies, start delay, list and count, against a dev server.

use std::time::Instant;

use super::*;

fn already_started_run(result: Result<ActivityHandle, ClientError>) -> String {
    match result {
        Err(ClientError::AlreadyStarted {
            activity_id,
            run_id,
        }) => {
            assert_eq!(activity_id, "policy-dup");
            run_id
        }
        other => panic!("expected AlreadyStarted, got {other:?}"),
    }
}

#[test]
fn start_request_carries_policies_and_delay() {
    let request = StartActivity::new("greet", "q")
        .id_reuse_policy(IdReusePolicy::RejectDuplicate)
        .id_conflict_policy(IdConflictPolicy::UseExisting)
        .start_delay(Duration::from_millis(1500))
        .into_request("default", "me")
        .unwrap();
    assert_eq!(request.id_reuse_policy, 3);
    assert_eq!(request.id_conflict_policy, 2);
    let delay = request.start_delay.unwrap();
    assert_eq!((delay.seconds, delay.nanos), (1, 500_000_000));
    // Unset policies stay UNSPECIFIED, so the server's defaults apply.
    let plain = StartActivity::new("greet", "q")
        .into_request("default", "me")
        .unwrap();
    assert_eq!((plain.id_reuse_policy, plain.id_conflict_policy), (0, 0));
    assert!(plain.start_delay.is_none());
}

#[test]
fn id_policies_decide_between_a_new_run_and_already_started() {
    if skip_without_cli() {
        return;
    }
    let server = DevServer::start().unwrap();
    runtime().block_on(async {
        let client = client_of(&server).await;
        let start = |options: ActivityOptions| {
            client.start_activity_with_payloads("nobody-runs-me", options, Vec::new())
        };
        let options = || ActivityOptions::new("idle-queue").id("policy-dup");

        let first = start(options()).await.unwrap();
        let first_run = first.run_id().unwrap().to_owned();
        // Running, default conflict policy (FAIL): the typed error names the running run.
        assert_eq!(already_started_run(start(options()).await), first_run);
        // USE_EXISTING: the running activity's handle, nothing new started.
        let existing = start(options().id_conflict_policy(IdConflictPolicy::UseExisting))
            .await
            .unwrap();
        assert_eq!(existing.run_id(), Some(first_run.as_str()));

        first.cancel("make room").await.unwrap();
        assert!(
            matches!(first.outcome().await.unwrap(), ActivityOutcome::Failed(f) if f.is_canceled())
        );
        // Closed: REJECT_DUPLICATE refuses the id, ALLOW_DUPLICATE_FAILED_ONLY takes it
        // after a cancellation, and so would the default.
        let rejected = start(options().id_reuse_policy(IdReusePolicy::RejectDuplicate)).await;
        assert_eq!(already_started_run(rejected), first_run);
        let second = start(options().id_reuse_policy(IdReusePolicy::AllowDuplicateFailedOnly))
            .await
            .unwrap();
        assert_ne!(second.run_id(), Some(first_run.as_str()));
        second.cancel("done").await.unwrap();
    });
}

#[test]
fn start_delay_postpones_the_first_attempt() {
    if skip_without_cli() {
        return;
    }
    let server = DevServer::start().unwrap();
    runtime().block_on(async {
        let client = client_of(&server).await;
        let worker = FakeWorker::new(&server, "delay-queue").await;
        let delay = Duration::from_secs(2);
        let began = Instant::now();
        let handle = client
            .start_activity(StartActivity::new("later", "delay-queue").start_delay(delay))
            .await
            .unwrap();
        let task = worker.poll().await;
        let waited = began.elapsed();
        eprintln!("delayed task arrived after {waited:?}");
        assert_eq!(task.activity_id, handle.id());
        assert!(
            waited >= delay,
            "task arrived after {waited:?}, before its {delay:?} delay"
        );
        // And without a delay it is there at once (the contrast that makes the above mean
        // something on a slow machine).
        let began = Instant::now();
        client
            .start_activity(StartActivity::new("now", "delay-queue"))
            .await
            .unwrap();
        worker.poll().await;
        assert!(
            began.elapsed() < delay,
            "an undelayed task took {:?}",
            began.elapsed()
        );
    });
}

#[test]
fn list_and_count_find_activities_by_query() {
    if skip_without_cli() {
        return;
    }
    let server = DevServer::start().unwrap();
    runtime().block_on(async {
        let client = client_of(&server).await;
        let mut ids = Vec::new();
        for n in 0..3 {
            let handle = client
                .start_activity(
                    StartActivity::new("listed", "list-queue").id(format!("listed-{n}")),
                )
                .await
                .unwrap();
            ids.push(handle.id().to_owned());
        }
        client
            .start_activity(StartActivity::new("unlisted", "list-queue"))
            .await
            .unwrap();
        let query = "ActivityType = 'listed'";
        // Visibility lags the start by a moment: ask until it has caught up.
        let give_up = Instant::now() + Duration::from_secs(15);
        let count = loop {
            let count = client.count_activities(query).await.unwrap();
            if count >= 3 || Instant::now() > give_up {
                break count;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        assert_eq!(count, 3);
        let mut listed: Vec<_> = client
            .list_activities(query)
            .await
            .unwrap()
            .into_iter()
            .map(|summary| {
                assert_eq!(summary.activity_type, "listed");
                assert_eq!(summary.task_queue, "list-queue");
                assert_eq!(summary.status, ActivityStatus::Running);
                summary.activity_id
            })
            .collect();
        listed.sort();
        assert_eq!(listed, ids);

        let first = client.list_activities_page(query, 2, None).await.unwrap();
        assert_eq!(first.activities.len(), 2);
        let token = first.next_page_token.expect("a second page");
        let second = client
            .list_activities_page(query, 2, Some(token))
            .await
            .unwrap();
        assert_eq!(second.activities.len(), 1);
        assert!(
            client
                .count_activities("ActivityType = 'nothing'")
                .await
                .unwrap()
                == 0
        );
        assert!(matches!(
            client.count_activities("this is not a query").await,
            Err(ClientError::Rpc {
                operation: "CountActivityExecutions",
                ..
            })
        ));
    });
}
