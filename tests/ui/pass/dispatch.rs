// Calls activities through the registry, as the worker does.
use legwork::__private::{encode_json, Args};
use legwork::{activity, ActivityContext, ActivityError};

#[derive(serde::Serialize, serde::Deserialize)]
struct Size {
    width: u32,
}

#[activity]
fn resize(ctx: &ActivityContext, path: String, size: Size) -> Result<Size, ActivityError> {
    let _ = ctx;
    if path.is_empty() {
        return Err(ActivityError::new("empty path"));
    }
    Ok(Size {
        width: size.width / 2,
    })
}

#[activity(async)]
async fn fetch(ctx: &ActivityContext, url: String) -> Vec<u8> {
    let _ = ctx;
    url.into_bytes()
}

fn invoke(name: &str, payloads: Vec<legwork::Payload>) -> Result<legwork::Payload, ActivityError> {
    let registry = legwork::registry::Registry::linked().unwrap();
    let descriptor = registry.get(name).unwrap();
    let args = Args::new(descriptor.name(), payloads);
    let ctx = ActivityContext::new(Default::default());
    match legwork::__private::invoker(descriptor) {
        legwork::__private::Invoker::Sync(invoke)
        | legwork::__private::Invoker::Isolated { invoke, .. } => invoke(&ctx, args),
        legwork::__private::Invoker::Async(invoke) => tokio::runtime::Runtime::new()
            .unwrap()
            .block_on(invoke(ctx, args)),
    }
}

fn main() {
    let out = invoke(
        "resize",
        vec![
            encode_json("a.png").unwrap(),
            encode_json(serde_json::json!({"width": 640})).unwrap(),
        ],
    )
    .unwrap();
    assert_eq!(out.data, br#"{"width":320}"#);

    let error = invoke(
        "resize",
        vec![
            encode_json("").unwrap(),
            encode_json(serde_json::json!({"width": 1})).unwrap(),
        ],
    )
    .unwrap_err();
    assert_eq!(error.message(), "empty path");

    let error = invoke("resize", vec![encode_json("a.png").unwrap()]).unwrap_err();
    assert_eq!(
        error.message(),
        "activity `resize` takes 2 arguments (path, size) but was given 1"
    );

    let out = invoke("fetch", vec![encode_json("ab").unwrap()]).unwrap();
    assert_eq!(out.data, b"ab");

    let error = invoke("fetch", vec![encode_json(3).unwrap()]).unwrap_err();
    assert!(
        error
            .message()
            .starts_with("activity `fetch` could not decode argument 0 (`url`)"),
        "{}",
        error.message()
    );
}
