//! Frames on a peer connection: `[length: u32 BE][kind: u8][payload]`, length counting kind
//! and payload.
//!
//! Reads are bounded in size (a frame may carry the largest protocol message,
//! [`mpc::MAX_MESSAGE_BYTES`], and no more) and in time; a frame that breaks either bound, or
//! has an unknown kind, is an error for that connection only: the caller closes it and the
//! mesh reconnects. Nothing is allocated before the length has been checked.

use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// What a frame carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum FrameKind {
    /// A protocol message in its wire envelope (routed by instance id).
    Protocol = 1,
    /// Liveness: an empty payload.
    Heartbeat = 2,
    /// A participant asks the others to join a protocol instance it leads (the node's task
    /// description; see `service::task`).
    Start = 3,
    /// A participant will not take part in an instance another started: `[32-byte instance
    /// id][reason, UTF-8]`. The starter gives up at once instead of waiting for its timeout.
    Refusal = 4,
    /// A participant has taken an item to lead a signature request: the 32-byte request id.
    /// The others hold off leading that request for a while, so that a failover does not
    /// spend a second item on it (docs/design.md §8.4).
    Leading = 5,
}

impl FrameKind {
    fn from_byte(b: u8) -> Option<Self> {
        match b {
            1 => Some(Self::Protocol),
            2 => Some(Self::Heartbeat),
            3 => Some(Self::Start),
            4 => Some(Self::Refusal),
            5 => Some(Self::Leading),
            _ => None,
        }
    }
}

/// The largest frame body (kind byte + payload).
pub const MAX_FRAME_BODY: usize = 1 + mpc::MAX_MESSAGE_BYTES;

