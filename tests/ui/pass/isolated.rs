use legwork::{activity, ActivityContext, ActivityError, Invoker, Registry};

#[activity(isolated)]
fn plain(width: u32) -> u32 {
    width * 2
}

#[activity(isolated, memory_limit = "512MiB", name = "render_isolated")]
fn render(ctx: &ActivityContext, path: String) -> Result<String, ActivityError> {
    ctx.heartbeat(&0)?;
    Ok(path)
}

fn main() {
    let registry = Registry::linked().unwrap();
    let Invoker::Isolated { memory_limit, .. } = registry.get("render_isolated").unwrap().invoker
    else {
        panic!("an isolated invoker");
    };
    assert_eq!(memory_limit, Some(512 << 20));
    assert_eq!(registry.get("plain").unwrap().invoker.kind(), "isolated");
}
