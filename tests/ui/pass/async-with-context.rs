use legwork::{activity, ActivityContext, ActivityError};

#[activity(async)]
async fn fetch(ctx: &ActivityContext, url: String) -> Result<Vec<u8>, ActivityError> {
    let _ = ctx.info();
    Ok(url.into_bytes())
}

fn main() {}
