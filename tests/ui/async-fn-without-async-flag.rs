use legwork::{activity, ActivityError};

#[activity]
async fn fetch(url: String) -> Result<Vec<u8>, ActivityError> {
    Ok(url.into_bytes())
}

fn main() {}
