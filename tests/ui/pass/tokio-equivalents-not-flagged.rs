// Async equivalents of blocking calls, and look-alikes that do not block, are accepted.
use std::time::Duration;

use legwork::activity;

#[activity(async)]
async fn sleep_then_read(path: String) -> std::io::Result<Vec<u8>> {
    tokio::time::sleep(Duration::from_millis(1)).await;
    let bytes = tokio::fs::read(&path).await?;
    {
        use tokio::fs;
        fs::read(&path).await?;
    }
    {
        use tokio::time::sleep;
        sleep(Duration::from_millis(1)).await;
    }
    Ok(bytes)
}

#[activity(async)]
async fn list(dir: String) -> std::io::Result<Vec<u8>> {
    let output = tokio::process::Command::new("ls").arg(dir).output().await?;
    let status = tokio::process::Command::new("true").status().await?;
    assert!(status.success());
    Ok(output.stdout)
}

#[activity(async)]
async fn joins(names: Vec<String>) -> String {
    let handle = tokio::spawn(async { 2 });
    assert_eq!(handle.await.unwrap(), 2);
    let handle = tokio::task::spawn_blocking(|| {
        std::thread::sleep(Duration::from_millis(1));
        std::thread::spawn(|| 3).join().unwrap()
    });
    assert_eq!(handle.await.unwrap(), 3);
    let read = tokio::task::spawn_blocking(|| std::fs::read_to_string("/nonexistent/legwork"));
    assert!(read.await.unwrap().is_err());
    names.join(",")
}

fn main() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    assert_eq!(runtime.block_on(joins(vec!["a".into(), "b".into()])), "a,b");
    assert!(runtime
        .block_on(sleep_then_read("/nonexistent/legwork".into()))
        .is_err());
}
