// An async dynamic activity, in a module and without a context, runs on the event loop.
mod fallback {
    use legwork::{activity, DynamicCall};

    #[activity(dynamic, async)]
    pub async fn any_other(call: DynamicCall) -> Vec<u8> {
        call.activity_type().as_bytes().to_vec()
    }
}

fn main() {
    let registry = legwork::registry::Registry::linked().unwrap();
    assert!(registry.is_empty());
    let dynamic = registry.resolve("whatever").unwrap();
    assert!(
        dynamic.function().ends_with("fallback::any_other"),
        "{}",
        dynamic.function()
    );
    assert_eq!(dynamic.kind().as_str(), "async");
    let listed: Vec<_> = registry.iter().map(|d| d.name()).collect();
    assert_eq!(listed, ["*"]);
    // Still an ordinary function.
    let call = legwork::DynamicCall::new("ping", Vec::new());
    let bytes = futures_lite_block_on(fallback::any_other(call));
    assert_eq!(bytes, b"ping");
}

fn futures_lite_block_on<F: std::future::Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
        .block_on(future)
}
