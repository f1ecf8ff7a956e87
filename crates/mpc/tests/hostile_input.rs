//! Whatever bytes a peer sends, every protocol answers with a value or an error — never a
//! panic — and lossy delivery never yields a wrong signature.

use mpc::ecdsa;
use mpc::frost::{self, Bip340, Ed25519, Scheme};
use mpc::runner::{run, run_outcome, Faults};
use mpc::{Action, Instance, InstanceId, Participant};
use proptest::prelude::*;

fn ps(n: u32) -> Vec<Participant> {
    (0..n).map(Participant).collect()
}

/// Valid envelope, arbitrary payload.
fn envelope(id: InstanceId, payload: &[u8]) -> Vec<u8> {
    let mut out = vec![mpc::WIRE_VERSION];
    out.extend_from_slice(&id.0);
    out.extend_from_slice(payload);
    out
}

fn poke_all<T>(inst: &mut Instance<T>) {
    for _ in 0..16 {
        match inst.poke() {
            Ok(Action::Wait) | Ok(Action::Return(_)) | Err(_) => return,
            Ok(_) => {}
        }
    }
}

fn feed<T>(mut inst: Instance<T>, from: Participant, payloads: &[Vec<u8>]) {
    poke_all(&mut inst);
    let id = inst.id();
    for p in payloads {
        let _ = inst.message(from, &envelope(id, p));
        poke_all(&mut inst);
    }
}

fn frost_instances<C: Scheme>(
    id: InstanceId,
) -> (Instance<frost::KeyShare<C>>, Instance<frost::KeyShare<C>>) {
    let all = ps(3);
    let keys = run(all
        .iter()
        .map(|&p| frost::keygen::<C>(id, &all, p, 2).unwrap())
        .collect())
    .unwrap();
    let mut keys = keys;
    let gk = keys[&all[0]].verifying_key();
    let reshare = frost::reshare::<C>(
        id,
        mpc::Resharing::refresh(&all, 2),
        all[0],
        keys.remove(&all[0]),
        gk,
    )
    .unwrap();
    (frost::keygen::<C>(id, &all, all[0], 2).unwrap(), reshare)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn random_payloads_never_panic(
        payloads in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..200), 1..6),
        lead in 0u8..4,
    ) {
        // Lead with plausible prefixes so the bytes reach deeper than the first check.
        let payloads: Vec<Vec<u8>> = payloads.into_iter().map(|mut p| {
            match lead { 0 => p.insert(0, 0), 1 => p.insert(0, 1), 2 => p.splice(0..0, [0u8; 28]).for_each(drop), _ => {} }
            p
        }).collect();
        let all = ps(3);
        let id = InstanceId::derive(b"hostile");
        let from = Participant(1);
        feed(ecdsa::keygen(id, &all, all[0], 2).unwrap(), from, &payloads);
        feed(ecdsa::generate_triple(id, &all, all[0], 2).unwrap(), from, &payloads);
        feed(frost::keygen::<Ed25519>(id, &all, all[0], 2).unwrap(), from, &payloads);
        let (k, r) = frost_instances::<Bip340>(id);
        feed(k, from, &payloads);
        feed(r, from, &payloads);
    }
}

#[test]
fn lossy_delivery_never_gives_a_wrong_signature() {
    let all = ps(3);
    let id = InstanceId::derive(b"lossy-dkg");
    let keys = run(all
        .iter()
        .map(|&p| frost::keygen::<Ed25519>(id, &all, p, 2).unwrap())
        .collect())
    .unwrap();
    let msg = [4u8; 32];
    let tweak = Ed25519::tweak("a.near", "p").unwrap();
    let derived = frost_core::VerifyingKey::<Ed25519>::new(
        keys[&all[0]].verifying_key().to_element()
            + curve25519_dalek::constants::ED25519_BASEPOINT_POINT * tweak,
    );
    let (mut done, mut stalled) = (0, 0);
    for seed in 0..20u64 {
        let faults = Faults {
            seed,
            drop: 0.3,
            duplicate: 0.2,
            reorder: true,
            max_delay: 2,
            ..Faults::default()
        };
        let pid = InstanceId::derive(&[b"p".as_slice(), &seed.to_be_bytes()].concat());
        let pre = run_outcome(
            all.iter()
                .map(|p| frost::presign::<Ed25519>(pid, &all, *p, &keys[p]).unwrap())
                .collect(),
            &faults,
            None,
        );
        if pre.outputs.len() < all.len() {
            stalled += 1;
            continue;
        }
        let mut pre = pre.outputs;
        let sid = InstanceId::derive(&[b"s".as_slice(), &seed.to_be_bytes()].concat());
        let insts = all
            .iter()
            .map(|p| {
                let input = frost::SigningInput {
                    tweak,
                    message: &msg,
                    coordinator: all[0],
                };
                frost::sign::<Ed25519>(sid, &all, *p, &keys[p], pre.remove(p).unwrap(), input)
                    .unwrap()
            })
            .collect();
        let out = run_outcome(insts, &faults, None);
        assert!(
            out.errors.is_empty(),
            "loss is not misbehaviour: {:?}",
            out.errors
        );
        for sig in out.outputs.values().flatten() {
            derived
                .verify(&msg, sig)
                .expect("every signature that comes out is valid");
            done += 1;
        }
        if out.stalled {
            stalled += 1;
        }
    }
    // With 30% loss some runs finish and some stall; both happen over 20 seeds.
    assert!(done > 0 && stalled > 0, "done {done}, stalled {stalled}");
}
