//! JWT (RFC 7519) verification for RS256 and ES256, and the rules that turn a token into a
//! sign request.
//! Pure: no NEAR host calls, so every rule is unit-tested natively.
//!
//! Scheme: a compact JWS `BASE64URL(header) . BASE64URL(claims) . BASE64URL(signature)`, whose
//! signature is over the ASCII of the first two parts, under the issuer's key given as a JWK
//! (RFC 7517, optional `kid` and `alg`): either RSASSA-PKCS1-v1_5 with SHA-256 (`RS256`, RFC
//! 7518 §3.3) under an RSA key (`kty` `RSA`, `n`, `e`), or ECDSA P-256 with SHA-256 (`ES256`,
//! §3.4: the signature is `r ‖ s`, 64 bytes) under an EC key (`kty` `EC`, `crv` `P-256`, `x`,
//! `y`). The key decides the one algorithm accepted. A token is accepted only if, in this order:
//! 1. it is at most [`MAX_TOKEN_LEN`] bytes and has exactly three non-empty parts of unpadded
//!    base64url (strict: padding and non-canonical trailing bits are refused);
//! 2. its header is a JSON object with `alg` exactly the configured key's (`RS256` or `ES256`;
//!    so `none`, `HS256` — the classic confusion attack where a public key is used as an HMAC
//!    secret — and everything else are refused before any key is used), no `crit` extensions,
//!    and a `kid` equal to the key's when both name one;
//! 3. the signature verifies under the configured key — claims are not even parsed before;
//! 4. `iss` equals the configured issuer, `aud` (a string or an array) contains the configured
//!    audience, `exp` is after `now`, and `nbf` (if present) is not after `now`;
//! 5. it names a subject (`sub`) and a payload (`chainsig_payload`, the signer's `payload_v2`
//!    JSON: `{"Ecdsa": "<32 bytes hex>"}` or `{"Eddsa": "<32..=1232 bytes hex>"}`), optionally a
//!    `chainsig_domain_id` (default 0) and a `near_account` that must be the caller.
//!
//! What is signed is bound to the token: the derivation path is `oauth/<iss>/<sub>` (one key
//! per user of the issuer; the issuer never changes for a deployed contract, so paths are
//! stable) and the payload is the token's own claim. Each token has a replay key — SHA-256 of
//! its `jti` when it has one, else of its signed part — that the contract records so a token is
//! used at most once.
//!
//! Caveats: times are whole seconds from the block timestamp, with no leeway; duplicate JSON
//! members are refused (serde's derived deserializers do so), which removes the "which `exp`
//! counts" ambiguity between parsers; RSA keys must be 2048 to 4096 bits. ES256 signatures are
//! accepted with high or low `s` (P-256 has no low-s rule); replay keys never depend on the
//! signature, so that malleability gives no second use.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use p256::ecdsa::signature::Verifier;
use rsa::traits::PublicKeyParts;
use rsa::{BigUint, Pkcs1v15Sign, RsaPublicKey};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// Longer tokens are refused before any decoding: bounds the work (and gas) a caller can cause.
pub const MAX_TOKEN_LEN: usize = 8 * 1024;
/// The signer's limit on a path's length (design §4.3).
pub const MAX_PATH_LEN: usize = 256;
/// RSA moduli below this are factorable in practice; above the upper bound verification gets
/// costly in gas for no gain.
pub const MIN_RSA_BITS: usize = 2048;
pub const MAX_RSA_BITS: usize = 4096;

