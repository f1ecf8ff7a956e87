//! A trusted dealer, for devnets only: one party that knows a domain's master secret splits
//! it into threshold shares, in each scheme's own share format, instead of a distributed key
//! generation.
//!
//! Why it exists: a devnet started again from the same seed (`chainsig devnet --seed`) must
//! have the same master public keys, so that the addresses derived from them survive a
//! wiped data directory. A DKG's key comes from every party's randomness; a dealt key comes
//! from the 32-byte seed given here. The dealer knows the whole secret, so **a dealt key has
//! no threshold security at all**: it is for devnets, never for a network that holds value.
//!
//! What is dealt is exactly what a DKG leaves each party, so everything after it — presigning,
//! signing, resharing — cannot tell the difference:
//! - ECDSA ([`ecdsa`]; Secp256k1 and V2Secp256k1 domains): Shamir shares of the secret on a
//!   polynomial of degree `t − 1`, party `p` holding its value at `p + 1` (as cait-sith's
//!   DKG and every other protocol here evaluate), with the group key.
//! - FROST ([`frost`]; Ed25519 and Bip340): frost-core's own dealer (`keys::split`, RFC 9591
//!   appendix C) with the same identifiers as the DKG, each share checked against the
//!   dealer's commitment, then the ciphersuite's post-DKG step, so a Bip340 key carries the
//!   same unspendable BIP341 tweak a DKG's key does.
//!
//! From the seed (HKDF-SHA256, one label per use) come the secret — 64 bytes reduced into
//! the scheme's scalar field, so the key depends only on the seed and this code — and the
//! seed of a ChaCha20 generator for the polynomial's other coefficients. Shares are handed
//! back in the zeroizing types the protocols use; nothing here prints or logs them.

use hkdf::Hkdf;
use rand_chacha::rand_core::SeedableRng;
use rand_chacha::ChaCha20Rng;
use sha2::Sha256;
use std::collections::BTreeMap;
use zeroize::Zeroizing;

use crate::frost::Scheme;
use crate::protocol::{check_set, InitError, Participant};

/// Label for the master secret; another for the coefficients' generator.
const SECRET: &[u8] = b"chainsig dealer v1: master secret";
const COEFFICIENTS: &[u8] = b"chainsig dealer v1: polynomial coefficients";

/// `N` bytes from `seed` for one use (`info`).
fn expand<const N: usize>(seed: &[u8; 32], info: &[u8]) -> Zeroizing<[u8; N]> {
    let mut out = Zeroizing::new([0u8; N]);
    Hkdf::<Sha256>::new(None, seed)
        .expand(info, &mut out[..])
        .expect("N is far below HKDF-SHA256's 8160-byte limit");
    out
}

/// The generator of the coefficients other than the secret.
fn coefficients_rng(seed: &[u8; 32]) -> ChaCha20Rng {
    ChaCha20Rng::from_seed(*expand::<32>(seed, COEFFICIENTS))
}

/// Each participant's share of the ECDSA master key `seed` gives (Secp256k1 and
/// V2Secp256k1 domains), `threshold` of them needed to sign.
pub fn ecdsa(
    seed: &[u8; 32],
    participants: &[Participant],
    threshold: usize,
) -> Result<BTreeMap<Participant, crate::ecdsa::KeyShare>, InitError> {
    use k256::elliptic_curve::bigint::U512;
    use k256::elliptic_curve::ops::Reduce;
    use k256::elliptic_curve::Field;
    use k256::{ProjectivePoint, Scalar};

    let sorted = check_set(participants, Some(threshold))?;
    let wide = expand::<64>(seed, SECRET);
    let secret = Zeroizing::new(<Scalar as Reduce<U512>>::reduce(U512::from_be_slice(
        &wide[..],
    )));
    if bool::from(secret.is_zero()) {
        return Err(InitError::new(
            "the seed gives a zero secret; use another seed",
        ));
    }
    let public_key = (ProjectivePoint::GENERATOR * *secret).to_affine();
    let mut rng = coefficients_rng(seed);
    let mut coefficients: Vec<Zeroizing<Scalar>> = vec![secret];
    coefficients.extend((1..threshold).map(|_| Zeroizing::new(Scalar::random(&mut rng))));
    Ok(sorted
        .into_iter()
        .map(|p| {
            let x = crate::ecdsa::point(p);
            // Horner's rule, highest coefficient first.
            let share = coefficients
                .iter()
                .rev()
                .fold(Scalar::ZERO, |acc, c| acc * x + **c);
            let key = crate::ecdsa::KeyShare {
                private_share: share,
                public_key,
            };
            (p, key)
        })
        .collect())
}

/// Each participant's share of the FROST master key `seed` gives for scheme `C` (Ed25519,
/// Bip340), `threshold` of them needed to sign.
pub fn frost<C: Scheme>(
    seed: &[u8; 32],
    participants: &[Participant],
    threshold: usize,
) -> Result<BTreeMap<Participant, crate::frost::KeyShare<C>>, InitError> {
    use frost_core::keys::{split, IdentifierList, KeyPackage};
    use frost_core::SigningKey;

    let sorted = check_set(participants, Some(threshold))?;
    let wide = expand::<64>(seed, SECRET);
    let key = SigningKey::<C>::from_scalar(C::scalar_from_wide(&wide))
        .map_err(|_| InitError::new("the seed gives a zero secret; use another seed"))?;
    let who = crate::frost::identifiers::<C>(&sorted);
    let ids: Vec<_> = who.keys().copied().collect();
    // `check_set` keeps ids and the threshold below u16::MAX.
    let (n, t) = (sorted.len() as u16, threshold as u16);
    let mut rng = coefficients_rng(seed);
    let (shares, public) =
        split(&key, n, t, IdentifierList::Custom(&ids), &mut rng).map_err(InitError::new)?;
    let mut out = BTreeMap::new();
    for (id, share) in shares {
        // Checks the share against the dealer's commitment, as a recipient would.
        let key_package = KeyPackage::try_from(share).map_err(InitError::new)?;
        let (key_package, public) =
            C::post_dkg(key_package, public.clone()).map_err(InitError::new)?;
        out.insert(
            who[&id],
            crate::frost::KeyShare {
                key_package,
                public,
            },
        );
    }
    Ok(out)
}
