//! What one signature costs in protocol work alone: every party of one signature run in this
//! process by the [`runner`](crate::runner), with no network, storage or chain, so that a
//! deployment can be set against the ceiling its protocols allow on the same machine.
//!
//! Per scheme, one signature is everything made for it and spent by it, among the signer set
//! the node uses: FROST nonces and the signing round among `t`; for the honest-majority ECDSA
//! path a presignature and the signing round among `2t − 1`; for the OT ECDSA path two Beaver
//! triples, a presignature and the signing round among `t`. Key generation, done once per
//! domain, is excluded. The time is wall time on the calling thread, which the runner keeps
//! busy throughout: CPU time, as long as the machine has a core to spare for it.

use k256::elliptic_curve::PrimeField;
use primitives::SignatureScheme;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use crate::frost::{self, Bip340, Ed25519, Scheme};
use crate::runner::{run, RunError};
use crate::{ecdsa, InstanceId, Participant};

/// Why a measurement failed: parameters no protocol accepts, or a protocol that failed.
#[derive(Debug, thiserror::Error)]
#[error("protocol cost: {0}")]
pub struct CostError(String);

impl From<RunError> for CostError {
    fn from(e: RunError) -> Self {
        Self(e.to_string())
    }
}

impl From<crate::InitError> for CostError {
    fn from(e: crate::InitError) -> Self {
        Self(e.to_string())
    }
}

/// The protocol CPU of one signature of `scheme` in a network of `n` at threshold `t`: the
/// mean over as many signatures as fit in `budget` (at least two).
pub fn per_signature(
    scheme: SignatureScheme,
    n: usize,
    t: usize,
    budget: Duration,
) -> Result<Duration, CostError> {
    let all: Vec<Participant> = (0..n as u32).map(Participant).collect();
    let mut one = match scheme {
        SignatureScheme::Ed25519 => frost_signature::<Ed25519>(&all, t)?,
        SignatureScheme::Bip340 => frost_signature::<Bip340>(&all, t)?,
        SignatureScheme::Secp256k1 | SignatureScheme::V2Secp256k1 => {
            ecdsa_signature(scheme, &all, t)?
        }
    };
    let started = Instant::now();
    let mut done = 0u32;
    while done < 2 || started.elapsed() < budget {
        one()?;
        done += 1;
    }
    Ok(started.elapsed() / done)
}

type Step = Box<dyn FnMut() -> Result<(), CostError>>;

/// The id of the `n`-th instance of `label`: every signature runs fresh instances.
fn instance(label: &[u8], n: u64) -> InstanceId {
    InstanceId::derive(&[label, &n.to_be_bytes()].concat())
}

fn frost_signature<C: Scheme>(all: &[Participant], t: usize) -> Result<Step, CostError> {
    let kid = instance(b"cost-keygen", 0);
    let keys = run(all
        .iter()
        .map(|&p| frost::keygen::<C>(kid, all, p, t))
        .collect::<Result<_, _>>()?)?;
    let signers = all[..t].to_vec();
    let tweak = C::tweak("cost.near", "p").map_err(|e| CostError(e.to_string()))?;
    let mut n = 0u64;
    Ok(Box::new(move || {
        n += 1;
        let (pid, sid) = (instance(b"cost-nonces", n), instance(b"cost-sign", n));
        let mut nonces = run(signers
            .iter()
            .map(|p| frost::presign::<C>(pid, &signers, *p, &keys[p]))
            .collect::<Result<_, _>>()?)?;
        let mut sign = Vec::with_capacity(signers.len());
        for p in &signers {
            let input = frost::SigningInput {
                tweak,
                message: &[7; 32],
                coordinator: signers[0],
            };
            let pre = nonces.remove(p).ok_or(CostError("nonces missing".into()))?;
            sign.push(frost::sign::<C>(sid, &signers, *p, &keys[p], pre, input)?);
        }
        run(sign)?;
        Ok(())
    }))
}

fn ecdsa_signature(
    scheme: SignatureScheme,
    all: &[Participant],
    t: usize,
) -> Result<Step, CostError> {
    let kid = instance(b"cost-keygen", 0);
    let keys: BTreeMap<Participant, ecdsa::KeyShare> = run(all
        .iter()
        .map(|&p| ecdsa::keygen(kid, all, p, t))
        .collect::<Result<_, _>>()?)?;
    let fast = scheme == SignatureScheme::V2Secp256k1;
    let signers = all[..if fast { 2 * t - 1 } else { t }].to_vec();
    let input = ecdsa::SigningInput {
        root_public_key: keys[&all[0]].public_key(),
        tweak: primitives::derivation::secp256k1_tweak("cost.near", "p")
            .map_err(|e| CostError(e.to_string()))?,
        msg_hash: Option::from(k256::Scalar::from_repr([7u8; 32].into()))
            .ok_or(CostError("message is not a scalar".into()))?,
        entropy: [1; 32],
        coordinator: signers[0],
    };
    let mut n = 0u64;
    Ok(Box::new(move || {
        n += 1;
        let id = |label: &[u8]| instance(label, n);
        let mut presigs = if fast {
            let pid = id(b"cost-fast");
            run(signers
                .iter()
                .map(|p| ecdsa::fast_presign(pid, &signers, *p, t, &keys[p]))
                .collect::<Result<_, _>>()?)?
        } else {
            let triple = |tid| -> Result<BTreeMap<_, _>, CostError> {
                Ok(run(signers
                    .iter()
                    .map(|&p| ecdsa::generate_triple(tid, &signers, p, t))
                    .collect::<Result<_, _>>()?)?)
            };
            let (mut a, mut b) = (triple(id(b"cost-t0"))?, triple(id(b"cost-t1"))?);
            let pid = id(b"cost-pre");
            let mut presign = Vec::with_capacity(signers.len());
            for p in &signers {
                let pair = (a.remove(p), b.remove(p));
                let (Some(x), Some(y)) = pair else {
                    return Err(CostError("triples missing".into()));
                };
                presign.push(ecdsa::presign(pid, &signers, *p, t, (x, y), &keys[p])?);
            }
            run(presign)?
        };
        let sid = id(b"cost-sign");
        let mut sign = Vec::with_capacity(signers.len());
        for p in &signers {
            let pre = presigs
                .remove(p)
                .ok_or(CostError("presignature missing".into()))?;
            sign.push(ecdsa::sign(sid, &signers, *p, pre, input)?);
        }
        run(sign)?;
        Ok(())
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_scheme_has_a_cost() {
        for scheme in [
            SignatureScheme::Ed25519,
            SignatureScheme::Bip340,
            SignatureScheme::V2Secp256k1,
        ] {
            let cost = per_signature(scheme, 3, 2, Duration::ZERO).unwrap();
            assert!(cost > Duration::ZERO, "{scheme}");
        }
        assert!(per_signature(SignatureScheme::Ed25519, 3, 5, Duration::ZERO).is_err());
    }
}