/// Why a key or a token is refused. Messages name the rule, never the token's content.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("token is longer than {MAX_TOKEN_LEN} bytes")]
    TooLong,
    #[error("token is not a compact JWS: it needs three non-empty parts separated by '.'")]
    Malformed,
    #[error("token {0} is not unpadded base64url")]
    Base64(&'static str),
    #[error("token header is not a valid JSON object: {0}")]
    Header(String),
    #[error("token alg {alg:?} is not accepted: the issuer's key verifies only {expected}")]
    Alg { alg: String, expected: &'static str },
    #[error("token header has critical extensions, which this verifier does not implement")]
    Crit,
    #[error("token kid {token:?} is not the configured key's kid {key:?}")]
    Kid { token: String, key: String },
    #[error("token signature does not verify under the issuer's key")]
    Signature,
    #[error("token claims are not a valid JSON object: {0}")]
    Claims(String),
    #[error("token has no {0} claim")]
    Missing(&'static str),
    #[error("token issuer is not the configured issuer")]
    Issuer,
    #[error("token audience does not include the configured audience")]
    Audience,
    #[error("token expired at {exp}, now is {now}")]
    Expired { exp: u64, now: u64 },
    #[error("token is not valid before {nbf}, now is {now}")]
    NotYetValid { nbf: u64, now: u64 },
    #[error("token {0} claim is not a valid NumericDate")]
    Date(&'static str),
    #[error("token chainsig_payload is invalid: {0}")]
    Payload(String),
    #[error(
        "derivation path oauth/<iss>/<sub> would be {0} bytes, over the signer's {MAX_PATH_LEN}"
    )]
    PathTooLong(usize),
    #[error("token is bound to NEAR account {bound}, not the caller {caller}")]
    Caller { bound: String, caller: String },
    #[error("issuer key is invalid: {0}")]
    Key(String),
}

/// The issuer's public key as a JWK (what an OpenID provider publishes in its `jwks_uri`).
#[derive(
    Debug,
    Clone,
    PartialEq,
    Eq,
    Serialize,
    Deserialize,
    borsh::BorshSerialize,
    borsh::BorshDeserialize,
)]
pub struct Jwk {
    /// `RSA` or `EC`.
    pub kty: String,
    /// RSA: modulus, unsigned big-endian, base64url.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub n: Option<String>,
    /// RSA: public exponent, unsigned big-endian, base64url.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub e: Option<String>,
    /// EC: the curve, `P-256`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub crv: Option<String>,
    /// EC: the point's coordinates, 32 bytes big-endian each, base64url.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub x: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub y: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kid: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alg: Option<String>,
}

impl Jwk {
    /// The JWK of an RSA public key (for tests and tools).
    pub fn from_rsa(key: &RsaPublicKey, kid: Option<&str>) -> Self {
        Self {
            kty: "RSA".into(),
            n: Some(URL_SAFE_NO_PAD.encode(key.n().to_bytes_be())),
            e: Some(URL_SAFE_NO_PAD.encode(key.e().to_bytes_be())),
            crv: None,
            x: None,
            y: None,
            kid: kid.map(str::to_owned),
            alg: Some("RS256".into()),
        }
    }

    /// The JWK of a P-256 public key (for tests and tools).
    pub fn from_p256(key: &p256::ecdsa::VerifyingKey, kid: Option<&str>) -> Self {
        let point = key.to_encoded_point(false);
        Self {
            kty: "EC".into(),
            n: None,
            e: None,
            crv: Some("P-256".into()),
            x: point.x().map(|x| URL_SAFE_NO_PAD.encode(x)),
            y: point.y().map(|y| URL_SAFE_NO_PAD.encode(y)),
            kid: kid.map(str::to_owned),
            alg: Some("ES256".into()),
        }
    }

    /// Checks the key and returns it in usable form.
    pub fn to_key(&self) -> Result<IssuerKey, TokenError> {
        match self.kty.as_str() {
            "RSA" => self.to_rsa().map(IssuerKey::Rs256),
            "EC" => self.to_p256().map(IssuerKey::Es256),
            _ => Err(TokenError::Key("kty must be RSA or EC".into())),
        }
    }

    fn to_p256(&self) -> Result<p256::ecdsa::VerifyingKey, TokenError> {
        let bad = |m: &str| TokenError::Key(m.to_owned());
        if self.crv.as_deref() != Some("P-256") {
            return Err(bad("crv must be P-256"));
        }
        if self.alg.as_deref().is_some_and(|a| a != "ES256") {
            return Err(bad("alg must be ES256 when given"));
        }
        let coordinate = |c: &Option<String>, name: &str| {
            c.as_deref()
                .and_then(|c| b64(c).ok())
                .filter(|b| b.len() == 32)
                .ok_or_else(|| bad(&format!("{name} must be 32 bytes of base64url")))
        };
        let (x, y) = (coordinate(&self.x, "x")?, coordinate(&self.y, "y")?);
        let sec1 = [&[0x04u8][..], &x, &y].concat();
        p256::ecdsa::VerifyingKey::from_sec1_bytes(&sec1)
            .map_err(|_| bad("the point is not on P-256"))
    }

