use legwork::activity;

#[activity(async)]
async fn list(dir: String) -> std::io::Result<Vec<u8>> {
    let output = std::process::Command::new("ls").arg(dir).output()?;
    Ok(output.stdout)
}

#[activity(async)]
async fn check(dir: String) -> std::io::Result<bool> {
    use std::process::Command;
    let mut command = Command::new("test");
    command.args(["-d", &dir]);
    Ok(command.status()?.success())
}

fn main() {}
