//! Sequences of contract calls with arbitrary arguments, against the pure contract as the
//! in-process chain hosts it: a fuzz target (`fuzz/`) and the replay of its corpus in
//! `cargo test`.
//!
//! The contract starts initialized with three participants (threshold two) so that a short
//! input reaches the interesting states: domains voted in, keys voted (the testkit's known
//! keys, so that a `respond` can carry a valid signature), requests signed, answered or timed
//! out, candidates, joins, leaves, reshares. Each step reads, from the input: who calls, with
//! what deposit, which method, and its arguments — built from input bytes for each method, or
//! raw JSON for any method name. Blocks are produced between steps on request.
//!
//! What must hold whatever the calls: no panic; a refused call changes nothing (no storage
//! write, the same root), as the contract promises; `state()` always reads back; every view
//! answers or refuses.

use arbitrary::Unstructured;
use contract::storage::{key_kind, KeyKind};
use contract::RequestId;
use primitives::{DomainId, NearPublicKey, SignatureScheme};

use crate::blocks::DataChange;
use crate::call::Call;
use crate::local::LocalChain;

const CONTRACT: &str = "signer.test";
const ACCOUNTS: [&str; 6] = [
    "n0.test",
    "n1.test",
    "n2.test",
    "cand.test",
    "user.test",
    CONTRACT,
];
const SCHEMES: [SignatureScheme; 4] = [
    SignatureScheme::Secp256k1,
    SignatureScheme::Ed25519,
    SignatureScheme::Bip340,
    SignatureScheme::V2Secp256k1,
];
const METHODS: [&str; 16] = [
    "init",
    "sign",
    "respond",
    "register_candidate",
    "withdraw_candidate",
    "vote_join",
    "vote_leave",
    "vote_new_parameters",
    "vote_add_domains",
    "start_keygen_instance",
    "vote_pk",
    "start_reshare_instance",
    "vote_reshared",
    "vote_abort",
    "state",
    "no_such_method",
];

/// The input, read front to back (arbitrary's reader); past its end every read is zero.
struct Script<'a>(Unstructured<'a>);

impl Script<'_> {
    fn byte(&mut self) -> u8 {
        self.0.arbitrary().unwrap_or(0)
    }

    fn pick<T: Copy>(&mut self, from: &[T]) -> T {
        from[usize::from(self.byte()) % from.len()]
    }

    /// Up to `max` bytes, the count read first.
    fn bytes(&mut self, max: u8) -> Vec<u8> {
        let n = usize::from(self.byte() % max.max(1)).min(self.0.len());
        self.0.bytes(n).map(<[u8]>::to_vec).unwrap_or_default()
    }

    fn text(&mut self, max: u8) -> String {
        String::from_utf8_lossy(&self.bytes(max)).into_owned()
    }
}

fn keys() -> testkit::Keys {
    testkit::Keys::new(5)
}

fn tls_key(s: &mut Script<'_>) -> NearPublicKey {
    keys().public(s.pick(&[SignatureScheme::Ed25519, SignatureScheme::Secp256k1]))
}

/// A call built from the input, or `None` when raw JSON does not parse as one.
fn call(s: &mut Script<'_>, requests: &[RequestId], chain: &LocalChain) -> Option<Call> {
    let epoch = u64::from(s.byte() % 4);
    Some(match s.byte() % 16 {
        0 => Call::Sign {
            request: serde_json::from_value(sign_args(s)).ok()?,
        },
        1 | 2 => respond(s, requests, chain)?,
        3 => Call::RegisterCandidate {
            url: s.text(40),
            tls_public_key: tls_key(s),
        },
        4 => Call::WithdrawCandidate {},
        5 => Call::VoteJoin {
            candidate: s.pick(&ACCOUNTS).to_owned(),
            epoch,
        },
        6 => Call::VoteLeave {
            participant: s.pick(&ACCOUNTS).to_owned(),
            epoch,
        },
        7 => Call::VoteNewParameters {
            participants: (0..s.byte() % 5)
                .map(|_| s.pick(&ACCOUNTS).to_owned())
                .collect(),
            threshold: u64::from(s.byte() % 5),
            epoch,
        },
        8 => Call::VoteAddDomains {
            schemes: (0..s.byte() % 3).map(|_| s.pick(&SCHEMES)).collect(),
            epoch,
        },
        9 => Call::StartKeygenInstance { epoch },
        10 => {
            let domain_id = DomainId(u64::from(s.byte() % 4));
            let scheme = s.pick(&SCHEMES);
            Call::VotePk {
                domain_id,
                public_key: keys().public(scheme),
                epoch,
            }
        }
        11 => Call::StartReshareInstance { epoch },
        12 => Call::VoteReshared { epoch },
        13 => Call::VoteAbort { epoch },
        _ => {
            let method = s.pick(&METHODS);
            let args = s.bytes(200);
            Call::from_parts(method, &args).ok()?
        }
    })
}