/// Why a frame could not be read.
#[derive(Debug, thiserror::Error)]
pub enum FrameError {
    #[error("the peer closed the connection")]
    Closed,
    #[error("frame of {0} bytes exceeds the {MAX_FRAME_BODY}-byte limit")]
    TooLarge(usize),
    #[error("empty frame")]
    Empty,
    #[error("unknown frame kind {0}")]
    UnknownKind(u8),
    #[error("no frame within {0:?}")]
    Timeout(Duration),
    #[error("connection error: {0}")]
    Io(#[from] std::io::Error),
}

/// Appends one frame to `out` (several frames may share one write: see [`write_frame`]).
pub fn encode_frame(out: &mut Vec<u8>, kind: FrameKind, payload: &[u8]) -> Result<(), FrameError> {
    let len = 1 + payload.len();
    if len > MAX_FRAME_BODY {
        return Err(FrameError::TooLarge(len));
    }
    out.reserve(4 + len);
    out.extend_from_slice(&(len as u32).to_be_bytes());
    out.push(kind as u8);
    out.extend_from_slice(payload);
    Ok(())
}

/// Writes one frame, in one write: over TLS each write becomes at least one record and,
/// usually, one system call.
pub async fn write_frame<W: AsyncWrite + Unpin>(
    w: &mut W,
    kind: FrameKind,
    payload: &[u8],
) -> Result<(), FrameError> {
    let mut frame = Vec::new();
    encode_frame(&mut frame, kind, payload)?;
    write_frames(w, &frame).await
}

/// Writes frames [`encode_frame`] put in `bytes`, and flushes.
pub async fn write_frames<W: AsyncWrite + Unpin>(
    w: &mut W,
    bytes: &[u8],
) -> Result<(), FrameError> {
    w.write_all(bytes).await?;
    w.flush().await?;
    Ok(())
}

/// Reads one frame, waiting at most `timeout` for it to arrive whole.
pub async fn read_frame<R: AsyncRead + Unpin>(
    r: &mut R,
    timeout: Duration,
) -> Result<(FrameKind, Vec<u8>), FrameError> {
    tokio::time::timeout(timeout, read(r))
        .await
        .map_err(|_| FrameError::Timeout(timeout))?
}

async fn read<R: AsyncRead + Unpin>(r: &mut R) -> Result<(FrameKind, Vec<u8>), FrameError> {
    let mut len = [0u8; 4];
    match r.read_exact(&mut len).await {
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Err(FrameError::Closed),
        other => other?,
    };
    let len = u32::from_be_bytes(len) as usize;
    if len == 0 {
        return Err(FrameError::Empty);
    }
    if len > MAX_FRAME_BODY {
        return Err(FrameError::TooLarge(len));
    }
    let mut kind = [0u8; 1];
    r.read_exact(&mut kind).await?;
    let kind = FrameKind::from_byte(kind[0]).ok_or(FrameError::UnknownKind(kind[0]))?;
    let mut payload = vec![0u8; len - 1];
    r.read_exact(&mut payload).await?;
    Ok((kind, payload))
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: Duration = Duration::from_secs(2);

    #[tokio::test]
    async fn frames_round_trip() {
        let (mut a, mut b) = tokio::io::duplex(1 << 16);
        write_frame(&mut a, FrameKind::Protocol, b"hello")
            .await
            .unwrap();
        write_frame(&mut a, FrameKind::Heartbeat, b"")
            .await
            .unwrap();
        assert_eq!(
            read_frame(&mut b, T).await.unwrap(),
            (FrameKind::Protocol, b"hello".to_vec())
        );
        assert_eq!(
            read_frame(&mut b, T).await.unwrap(),
            (FrameKind::Heartbeat, vec![])
        );
        drop(a);
        assert!(matches!(
            read_frame(&mut b, T).await,
            Err(FrameError::Closed)
        ));
    }

    #[tokio::test]
    async fn frames_written_together_read_back_one_by_one() {
        let (mut a, mut b) = tokio::io::duplex(1 << 16);
        let mut batch = Vec::new();
        let sent: Vec<(FrameKind, Vec<u8>)> = (0..20u8)
            .map(|i| match i % 4 {
                0 => (FrameKind::Heartbeat, vec![]),
                1 => (FrameKind::Protocol, vec![i; 100 * i as usize]),
                2 => (FrameKind::Leading, vec![i; 32]),
                _ => (FrameKind::Start, vec![i; 7]),
            })
            .collect();
        for (kind, payload) in &sent {
            encode_frame(&mut batch, *kind, payload).unwrap();
        }
        write_frames(&mut a, &batch).await.unwrap();
        for frame in sent {
            assert_eq!(read_frame(&mut b, T).await.unwrap(), frame);
        }
        let mut out = Vec::new();
        let huge = vec![0u8; MAX_FRAME_BODY];
        assert!(matches!(
            encode_frame(&mut out, FrameKind::Protocol, &huge),
            Err(FrameError::TooLarge(_))
        ));
        assert!(out.is_empty(), "nothing of a refused frame is appended");
    }

    #[tokio::test]
    async fn bad_frames_are_errors_not_allocations() {
        for (bytes, want) in [
            (vec![0xff, 0xff, 0xff, 0xff], "exceeds"),
            (vec![0, 0, 0, 0], "empty"),
            (vec![0, 0, 0, 2, 9, 0], "unknown frame kind 9"),
            (vec![0, 0, 0, 9, 1, 0], "connection error"), // truncated body
        ] {
            let (mut a, mut b) = tokio::io::duplex(64);
            a.write_all(&bytes).await.unwrap();
            drop(a);
            let err = read_frame(&mut b, T).await.unwrap_err().to_string();
            assert!(err.contains(want), "{bytes:?}: {err}");
        }
        let (mut a, _b) = tokio::io::duplex(64);
        let huge = vec![0u8; MAX_FRAME_BODY];
        assert!(matches!(
            write_frame(&mut a, FrameKind::Protocol, &huge).await,
            Err(FrameError::TooLarge(_))
        ));
    }

    #[tokio::test]
    async fn a_silent_peer_times_out() {
        let (_a, mut b) = tokio::io::duplex(64);
        let err = read_frame(&mut b, Duration::from_millis(50))
            .await
            .unwrap_err();
        assert!(matches!(err, FrameError::Timeout(_)));
    }
}
