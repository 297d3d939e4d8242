use legwork::activity;

#[activity(async)]
async fn ping(address: String) -> std::io::Result<()> {
    std::net::TcpStream::connect(address)?;
    Ok(())
}

#[activity(async)]
async fn listen(address: String) -> std::io::Result<()> {
    use std::net::{TcpListener, UdpSocket};
    TcpListener::bind(&address)?;
    UdpSocket::bind(&address)?;
    Ok(())
}

fn main() {}