    fn to_rsa(&self) -> Result<RsaPublicKey, TokenError> {
        let bad = |m: &str| TokenError::Key(m.to_owned());
        if self.kty != "RSA" {
            return Err(bad("kty must be RSA"));
        }
        if self.alg.as_deref().is_some_and(|a| a != "RS256") {
            return Err(bad("alg must be RS256 when given"));
        }
        let part = |p: &Option<String>, m: &str| {
            p.as_deref().and_then(|p| b64(p).ok()).ok_or_else(|| bad(m))
        };
        let n = part(&self.n, "n is not base64url")?;
        let e = part(&self.e, "e is not base64url")?;
        let key = RsaPublicKey::new(BigUint::from_bytes_be(&n), BigUint::from_bytes_be(&e))
            .map_err(|e| TokenError::Key(e.to_string()))?;
        let bits = key.n().bits();
        if !(MIN_RSA_BITS..=MAX_RSA_BITS).contains(&bits) {
            return Err(TokenError::Key(format!(
                "modulus has {bits} bits, not {MIN_RSA_BITS} to {MAX_RSA_BITS}"
            )));
        }
        Ok(key)
    }
}

/// An issuer's public key, with the one algorithm it verifies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IssuerKey {
    Rs256(RsaPublicKey),
    Es256(p256::ecdsa::VerifyingKey),
}

impl IssuerKey {
    pub fn alg(&self) -> &'static str {
        match self {
            Self::Rs256(_) => "RS256",
            Self::Es256(_) => "ES256",
        }
    }

    /// Checks `signature` over `signed` (the token's first two parts).
    fn verify(&self, signed: &[u8], signature: &[u8]) -> Result<(), TokenError> {
        match self {
            Self::Rs256(key) => key
                .verify(
                    Pkcs1v15Sign::new::<Sha256>(),
                    &Sha256::digest(signed),
                    signature,
                )
                .map_err(|_| TokenError::Signature),
            Self::Es256(key) => {
                let sig = p256::ecdsa::Signature::from_slice(signature)
                    .map_err(|_| TokenError::Signature)?;
                key.verify(signed, &sig).map_err(|_| TokenError::Signature)
            }
        }
    }
}

/// What a token must match, as the contract is configured.
#[derive(Debug, Clone)]
pub struct Policy {
    pub issuer: String,
    pub audience: String,
    pub key: IssuerKey,
    pub kid: Option<String>,
}

impl Policy {
    pub fn new(issuer: &str, audience: &str, jwk: &Jwk) -> Result<Self, TokenError> {
        Ok(Self {
            issuer: issuer.to_owned(),
            audience: audience.to_owned(),
            key: jwk.to_key()?,
            kid: jwk.kid.clone(),
        })
    }
}

/// The payload to sign, exactly as the signer's `payload_v2` takes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Payload {
    Ecdsa(String),
    Eddsa(String),
}

/// A verified token's sign request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    pub sub: String,
    /// `oauth/<iss>/<sub>`.
    pub path: String,
    pub payload: Payload,
    pub domain_id: u64,
    pub exp: u64,
    /// SHA-256 of `jti` (or of the signed part when there is none): recorded as used.
    pub replay_key: [u8; 32],
}

