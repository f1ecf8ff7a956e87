//! The contract core, method by method, without a host.

mod init_running;
mod lifecycle;
mod membership;
mod near_mpc;
mod signing;
mod views;

use primitives::response::SignatureResponse;
use primitives::{DomainId, NearPublicKey, SignatureScheme};

use crate::views::Phase;
use crate::*;

pub(crate) use crate::NativeCrypto as TestCrypto;
pub(crate) use testkit::{payload_bytes, Keys, SCHEMES};

pub(crate) fn account(name: &str) -> AccountId {
    AccountId(name.to_owned())
}

/// The contract account of the tests.
pub(crate) const CONTRACT: &str = "signer.near";

pub(crate) fn ctx(who: &str, height: u64) -> Ctx {
    Ctx {
        current_account: account(CONTRACT),
        predecessor: account(who),
        deposit: 1,
        block_height: height,
        random_seed: [height as u8; 32],
        prepaid_gas: 300_000_000_000_000,
    }
}

/// A call that attaches a candidate's deposit.
pub(crate) fn candidate_ctx(who: &str, height: u64) -> Ctx {
    Ctx {
        deposit: CANDIDATE_DEPOSIT,
        ..ctx(who, height)
    }
}

pub(crate) fn info(n: u8) -> ParticipantInfo {
    let key = curve25519_dalek::constants::ED25519_BASEPOINT_POINT
        * curve25519_dalek::Scalar::from(u64::from(n) + 100);
    ParticipantInfo {
        url: format!("https://node{n}.example:3000"),
        tls_public_key: NearPublicKey::Ed25519(key).into(),
    }
}

pub(crate) const NODES: [&str; 3] = ["alice.near", "bob.near", "carol.near"];

/// Three participants, threshold 2, no domains.
pub(crate) fn network() -> Contract {
    let ps = NODES
        .iter()
        .enumerate()
        .map(|(i, a)| (account(a), info(i as u8)))
        .collect();
    Contract::<MemStorage>::init(ps, 2, None).unwrap()
}

/// Adds the three domains (ids 0, 1, 2) with `keys`, through the votes.
pub(crate) fn add_domains(c: &mut Contract, keys: &Keys, height: u64) {
    let epoch = c.state_view().unwrap().epoch.unwrap();
    let voters: Vec<String> = c
        .state_view()
        .unwrap()
        .participants
        .iter()
        .map(|p| p.account_id.0.clone())
        .collect();
    let first = c.state_view().unwrap().domains.len() as u64;
    for v in &voters {
        c.vote_add_domains(&ctx(v, height), &SCHEMES, epoch)
            .unwrap();
    }
    c.start_keygen_instance(&ctx(&voters[0], height), epoch)
        .unwrap();
    for (i, scheme) in SCHEMES.iter().enumerate() {
        for v in &voters {
            c.vote_pk(
                &ctx(v, height + 1),
                DomainId(first + i as u64),
                keys.public(*scheme),
                epoch,
            )
            .unwrap();
        }
    }
    assert_eq!(c.state_view().unwrap().state, Phase::Running);
}

/// The test network with its three domains (keys of seed 1), at height 10.
pub(crate) fn ready() -> (Contract, Keys) {
    let mut c = network();
    let keys = Keys::new(1);
    add_domains(&mut c, &keys, 10);
    (c, keys)
}

/// `sign` arguments for a domain, with a payload fit for its scheme.
pub(crate) fn sign_args(
    domain: u64,
    scheme: SignatureScheme,
    path: &str,
    msg: u8,
) -> primitives::request::SignArgs {
    let request = testkit::sign_request(domain, scheme, path, msg);
    serde_json::from_value(serde_json::json!({ "request": request })).unwrap()
}

/// A caller waiting in a test: the request, the yield key, the host's yield id.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Waiter {
    pub id: RequestId,
    pub key: u64,
    pub yield_id: YieldId,
}

/// Runs `sign` as the host would: the yield gets an id derived from a counter.
pub(crate) fn sign_as_host(
    c: &mut Contract,
    ctx: &Ctx,
    args: primitives::request::SignArgs,
    next_yield: &mut u8,
) -> Result<(Waiter, Vec<Effect>), ContractError> {
    let effects = c.sign(ctx, args)?;
    let Some(Effect::Yield(id, key)) = effects.first().cloned() else {
        panic!("sign yields first: {effects:?}")
    };
    let yield_id = YieldId([*next_yield; 32]);
    *next_yield += 1;
    c.yielded(id, key, yield_id).unwrap();
    Ok((Waiter { id, key, yield_id }, effects))
}
