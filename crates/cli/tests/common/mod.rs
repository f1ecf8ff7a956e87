//! Helpers the process tests share.

use std::net::SocketAddr;
use std::process::{Child, Command, ExitStatus};
use std::time::{Duration, Instant};

/// A loopback address nothing listens on right now.
pub fn free_port() -> SocketAddr {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
}

/// Sends `signal` (e.g. `-TERM`, `-INT`) and waits up to `within` for the process to exit.
pub fn signal_and_wait(child: &mut Child, signal: &str, within: Duration) -> ExitStatus {
    let pid = child.id().to_string();
    assert!(Command::new("kill")
        .args([signal, &pid])
        .status()
        .unwrap()
        .success());
    let until = Instant::now() + within;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        assert!(
            Instant::now() < until,
            "no exit within {within:?} of {signal}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}