#[derive(Deserialize)]
struct Header {
    alg: String,
    #[serde(default)]
    kid: Option<String>,
    #[serde(default)]
    crit: Option<serde_json::Value>,
    // `typ`, `cty` and others are informational and ignored (RFC 7515 §4.1).
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Audience {
    One(String),
    Many(Vec<String>),
}

#[derive(Deserialize)]
struct Claims {
    #[serde(default)]
    iss: Option<String>,
    #[serde(default)]
    sub: Option<String>,
    #[serde(default)]
    aud: Option<Audience>,
    #[serde(default)]
    exp: Option<serde_json::Number>,
    #[serde(default)]
    nbf: Option<serde_json::Number>,
    #[serde(default)]
    jti: Option<String>,
    #[serde(default)]
    chainsig_payload: Option<Payload>,
    #[serde(default)]
    chainsig_domain_id: Option<u64>,
    #[serde(default)]
    near_account: Option<String>,
}

fn b64(s: &str) -> Result<Vec<u8>, base64::DecodeError> {
    URL_SAFE_NO_PAD.decode(s)
}

/// A NumericDate in whole seconds: fractions are allowed by RFC 7519 and truncated; negative,
/// non-finite or absurd values are refused.
fn date(n: &serde_json::Number, name: &'static str) -> Result<u64, TokenError> {
    if let Some(v) = n.as_u64() {
        return Ok(v);
    }
    match n.as_f64() {
        Some(f) if f.is_finite() && (0.0..1.8e19).contains(&f) => Ok(f as u64),
        _ => Err(TokenError::Date(name)),
    }
}

fn check_payload(p: &Payload) -> Result<(), TokenError> {
    let (hex_str, range) = match p {
        Payload::Ecdsa(h) => (h, 32..=32),
        Payload::Eddsa(h) => (h, 32..=1232),
    };
    let bytes = hex::decode(hex_str).map_err(|_| TokenError::Payload("not hex".into()))?;
    if !range.contains(&bytes.len()) {
        return Err(TokenError::Payload(format!(
            "{} bytes, not {} to {}",
            bytes.len(),
            range.start(),
            range.end()
        )));
    }
    Ok(())
}

/// Verifies `token` under `policy` at `now` (Unix seconds) for a call by `caller`.
pub fn verify(policy: &Policy, token: &str, now: u64, caller: &str) -> Result<Grant, TokenError> {
    if token.len() > MAX_TOKEN_LEN {
        return Err(TokenError::TooLong);
    }
    let mut parts = token.split('.');
    let (Some(h64), Some(c64), Some(s64), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(TokenError::Malformed);
    };
    if h64.is_empty() || c64.is_empty() || s64.is_empty() {
        return Err(TokenError::Malformed);
    }
    let header_bytes = b64(h64).map_err(|_| TokenError::Base64("header"))?;
    let header: Header =
        serde_json::from_slice(&header_bytes).map_err(|e| TokenError::Header(e.to_string()))?;
    let expected = policy.key.alg();
    if header.alg != expected {
        return Err(TokenError::Alg {
            alg: header.alg,
            expected,
        });
    }
    if header.crit.is_some() {
        return Err(TokenError::Crit);
    }
    if let (Some(token_kid), Some(key_kid)) = (&header.kid, &policy.kid) {
        if token_kid != key_kid {
            return Err(TokenError::Kid {
                token: token_kid.clone(),
                key: key_kid.clone(),
            });
        }
    }
    let signature = b64(s64).map_err(|_| TokenError::Base64("signature"))?;
    // The signed part is the first two segments as sent, not a re-encoding.
    let signed = &token[..h64.len() + 1 + c64.len()];
    policy.key.verify(signed.as_bytes(), &signature)?;

    // Only a signed token's claims are parsed.
    let claims_bytes = b64(c64).map_err(|_| TokenError::Base64("claims"))?;
    let claims: Claims =
        serde_json::from_slice(&claims_bytes).map_err(|e| TokenError::Claims(e.to_string()))?;
    let iss = claims.iss.ok_or(TokenError::Missing("iss"))?;
    if iss != policy.issuer {
        return Err(TokenError::Issuer);
    }
    let aud_ok = match claims.aud.ok_or(TokenError::Missing("aud"))? {
        Audience::One(a) => a == policy.audience,
        Audience::Many(v) => v.contains(&policy.audience),
    };
    if !aud_ok {
        return Err(TokenError::Audience);
    }
    let exp = date(&claims.exp.ok_or(TokenError::Missing("exp"))?, "exp")?;
    if exp <= now {
        return Err(TokenError::Expired { exp, now });
    }
    if let Some(nbf) = &claims.nbf {
        let nbf = date(nbf, "nbf")?;
        if nbf > now {
            return Err(TokenError::NotYetValid { nbf, now });
        }
    }
    let sub = claims
        .sub
        .filter(|s| !s.is_empty())
        .ok_or(TokenError::Missing("sub"))?;
    let payload = claims
        .chainsig_payload
        .ok_or(TokenError::Missing("chainsig_payload"))?;
    check_payload(&payload)?;
    if let Some(bound) = claims.near_account {
        if bound != caller {
            return Err(TokenError::Caller {
                bound,
                caller: caller.to_owned(),
            });
        }
    }
    let path = subject_path(&iss, &sub);
    if path.len() > MAX_PATH_LEN {
        return Err(TokenError::PathTooLong(path.len()));
    }
    let replay_key = match &claims.jti {
        Some(jti) => Sha256::new()
            .chain_update(b"jti\0")
            .chain_update(jti.as_bytes())
            .finalize(),
        None => Sha256::new()
            .chain_update(b"jws\0")
            .chain_update(signed.as_bytes())
            .finalize(),
    }
    .into();
    Ok(Grant {
        sub,
        path,
        payload,
        domain_id: claims.chainsig_domain_id.unwrap_or(0),
        exp,
        replay_key,
    })
}

/// The derivation path of a subject: one key per (issuer, subject).
pub fn subject_path(iss: &str, sub: &str) -> String {
    format!("oauth/{iss}/{sub}")
}

/// Test support: an issuer that mints RS256 tokens (natively only; needs randomness).
#[cfg(test)]
pub mod test_issuer {
    use super::*;
    use rsa::RsaPrivateKey;

