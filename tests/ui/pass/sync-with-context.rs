use legwork::{activity, ActivityContext, ActivityError};

#[activity]
fn resize(ctx: &ActivityContext, path: String, width: u32) -> Result<String, ActivityError> {
    let _ = ctx.info();
    Ok(format!("{path}@{width}"))
}

fn main() {
    let ctx = ActivityContext::new(Default::default());
    assert_eq!(resize(&ctx, "a.png".into(), 640).unwrap(), "a.png@640");
}
