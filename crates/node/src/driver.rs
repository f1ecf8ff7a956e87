//! Runs one sans-IO protocol [`Instance`] over the mesh: its sends go out as frames, the
//! router's messages for it come in, until it returns, fails or runs out of time.
//!
//! The protocols' work (OT extensions, multiplications, proofs) happens inside `poke`, which
//! can take tens of milliseconds: it runs on the node's low-priority [`Workers`] so that
//! heartbeats and signing never wait behind precomputation. Protocols whose steps cost less
//! than that hand-off run inline ([`Steps::Inline`]).

use mpc::{Action, Instance, ProtocolError};
use std::time::Duration;
use tokio::time::Instant;
use tracing::warn;

use crate::faults::Tamper;
use crate::frame::FrameKind;
use crate::mesh::Mesh;
use crate::router::{Inbound, Registration};
use crate::workers::Workers;

/// Why an instance ended without output.
#[derive(Debug, thiserror::Error)]
pub enum DriveError {
    #[error(transparent)]
    Protocol(#[from] ProtocolError),
    #[error("no output within {0:?}")]
    Timeout(Duration),
    #[error("the node is shutting down")]
    Cancelled,
    #[error("participant {0} is down")]
    PeerDown(mpc::Participant),
    #[error("participant {peer} refused: {reason}")]
    Refused {
        peer: mpc::Participant,
        reason: String,
    },
}

/// How long a member of the instance may look dead before a [`Liveness::FailFast`] instance
/// gives up: long enough to ride out a reconnect, short enough not to hold a permit for a
/// whole timeout.
const DOWN_GRACE: Duration = Duration::from_secs(1);

/// What a dead member means for an instance.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Liveness {
    /// Give up soon: the work is retried with a live set (precomputation, signing).
    FailFast,
    /// Wait for the timeout: the work happens once (key generation, resharing).
    Patient,
}

/// Where an instance's steps run.
#[derive(Clone, Copy)]
pub enum Steps<'a> {
    /// On the async worker that drives it: for protocols whose steps are far cheaper than a
    /// hand-off between threads (nonces, fast presignatures, signatures).
    Inline,
    /// On the node's low-priority threads: for heavy steps.
    On(&'a Workers),
}

/// How to drive one instance.
#[derive(Clone, Copy)]
pub struct Drive<'a> {
    /// No output within this: [`DriveError::Timeout`].
    pub limit: Duration,
    pub liveness: Liveness,
    pub steps: Steps<'a>,
    /// Set only in fault-injection tests ([`crate::faults`]): changes every message sent.
    pub tamper: Option<Tamper>,
}

/// Drives `instance` to its output. `registration` must be its inbox.
pub async fn drive<T: Send + 'static>(
    mut instance: Instance<T>,
    mut registration: Registration,
    mesh: &Mesh,
    how: Drive<'_>,
) -> Result<T, DriveError> {
    let Drive {
        limit,
        liveness,
        steps,
        tamper,
    } = how;
    let out = |mut bytes: Vec<u8>| {
        if let Some(tamper) = tamper {
            tamper(&mut bytes);
        }
        bytes
    };
    let deadline = Instant::now() + limit;
    let mut check = tokio::time::interval(DOWN_GRACE / 2);
    let mut down_since: Option<Instant> = None;
    loop {
        loop {
            let action = match steps {
                Steps::Inline => instance.poke(),
                Steps::On(workers) => {
                    let (back, action) = workers
                        .run(move || {
                            let action = instance.poke();
                            (instance, action)
                        })
                        .await
                        .map_err(|_| DriveError::Cancelled)?;
                    instance = back;
                    action
                }
            };
            match action? {
                Action::Wait => break,
                Action::Return(out) => return Ok(out),
                Action::SendMany(bytes) => {
                    let bytes = out(bytes);
                    for p in instance.peers().clone() {
                        mesh.send(p, FrameKind::Protocol, bytes.clone());
                    }
                }
                Action::SendPrivate(to, bytes) => {
                    mesh.send(to, FrameKind::Protocol, out(bytes));
                }
            }
        }
        let (from, inbound) = loop {
            tokio::select! {
                m = tokio::time::timeout_at(deadline, registration.rx.recv()) => match m {
                    Ok(Some(m)) => break m.open(),
                    Ok(None) => return Err(DriveError::Cancelled),
                    Err(_) => return Err(DriveError::Timeout(limit)),
                },
                _ = check.tick(), if liveness == Liveness::FailFast => {
                    let alive = mesh.alive();
                    match instance.peers().iter().find(|p| !alive.contains(p)) {
                        None => down_since = None,
                        Some(p) => {
                            let since = *down_since.get_or_insert_with(Instant::now);
                            if since.elapsed() >= DOWN_GRACE {
                                return Err(DriveError::PeerDown(*p));
                            }
                        }
                    }
                }
            }
        };
        let bytes = match inbound {
            Inbound::Protocol(bytes) => bytes,
            Inbound::Refused(reason) if instance.peers().contains(&from) => {
                return Err(DriveError::Refused { peer: from, reason })
            }
            Inbound::Refused(_) => continue,
        };
        match instance.message(from, &bytes) {
            Ok(()) => {}
            // Someone outside the instance: not its business, and not a reason to abort.
            Err(ProtocolError::UnknownSender { from }) => {
                warn!(peer = %from, instance = %instance.id(), "message from a non-member ignored")
            }
            Err(e) => return Err(e.into()),
        }
    }
}