    pub struct Issuer {
        pub key: RsaPrivateKey,
        pub kid: Option<String>,
    }

    impl Issuer {
        pub fn new(bits: usize) -> Self {
            let mut rng = rand::thread_rng();
            Self {
                key: RsaPrivateKey::new(&mut rng, bits).expect("key generation"),
                kid: Some("test-key-1".into()),
            }
        }

        pub fn jwk(&self) -> Jwk {
            Jwk::from_rsa(&self.key.to_public_key(), self.kid.as_deref())
        }

        /// A token with exactly this header and these claims.
        pub fn mint_raw(&self, header: &serde_json::Value, claims: &serde_json::Value) -> String {
            let signed = format!(
                "{}.{}",
                URL_SAFE_NO_PAD.encode(serde_json::to_vec(header).unwrap()),
                URL_SAFE_NO_PAD.encode(serde_json::to_vec(claims).unwrap())
            );
            let digest = Sha256::digest(signed.as_bytes());
            let sig = self
                .key
                .sign(Pkcs1v15Sign::new::<Sha256>(), &digest)
                .unwrap();
            format!("{signed}.{}", URL_SAFE_NO_PAD.encode(sig))
        }

        pub fn mint(&self, claims: &serde_json::Value) -> String {
            let header = serde_json::json!({"alg": "RS256", "typ": "JWT", "kid": self.kid});
            self.mint_raw(&header, claims)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::test_issuer::Issuer;
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;
    use std::sync::OnceLock;

    const ISS: &str = "https://issuer.example";
    const AUD: &str = "chainsig-dapp";
    const NOW: u64 = 1_800_000_000;
    const PAYLOAD: &str = "1111111111111111111111111111111111111111111111111111111111111111";

    /// Key generation is slow in debug builds: one issuer for all tests.
    fn issuer() -> &'static Issuer {
        static I: OnceLock<Issuer> = OnceLock::new();
        I.get_or_init(|| Issuer::new(2048))
    }

    fn policy() -> Policy {
        Policy::new(ISS, AUD, &issuer().jwk()).unwrap()
    }

    fn claims() -> serde_json::Value {
        json!({
            "iss": ISS, "aud": AUD, "sub": "user-42", "exp": NOW + 600, "nbf": NOW - 10,
            "iat": NOW - 10, "jti": "t-1", "chainsig_payload": {"Ecdsa": PAYLOAD}
        })
    }

    fn with(f: impl FnOnce(&mut serde_json::Value)) -> String {
        let mut c = claims();
        f(&mut c);
        issuer().mint(&c)
    }

    fn check(token: &str) -> Result<Grant, TokenError> {
        verify(&policy(), token, NOW, "alice.devnet")
    }

    #[test]
    fn a_valid_token_grants_its_subject_path_and_payload() {
        let g = check(&issuer().mint(&claims())).unwrap();
        assert_eq!(g.sub, "user-42");
        assert_eq!(g.path, "oauth/https://issuer.example/user-42");
        assert_eq!(g.payload, Payload::Ecdsa(PAYLOAD.into()));
        assert_eq!(g.domain_id, 0);
        assert_eq!(g.exp, NOW + 600);
        let expected: [u8; 32] = Sha256::digest(b"jti\0t-1").into();
        assert_eq!(g.replay_key, expected);
    }

    #[test]
    fn audience_arrays_fractional_dates_and_eddsa_payloads_are_accepted() {
        let t = with(|c| {
            c["aud"] = json!(["other", AUD]);
            c["exp"] = json!((NOW + 1) as f64 + 0.5);
            c["chainsig_payload"] = json!({"Eddsa": "ab".repeat(40)});
            c["chainsig_domain_id"] = json!(1);
        });
        let g = check(&t).unwrap();
        assert_eq!(g.domain_id, 1);
        assert!(matches!(g.payload, Payload::Eddsa(_)));
    }

    #[test]
    fn without_jti_the_replay_key_is_the_signed_part() {
        let t = with(|c| {
            c.as_object_mut().unwrap().remove("jti");
        });
        let g = check(&t).unwrap();
        let signed = &t[..t.rfind('.').unwrap()];
        let expected: [u8; 32] = Sha256::new()
            .chain_update(b"jws\0")
            .chain_update(signed)
            .finalize()
            .into();
        assert_eq!(g.replay_key, expected);
    }

