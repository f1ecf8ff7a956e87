//! Loopback ports for nodes started side by side on one machine (the devnet, tests).
//!
//! Asking the OS for port 0 and closing the socket again is racy: the port comes from the
//! ephemeral range, which is also where every *outgoing* connection on the machine takes its
//! local port, so by the time the node binds it an RPC client or a peer connection may hold
//! it (`Address already in use`). The ports handed out here come from below the ephemeral
//! ranges in use (Linux 32768–60999, macOS and Windows 49152–65535), are checked free when
//! handed out, and are never handed out twice by one process. Another process can still
//! take one before it is bound; that needs a listener of its own on the same port, which the
//! random choice among ~12 000 ports makes unlikely, where the OS's port-0 choice collided
//! with routine outgoing traffic.

use rand_core::RngCore;
use std::collections::HashSet;
use std::net::{Ipv4Addr, TcpListener};
use std::sync::Mutex;

/// First and one-past-last port handed out.
const RANGE: (u16, u16) = (20_000, 32_768);
const ATTEMPTS: usize = 1_000;

static HANDED_OUT: Mutex<Option<HashSet<u16>>> = Mutex::new(None);

/// A port on 127.0.0.1 that is free now, outside the OS's ephemeral range, and not handed
/// out before by this process.
pub fn free_loopback_port() -> std::io::Result<u16> {
    let mut handed_out = HANDED_OUT.lock().unwrap_or_else(|e| e.into_inner());
    let handed_out = handed_out.get_or_insert_with(HashSet::new);
    let span = u32::from(RANGE.1 - RANGE.0);
    for _ in 0..ATTEMPTS {
        let port = RANGE.0 + (rand_core::OsRng.next_u32() % span) as u16;
        if handed_out.contains(&port) {
            continue;
        }
        if TcpListener::bind((Ipv4Addr::LOCALHOST, port)).is_ok() {
            handed_out.insert(port);
            return Ok(port);
        }
    }
    Err(std::io::Error::new(
        std::io::ErrorKind::AddrInUse,
        format!(
            "no free port between {} and {} after {ATTEMPTS} tries",
            RANGE.0,
            RANGE.1 - 1
        ),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_are_distinct_bindable_and_outside_the_ephemeral_range() {
        let ports: Vec<u16> = (0..50).map(|_| free_loopback_port().unwrap()).collect();
        let distinct: HashSet<_> = ports.iter().collect();
        assert_eq!(distinct.len(), ports.len());
        for port in ports {
            assert!((RANGE.0..RANGE.1).contains(&port), "{port}");
            TcpListener::bind((Ipv4Addr::LOCALHOST, port)).unwrap();
        }
    }
}
