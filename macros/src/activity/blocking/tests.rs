use super::*;
use syn::parse_quote;

/// The flagged names, in order.
fn flagged(body: Block) -> Vec<String> {
    find(&body)
        .into_iter()
        .map(|error| {
            let message = error.to_string();
            let name = message.split('`').nth(1).unwrap().to_owned();
            assert_eq!(
                message,
                format!("`{name}` blocks the event loop thread; {FIX}")
            );
            name
        })
        .collect()
}

#[test]
fn thread_sleep_written_or_imported() {
    let body: Block = parse_quote!({
        std::thread::sleep(d);
        ::std::thread::sleep(d);
        thread::sleep(d);
        {
            use std::thread::sleep;
            sleep(d);
        }
        {
            use std::thread::sleep as nap;
            nap(d);
        }
        std::thread::park();
    });
    assert_eq!(
        flagged(body),
        [
            "std::thread::sleep",
            "std::thread::sleep",
            "std::thread::sleep",
            "std::thread::sleep",
            "std::thread::sleep",
            "std::thread::park",
        ]
    );
}

#[test]
fn bare_sleep_may_be_tokio() {
    let body: Block = parse_quote!({
        sleep(d).await;
        let nap = sleep(d);
        nap.await;
        tokio::time::sleep(d).await;
        {
            use tokio::time::sleep;
            sleep(d);
        }
    });
    assert_eq!(flagged(body), Vec::<String>::new());
}

#[test]
fn use_applies_to_its_block_only() {
    let body: Block = parse_quote!({
        {
            use std::thread::sleep;
        }
        sleep(d);
    });
    assert_eq!(flagged(body), Vec::<String>::new());
}

#[test]
fn std_fs_only_when_it_is_std() {
    let body: Block = parse_quote!({
        std::fs::read_to_string(p)?;
        std::fs::File::open(p)?;
        fs::read(p);
        File::open(p);
        tokio::fs::read(p).await?;
        {
            use std::fs;
            fs::write(p, b)?;
        }
        {
            use std::fs::{self as sfs, File};
            sfs::remove_file(p)?;
            File::create(p)?;
        }
        {
            use std::fs::*;
            create_dir_all(p)?;
            frobnicate(p);
        }
        {
            use tokio::fs;
            fs::read(p).await?;
            let later = fs::read(p);
        }
        std::fs::OpenOptions::new().read(true).open(p)?;
        std::fs::Permissions::from(m);
    });
    assert_eq!(
        flagged(body),
        [
            "std::fs::read_to_string",
            "std::fs::File::open",
            "std::fs::write",
            "std::fs::remove_file",
            "std::fs::File::create",
            "std::fs::create_dir_all",
            "std::fs::OpenOptions::open",
        ]
    );
}

#[test]
fn std_net_connect_and_bind() {
    let body: Block = parse_quote!({
        std::net::TcpStream::connect(a)?;
        std::net::TcpListener::bind(a)?;
        std::net::UdpSocket::bind(a)?;
        TcpStream::connect(a).await?;
        net::TcpListener::bind(a);
        tokio::net::TcpStream::connect(a).await?;
        stream.read_to_end(&mut buffer)?;
    });
    assert_eq!(
        flagged(body),
        [
            "std::net::TcpStream::connect",
            "std::net::TcpListener::bind",
            "std::net::UdpSocket::bind",
        ]
    );
}

#[test]
fn command_output_and_status() {
    let body: Block = parse_quote!({
        std::process::Command::new("ls").arg("-l").output()?;
        std::process::Command::new("true").status()?;
        let mut cmd = std::process::Command::new("ls");
        cmd.arg("-l");
        cmd.output()?;
        tokio::process::Command::new("ls").output().await?;
        Command::new("ls").output();
        std::process::Command::new("ls").spawn()?;
        {
            use std::process::Command;
            Command::new("ls").status()?;
        }
        let cmd = tokio::process::Command::new("ls");
        cmd.output();
    });
    assert_eq!(
        flagged(body),
        [
            "std::process::Command::output",
            "std::process::Command::status",
            "std::process::Command::output",
            "std::process::Command::status",
        ]
    );
}

#[test]
fn reqwest_blocking_anything() {
    let body: Block = parse_quote!({
        reqwest::blocking::get(url)?;
        reqwest::blocking::Client::new();
        reqwest::get(url).await?;
        {
            use reqwest::blocking;
            blocking::get(url)?;
        }
    });
    assert_eq!(
        flagged(body),
        [
            "reqwest::blocking::get",
            "reqwest::blocking::Client::new",
            "reqwest::blocking::get",
        ]
    );
}

#[test]
fn join_of_a_std_thread_handle() {
    let body: Block = parse_quote!({
        std::thread::spawn(f).join().unwrap();
        let handle = thread::spawn(f);
        handle.join().unwrap();
        let handle: JoinHandle<()> = std::thread::spawn(f);
        handle.join();
    });
    assert_eq!(
        flagged(body),
        [
            "std::thread::JoinHandle::join",
            "std::thread::JoinHandle::join",
            "std::thread::JoinHandle::join",
        ]
    );
}

#[test]
fn other_joins_are_not_flagged() {
    let body: Block = parse_quote!({
        names.join(",");
        let handle = tokio::spawn(f);
        handle.await?;
        let handle = thread::spawn(f);
        let handle = tokio::task::spawn(f);
        handle.join();
        futures.join().await;
        let handle = thread::spawn(f);
        handle.join().await;
        {
            let other = thread::spawn(f);
        }
        other.join();
    });
    assert_eq!(flagged(body), Vec::<String>::new());
}

#[test]
fn closures_that_run_elsewhere_are_not_searched() {
    let body: Block = parse_quote!({
        tokio::task::spawn_blocking(move || std::thread::sleep(d)).await?;
        legwork::run_blocking(|| std::fs::read(p)).await?;
        run_blocking(|| std::fs::read(p));
        tokio::task::block_in_place(|| std::fs::read(p));
        handle.spawn_blocking(|| std::fs::read(p));
        std::thread::spawn(|| std::thread::sleep(d));
        thread::Builder::new()
            .name(n)
            .spawn(|| std::thread::sleep(d))?;
        fn helper() {
            std::thread::sleep(d);
        }
        impl Foo {
            fn bar() {
                std::fs::read(p);
            }
        }
    });
    assert_eq!(flagged(body), Vec::<String>::new());
}

#[test]
fn ordinary_closures_async_blocks_and_macros_are_searched() {
    let body: Block = parse_quote!({
        paths.iter().map(|p| std::fs::read(p));
        tokio::spawn(async move { std::thread::sleep(d) });
        println!("{}", std::fs::read_to_string(p)?);
        std::thread::scope(|s| {
            s.spawn(|| std::thread::sleep(d));
        });
    });
    assert_eq!(
        flagged(body),
        [
            "std::fs::read",
            "std::thread::sleep",
            "std::fs::read_to_string",
            "std::thread::scope",
        ]
    );
}

#[test]
fn stdin_reads() {
    let body: Block = parse_quote!({
        std::io::stdin().read_line(&mut line)?;
        std::io::stdin().lock().read_to_string(&mut text)?;
        io::stdin().read_line(&mut line);
    });
    assert_eq!(
        flagged(body),
        [
            "std::io::Stdin::read_line",
            "std::io::Stdin::read_to_string"
        ]
    );
}