    #[test]
    fn time_rules() {
        let t = with(|c| c["exp"] = json!(NOW));
        assert_eq!(check(&t), Err(TokenError::Expired { exp: NOW, now: NOW }));
        let t = with(|c| c["nbf"] = json!(NOW + 1));
        assert_eq!(
            check(&t),
            Err(TokenError::NotYetValid {
                nbf: NOW + 1,
                now: NOW
            })
        );
        let t = with(|c| c["exp"] = json!(-5));
        assert_eq!(check(&t), Err(TokenError::Date("exp")));
        let t = with(|c| {
            c.as_object_mut().unwrap().remove("exp");
        });
        assert_eq!(check(&t), Err(TokenError::Missing("exp")));
    }

    #[test]
    fn issuer_audience_subject_and_payload_rules() {
        assert_eq!(
            check(&with(|c| c["iss"] = json!("https://evil"))),
            Err(TokenError::Issuer)
        );
        assert_eq!(
            check(&with(|c| c["aud"] = json!("other"))),
            Err(TokenError::Audience)
        );
        assert_eq!(
            check(&with(|c| c["aud"] = json!([]))),
            Err(TokenError::Audience)
        );
        assert_eq!(
            check(&with(|c| c["sub"] = json!(""))),
            Err(TokenError::Missing("sub"))
        );
        assert_eq!(
            check(&with(|c| {
                c.as_object_mut().unwrap().remove("chainsig_payload");
            })),
            Err(TokenError::Missing("chainsig_payload"))
        );
        assert!(matches!(
            check(&with(|c| c["chainsig_payload"] = json!({"Ecdsa": "abcd"}))),
            Err(TokenError::Payload(_))
        ));
        assert!(matches!(
            check(&with(
                |c| c["chainsig_payload"] = json!({"Ecdsa": "zz".repeat(32)})
            )),
            Err(TokenError::Payload(_))
        ));
        assert!(matches!(
            check(&with(
                |c| c["chainsig_payload"] = json!({"Schnorr": PAYLOAD})
            )),
            Err(TokenError::Claims(_))
        ));
        assert_eq!(
            check(&with(|c| c["sub"] = json!("x".repeat(250)))),
            Err(TokenError::PathTooLong(6 + ISS.len() + 1 + 250))
        );
        assert_eq!(
            check(&with(|c| c["near_account"] = json!("bob.devnet"))),
            Err(TokenError::Caller {
                bound: "bob.devnet".into(),
                caller: "alice.devnet".into()
            })
        );
        assert!(check(&with(|c| c["near_account"] = json!("alice.devnet"))).is_ok());
    }

    #[test]
    fn duplicate_claims_are_refused() {
        // Built by hand: serde_json's Value cannot hold duplicates.
        let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"RS256"}"#);
        let body = claims().to_string();
        let dup = format!(r#"{{"exp":{},{}"#, NOW + 999_999, &body[1..]);
        let signed = format!("{header}.{}", URL_SAFE_NO_PAD.encode(dup));
        let sig = issuer()
            .key
            .sign(
                Pkcs1v15Sign::new::<Sha256>(),
                &Sha256::digest(signed.as_bytes()),
            )
            .unwrap();
        let t = format!("{signed}.{}", URL_SAFE_NO_PAD.encode(sig));
        assert!(matches!(check(&t), Err(TokenError::Claims(m)) if m.contains("duplicate")));
    }

    #[test]
    fn wrong_algorithms_are_refused_before_the_key_is_used() {
        for alg in ["none", "HS256", "RS384", "ES256", "rs256", "PS256"] {
            let t = issuer().mint_raw(&json!({"alg": alg}), &claims());
            assert_eq!(
                check(&t),
                Err(TokenError::Alg {
                    alg: alg.into(),
                    expected: "RS256"
                }),
                "{alg}"
            );
        }
        // The `none` attack's usual form: an empty signature.
        let mut t = issuer().mint_raw(&json!({"alg": "none"}), &claims());
        t.truncate(t.rfind('.').unwrap() + 1);
        assert_eq!(check(&t), Err(TokenError::Malformed));
        let t = issuer().mint_raw(&json!({"alg": "RS256", "crit": ["exp"]}), &claims());
        assert_eq!(check(&t), Err(TokenError::Crit));
        let t = issuer().mint_raw(&json!({"alg": "RS256", "kid": "other"}), &claims());
        assert!(matches!(check(&t), Err(TokenError::Kid { .. })));
        let t = issuer().mint_raw(&json!({"typ": "JWT"}), &claims());
        assert!(matches!(check(&t), Err(TokenError::Header(_))));
    }

