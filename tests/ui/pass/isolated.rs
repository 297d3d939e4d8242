use legwork::registry::{ActivityKind, Registry};
use legwork::{activity, ActivityContext, ActivityError};

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
    assert_eq!(
        registry.get("render_isolated").unwrap().kind(),
        ActivityKind::Isolated {
            memory_limit: Some(512 << 20)
        }
    );
    assert_eq!(registry.get("plain").unwrap().kind().as_str(), "isolated");
}