fn sign_args(s: &mut Script<'_>) -> serde_json::Value {
    let domain = s.byte() % 5;
    let payload = s.bytes(70);
    let kind = if s.byte().is_multiple_of(2) {
        "Ecdsa"
    } else {
        "Eddsa"
    };
    let mut args = serde_json::json!({
        "path": s.text(12),
        "payload_v2": {kind: hex::encode(&payload)},
        "domain_id": domain,
    });
    if s.byte().is_multiple_of(8) {
        // The legacy form: a 32-byte hash as numbers, a key version instead of a domain.
        let hash: Vec<u8> = (0..32)
            .map(|i| payload.get(i).copied().unwrap_or(0))
            .collect();
        args = serde_json::json!({"path": "legacy", "payload": hash, "key_version": domain});
    }
    args
}

/// A `respond` to a request seen so far: signed right (with the testkit key its domain was
/// voted with), for the wrong request, or with a byte of the signature changed.
fn respond(s: &mut Script<'_>, requests: &[RequestId], chain: &LocalChain) -> Option<Call> {
    let id = if requests.is_empty() {
        RequestId([s.byte(); 32])
    } else {
        requests[usize::from(s.byte()) % requests.len()]
    };
    let contract = chain.contract().ok()?;
    let request = contract.request(&id).ok().flatten();
    let scheme = s.pick(&SCHEMES);
    let (predecessor, path, payload) = match &request {
        Some(r) => (
            r.predecessor.0.clone(),
            r.path.clone(),
            r.payload.as_bytes().to_vec(),
        ),
        None => ("user.test".into(), "p".into(), vec![1; 32]),
    };
    let mut response = keys().sign(scheme, &predecessor, &path, &payload);
    if s.byte().is_multiple_of(4) {
        let mut json = serde_json::to_vec(&response).ok()?;
        let at = usize::from(s.byte()) % json.len();
        json[at] = s.byte();
        response = serde_json::from_slice(&json).ok()?;
    }
    Some(Call::Respond {
        request_id: id,
        response,
    })
}

fn initialized() -> LocalChain {
    let mut chain = LocalChain::new(CONTRACT, [3; 32]);
    let participants = ACCOUNTS[..3]
        .iter()
        .map(|a| crate::InitParticipant {
            account_id: (*a).to_owned(),
            url: format!("https://{a}"),
            tls_public_key: keys().public(SignatureScheme::Ed25519),
        })
        .collect();
    let init = Call::Init {
        participants,
        threshold: 2,
        config: None,
    };
    chain
        .call(CONTRACT, 0, init)
        .expect("a fresh contract initializes");
    chain
}

/// Runs the calls the input describes.
pub fn calls(data: &[u8]) {
    let mut s = Script(Unstructured::new(data));
    let mut chain = initialized();
    let mut requests = vec![];
    while !s.0.is_empty() {
        match s.byte() % 8 {
            0 => {
                for _ in 0..=s.byte() {
                    chain.produce_block();
                }
                continue;
            }
            1 => {
                let method = s.pick(&METHODS);
                let args = s.bytes(80);
                let _ = chain.view(method, &args);
                continue;
            }
            _ => {}
        }
        let who = s.pick(&ACCOUNTS);
        let deposit = s.pick(&[0, 1, contract::CANDIDATE_DEPOSIT, u128::MAX]);
        let Some(call) = call(&mut s, &requests, &chain) else {
            continue;
        };
        let before = (
            chain.contract().ok().map(|c| c.root().clone()),
            chain.block_log().len(),
        );
        match chain.call(who, deposit, call) {
            Ok(_) => {
                for change in chain.block_log() {
                    if let (KeyKind::Request(id), DataChange::Write { .. }) =
                        (key_kind(change.key()), change)
                    {
                        requests.push(id);
                    }
                }
            }
            Err(_) => {
                let after = (
                    chain.contract().ok().map(|c| c.root().clone()),
                    chain.block_log().len(),
                );
                assert!(before == after, "a refused call changed the contract");
            }
        }
        let state = chain.contract().expect("initialized").state_view();
        state.expect("state() reads back");
    }
}

#[cfg(test)]
mod tests {
    /// Every input the fuzzers kept, run again (CI runs this on stable).
    #[test]
    fn the_fuzz_corpus_replays() {
        testkit::replay_fuzz_corpus("contract_calls", super::calls);
    }
}