    #[test]
    fn tampering_anywhere_breaks_the_signature() {
        let t = issuer().mint(&claims());
        let parts: Vec<&str> = t.split('.').collect();
        // Claims re-signed by nobody: a later expiry.
        let mut c = claims();
        c["exp"] = json!(NOW + 999_999);
        let forged = format!(
            "{}.{}.{}",
            parts[0],
            URL_SAFE_NO_PAD.encode(c.to_string()),
            parts[2]
        );
        assert_eq!(check(&forged), Err(TokenError::Signature));
        // Every signature byte matters.
        let mut sig = b64(parts[2]).unwrap();
        sig[100] ^= 1;
        let t2 = format!("{}.{}.{}", parts[0], parts[1], URL_SAFE_NO_PAD.encode(&sig));
        assert_eq!(check(&t2), Err(TokenError::Signature));
        // A signature of another length.
        let t3 = format!(
            "{}.{}.{}",
            parts[0],
            parts[1],
            URL_SAFE_NO_PAD.encode(&sig[1..])
        );
        assert_eq!(check(&t3), Err(TokenError::Signature));
        // Another issuer's key.
        let other = Issuer::new(2048);
        assert_eq!(check(&other.mint(&claims())), Err(TokenError::Signature));
    }

    #[test]
    fn encoding_rules() {
        let t = issuer().mint(&claims());
        assert_eq!(check(&format!("{t}.")), Err(TokenError::Malformed));
        assert_eq!(check("a.b"), Err(TokenError::Malformed));
        assert_eq!(check(""), Err(TokenError::Malformed));
        assert_eq!(
            check(&format!("{t}=")),
            Err(TokenError::Base64("signature"))
        );
        let (h, rest) = t.split_once('.').unwrap();
        assert_eq!(
            check(&format!("{h}+.{rest}")),
            Err(TokenError::Base64("header"))
        );
        assert_eq!(
            check(&"a".repeat(MAX_TOKEN_LEN + 1)),
            Err(TokenError::TooLong)
        );
    }

    #[test]
    fn keys_are_checked() {
        let mut k = issuer().jwk();
        k.kty = "EC".into();
        assert!(matches!(k.to_key(), Err(TokenError::Key(_))));
        let mut k = issuer().jwk();
        k.kty = "oct".into();
        assert!(matches!(k.to_key(), Err(TokenError::Key(_))));
        let mut k = issuer().jwk();
        k.alg = Some("HS256".into());
        assert!(matches!(k.to_key(), Err(TokenError::Key(_))));
        let mut k = issuer().jwk();
        k.n = Some(URL_SAFE_NO_PAD.encode([0xffu8; 128])); // 1024 bits: too short
        assert!(matches!(k.to_key(), Err(TokenError::Key(m)) if m.contains("1024")));
        let mut k = issuer().jwk();
        k.n = Some("!!".into());
        assert!(matches!(k.to_key(), Err(TokenError::Key(_))));
        k.n = None;
        assert!(matches!(k.to_key(), Err(TokenError::Key(_))));
        let json = serde_json::to_string(&issuer().jwk()).unwrap();
        let back: Jwk = serde_json::from_str(&json).unwrap();
        assert_eq!(
            back.to_key().unwrap(),
            IssuerKey::Rs256(issuer().key.to_public_key())
        );

        let ec = Jwk::from_p256(es_key().verifying_key(), Some("ec-1"));
        assert_eq!(
            ec.to_key().unwrap(),
            IssuerKey::Es256(*es_key().verifying_key())
        );
        let mut k = ec.clone();
        k.crv = Some("P-384".into());
        assert!(matches!(k.to_key(), Err(TokenError::Key(_))));
        let mut k = ec.clone();
        k.alg = Some("RS256".into());
        assert!(matches!(k.to_key(), Err(TokenError::Key(_))));
        let mut k = ec.clone();
        k.y = k.x.clone(); // (x, x) is not on the curve
        assert!(matches!(k.to_key(), Err(TokenError::Key(m)) if m.contains("not on P-256")));
        let mut k = ec;
        k.x = Some(URL_SAFE_NO_PAD.encode([1u8; 31]));
        assert!(matches!(k.to_key(), Err(TokenError::Key(m)) if m.contains("32 bytes")));
    }

    fn es_key() -> p256::ecdsa::SigningKey {
        p256::ecdsa::SigningKey::from_bytes(&[5u8; 32].into()).unwrap()
    }

