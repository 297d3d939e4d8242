//! Dynamic activities on a real dev server: a Python workflow (temporalio) calls activity
//! types no legwork function registers, and the worker's `#[activity(dynamic)]` serves
//! them, seeing the type and the arguments as Python sent them; a registered type still
//! goes to its own function. (Without a dynamic activity an unknown type is a
//! `NotFoundError`: tests/worker.rs.)
//!
//! Python comes from `LEGWORK_PYTHONPATH` (scripts/python-env.sh, which scripts/test
//! sources); when it is unset the test runs that script itself.

mod common;

use legwork::testing::{payload, ActivityEnvironment};
use legwork::{activity, ActivityContext, ActivityError, DynamicCall};
use serde_json::{json, Value as Json};

use common::{server, start_worker, task_queue, worker_options};

#[activity]
fn greet(name: String) -> String {
    format!("Hello, {name}!")
}

/// Echoes what it was called with, so the workflow's result shows what arrived; the
/// type `typed` decodes its arguments as a typed activity would.
#[activity(dynamic)]
fn anything_else(ctx: &ActivityContext, call: DynamicCall) -> Result<Json, ActivityError> {
    assert_eq!(ctx.info().activity_type, call.activity_type());
    if call.activity_type() == "typed" {
        let (word, times): (String, u32) = call.args()?;
        return Ok(json!(word.repeat(times as usize)));
    }
    let args = (0..call.len())
        .map(|index| call.decode::<Json>(index))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(json!({ "activity_type": call.activity_type(), "args": args }))
}

/// `ActivityEnvironment` resolves a name as the worker does: registered, else dynamic.
#[test]
fn the_test_environment_falls_back_to_the_dynamic_activity() {
    let env = ActivityEnvironment::new();
    let echoed: Json = env
        .run_as("never_registered", vec![payload(&"x")])
        .expect("the dynamic activity serves it");
    assert_eq!(
        echoed,
        json!({ "activity_type": "never_registered", "args": ["x"] })
    );
    let typed: String = env
        .run_as("typed", vec![payload(&"ab"), payload(&3u32)])
        .unwrap();
    assert_eq!(typed, "ababab");
    let greeting: String = env.run_as("greet", vec![payload(&"Ada")]).unwrap();
    assert_eq!(greeting, "Hello, Ada!", "a registered name still wins");
}

#[test]
fn a_python_workflow_calls_types_only_the_dynamic_activity_serves() {
    let activity_queue = task_queue("dynamic-interop");
    let _worker = start_worker(worker_options(&activity_queue));

    let calls = json!([
        ["shout", ["hey", 3]],
        ["tally", [[1, 2, 3], { "a": null, "b": "Zoë" }]],
        ["nothing", []],
        ["greet", ["Ada"]],
        ["typed", ["ab", 2]],
        ["typed", ["ab", "twice"]],
    ]);
    let args = [
        server().address(),
        task_queue("dynamic-interop-wf"),
        activity_queue,
        calls.to_string(),
    ];
    let output = common::python::run_script("dynamic_workflow.py", &args);
    let results = output["results"].as_array().expect("results").clone();
    assert_eq!(results.len(), 6, "{output}");
    assert_eq!(
        results[0],
        json!({ "activity_type": "shout", "args": ["hey", 3] })
    );
    assert_eq!(
        results[1],
        json!({ "activity_type": "tally", "args": [[1, 2, 3], { "a": null, "b": "Zoë" }] })
    );
    assert_eq!(
        results[2],
        json!({ "activity_type": "nothing", "args": [] })
    );
    // A registered type never reaches the dynamic activity.
    assert_eq!(results[3], json!("Hello, Ada!"));
    assert_eq!(results[4], json!("abab"));
    // A bad argument fails the attempt with the type and the argument named.
    let failed = results[5].as_str().expect("a failure message");
    assert!(
        failed.starts_with(
            "failed: PayloadDecodeError: activity `typed` could not decode argument 1: \
             invalid type: string \"twice\""
        ),
        "{failed}"
    );
}
