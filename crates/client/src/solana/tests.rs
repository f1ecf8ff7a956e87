//! The wire layout byte by byte, shortvec's documented encodings, and signatures that verify
//! over exactly the message bytes.

use super::*;
use ed25519_dalek::{Signer as _, SigningKey, Verifier as _};
use proptest::prelude::*;

#[test]
fn shortvec_vectors() {
    // The encodings Solana's short_vec documents.
    for (n, bytes) in [
        (0u16, vec![0x00]),
        (0x7f, vec![0x7f]),
        (0x80, vec![0x80, 0x01]),
        (0xff, vec![0xff, 0x01]),
        (0x100, vec![0x80, 0x02]),
        (0x3fff, vec![0xff, 0x7f]),
        (0x4000, vec![0x80, 0x80, 0x01]),
        (0xffff, vec![0xff, 0xff, 0x03]),
    ] {
        let mut out = vec![];
        shortvec(n, &mut out);
        assert_eq!(out, bytes, "{n:#x}");
    }
}

fn transfer(lamports: u64) -> SolTransfer {
    SolTransfer {
        from: [1; 32],
        to: [2; 32],
        lamports,
        recent_blockhash: [3; 32],
    }
}

#[test]
fn transfer_layout() {
    let m = transfer(1_000_000_000).message();
    let mut expected = vec![1, 0, 1, 3];
    expected.extend([1; 32]);
    expected.extend([2; 32]);
    expected.extend([0; 32]);
    expected.extend([3; 32]);
    expected.extend([1, 2, 2, 0, 1, 12, 2, 0, 0, 0]);
    expected.extend(1_000_000_000u64.to_le_bytes());
    assert_eq!(m, expected);
    let signed = transfer(1_000_000_000).assemble([9; 64]);
    assert_eq!(signed.wire[0], 1);
    assert_eq!(&signed.wire[1..65], &[9; 64]);
    assert_eq!(&signed.wire[65..], &m[..]);
    assert_eq!(signed.id(), bs58::encode([9; 64]).into_string());
}

#[test]
fn bad_transfers_are_named() {
    let mut t = transfer(1);
    t.to = t.from;
    assert!(matches!(t.check(), Err(SolanaError::SelfTransfer)));
    assert!(matches!(transfer(0).check(), Err(SolanaError::Zero)));
    assert!(transfer(1).check().is_ok());
    assert_eq!(transfer(u64::MAX).cost(), u64::MAX);
    assert!(parse_address("--to", "0OIl").is_err());
    assert!(parse_address("--to", "abc").is_err());
    assert_eq!(
        parse_address("--to", "11111111111111111111111111111111").unwrap(),
        SYSTEM_PROGRAM
    );
    assert!(parse_blockhash("not-base58!").is_err());
}

proptest! {
    /// A signature of the message verifies over the signed transaction's message part, and the
    /// message fits the smallest Eddsa payload the contract takes.
    #[test]
    fn signatures_cover_the_message(
        seed in any::<[u8; 32]>(),
        to in any::<[u8; 32]>(),
        lamports in 1u64..,
        blockhash in any::<[u8; 32]>(),
    ) {
        let key = SigningKey::from_bytes(&seed);
        let tx = SolTransfer { from: key.verifying_key().to_bytes(), to, lamports, recent_blockhash: blockhash };
        let message = tx.message();
        prop_assert!((32..=1232).contains(&message.len()));
        let signed = tx.assemble(key.sign(&message).to_bytes());
        let sig = ed25519_dalek::Signature::from_bytes(signed.wire[1..65].try_into().unwrap());
        prop_assert!(key.verifying_key().verify(&signed.wire[65..], &sig).is_ok());
    }
}