    /// An ES256 token: the JWS signature is `r ‖ s`, not DER.
    fn mint_es256(header: &serde_json::Value, claims: &serde_json::Value) -> String {
        use p256::ecdsa::signature::Signer;
        let signed = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let sig: p256::ecdsa::Signature = es_key().sign(signed.as_bytes());
        format!("{signed}.{}", URL_SAFE_NO_PAD.encode(sig.to_bytes()))
    }

    #[test]
    fn es256_tokens_verify_under_an_ec_key_and_only_there() {
        let ec = Policy::new(
            ISS,
            AUD,
            &Jwk::from_p256(es_key().verifying_key(), Some("ec-1")),
        )
        .unwrap();
        let header = json!({"alg": "ES256", "kid": "ec-1"});
        let t = mint_es256(&header, &claims());
        let g = verify(&ec, &t, NOW, "alice.devnet").unwrap();
        assert_eq!(g.path, "oauth/https://issuer.example/user-42");
        // The same claims under RS256, against the EC key: refused by alg, before the key.
        assert_eq!(
            verify(&ec, &issuer().mint(&claims()), NOW, "a"),
            Err(TokenError::Alg {
                alg: "RS256".into(),
                expected: "ES256"
            })
        );
        let t2 = mint_es256(&json!({"alg": "ES256", "kid": "other"}), &claims());
        assert_eq!(
            verify(&ec, &t2, NOW, "a"),
            Err(TokenError::Kid {
                token: "other".into(),
                key: "ec-1".into()
            })
        );
        // An ES256 token against the RSA key is refused by alg too.
        assert_eq!(
            check(&mint_es256(&json!({"alg": "ES256"}), &claims())),
            Err(TokenError::Alg {
                alg: "ES256".into(),
                expected: "RS256"
            })
        );
        // Tampered claims, a flipped signature bit, a DER signature: refused.
        let parts: Vec<&str> = t.split('.').collect();
        let mut c = claims();
        c["sub"] = json!("mallory");
        let forged = format!(
            "{}.{}.{}",
            parts[0],
            URL_SAFE_NO_PAD.encode(c.to_string()),
            parts[2]
        );
        assert_eq!(verify(&ec, &forged, NOW, "a"), Err(TokenError::Signature));
        let mut sig = b64(parts[2]).unwrap();
        sig[40] ^= 4;
        let flipped = format!("{}.{}.{}", parts[0], parts[1], URL_SAFE_NO_PAD.encode(&sig));
        assert_eq!(verify(&ec, &flipped, NOW, "a"), Err(TokenError::Signature));
        let der = p256::ecdsa::Signature::from_slice(&b64(parts[2]).unwrap())
            .unwrap()
            .to_der();
        let der_token = format!(
            "{}.{}.{}",
            parts[0],
            parts[1],
            URL_SAFE_NO_PAD.encode(der.as_bytes())
        );
        assert_eq!(
            verify(&ec, &der_token, NOW, "a"),
            Err(TokenError::Signature)
        );
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        /// Arbitrary bytes never panic and never pass.
        #[test]
        fn arbitrary_input_is_refused_without_panic(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
            let s = String::from_utf8_lossy(&bytes);
            prop_assert!(check(&s).is_err());
        }

        /// Three base64url parts of arbitrary content: the parser's deeper paths.
        #[test]
        fn arbitrary_parts_are_refused_without_panic(
            h in proptest::collection::vec(any::<u8>(), 0..80),
            c in proptest::collection::vec(any::<u8>(), 0..200),
            s in proptest::collection::vec(any::<u8>(), 0..300),
        ) {
            let t = format!("{}.{}.{}", URL_SAFE_NO_PAD.encode(&h), URL_SAFE_NO_PAD.encode(&c), URL_SAFE_NO_PAD.encode(&s));
            prop_assert!(check(&t).is_err());
            // The same with a valid RS256 header: reaches the signature check.
            let t = format!("{}.{}.{}", URL_SAFE_NO_PAD.encode(br#"{"alg":"RS256"}"#), URL_SAFE_NO_PAD.encode(&c), URL_SAFE_NO_PAD.encode(&s));
            prop_assert!(check(&t).is_err());
        }

        /// Any single-byte change to a valid token is refused.
        #[test]
        fn any_byte_flip_is_refused(pos in 0usize..400, bit in 0u8..7) {
            let t = issuer().mint(&claims());
            let mut b = t.into_bytes();
            let i = pos % b.len();
            b[i] ^= 1 << bit;
            let s = String::from_utf8_lossy(&b);
            prop_assert!(check(&s).is_err());
        }
    }
}
