//! Asking the signer contract for a signature, and checking it before anyone uses it.
//!
//! [`Signer`] wraps a NEAR RPC client for one account: it reads a domain's scheme and root key
//! from the contract's `state` view, derives the account's key for a path (docs/design.md §4.1), sends
//! `sign` with 1 yoctoNEAR and waits for the answer. Every answer is verified against the
//! derived key with the libraries the foreign chains verify with ([`primitives::verify`]),
//! independently of the contract's own rule — a client never assembles a foreign transaction
//! around a signature that would not verify.

use chain::{Call, Chain, ChainError, NearRpc};
use contract::views::StateView;
use primitives::derivation::derive_public_key;
use primitives::request::{Payload, SignRequestArgs};
use primitives::response::SignatureResponse;
use primitives::{DomainId, NearPublicKey, SignatureScheme};

/// Why a signature could not be had.
#[derive(Debug, thiserror::Error)]
pub enum SignError {
    #[error("the signer contract has no {asked}; it has: {known}")]
    NoDomain { asked: String, known: String },
    #[error("this payload cannot be signed: {0}")]
    Payload(String),
    #[error("cannot derive a key for this account and path: {0}")]
    Derive(String),
    #[error("the chain: {0}")]
    Chain(#[from] ChainError),
    #[error("the contract answered something unexpected: {0}")]
    Unexpected(String),
    #[error("the network's signature does not verify under the derived key: {0}")]
    Invalid(String),
    #[error("not a sign request of this account: {0}")]
    NotASign(String),
}

/// One domain of the signer contract, as its `state` view shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Domain {
    pub id: u64,
    pub scheme: SignatureScheme,
    pub root: NearPublicKey,
}

/// A verified signature and the key it verifies under.
#[derive(Debug, Clone)]
pub struct Signed {
    pub derived_key: NearPublicKey,
    pub response: SignatureResponse,
}

/// Requests signatures from the signer contract as one NEAR account.
pub struct Signer {
    rpc: NearRpc,
    account: String,
}

impl Signer {
    /// `rpc` sends as `account`; use [`NearRpc::read_only`] for views only.
    pub fn new(rpc: NearRpc, account: impl Into<String>) -> Self {
        Self {
            rpc,
            account: account.into(),
        }
    }

    /// The account whose derived keys this signer asks for.
    pub fn account(&self) -> &str {
        &self.account
    }

    /// The contract's `state()` view.
    pub async fn state(&self) -> Result<StateView, SignError> {
        Ok(self.rpc.state().await?)
    }

    /// Every domain of the contract, as it has them now.
    pub async fn domains(&self) -> Result<Vec<Domain>, SignError> {
        let state = self.state().await?;
        Ok(state
            .domains
            .iter()
            .map(|d| Domain {
                id: d.id.0,
                scheme: d.scheme,
                root: d.public_key,
            })
            .collect())
    }

    /// The domain `id`, or the first domain of `scheme` when no id is given; an error that
    /// lists the contract's domains when there is no such domain.
    pub async fn domain(
        &self,
        id: Option<u64>,
        scheme: Option<SignatureScheme>,
    ) -> Result<Domain, SignError> {
        let all = self.domains().await?;
        let found = all
            .iter()
            .find(|d| id.is_none_or(|id| d.id == id) && scheme.is_none_or(|s| d.scheme == s))
            .cloned();
        found.ok_or_else(|| {
            let known: Vec<String> = all
                .iter()
                .map(|d| format!("{} ({:?})", d.id, d.scheme))
                .collect();
            SignError::NoDomain {
                asked: match (id, scheme) {
                    (Some(id), Some(s)) => format!("domain {id} with {s:?}"),
                    (Some(id), None) => format!("domain {id}"),
                    (None, Some(s)) => format!("{s:?} domain"),
                    (None, None) => "domain".to_owned(),
                },
                known: if known.is_empty() {
                    "none".to_owned()
                } else {
                    known.join(", ")
                },
            }
        })
    }

    /// This account's key for `path` on `domain`.
    pub fn derived_key(&self, domain: &Domain, path: &str) -> Result<NearPublicKey, SignError> {
        derive_public_key(&domain.root, &self.account, path)
            .map_err(|e| SignError::Derive(e.to_string()))
    }

    /// Asks for a signature of `message` (a 32-byte hash for Secp256k1 domains, the message
    /// itself for Ed25519 and Bip340) and waits for it; the answer is verified.
    pub async fn sign(
        &self,
        domain: &Domain,
        path: &str,
        message: &[u8],
    ) -> Result<Signed, SignError> {
        let sent = self.submit(domain, path, message).await?;
        self.answer(&sent).await
    }

    /// Signatures of several messages under one path, all requested at once (the transactions
    /// are admitted in nonce order, then answered concurrently), in the messages' order;
    /// `done` hears how many have been answered after each one.
    pub async fn sign_all<M: AsRef<[u8]>>(
        &self,
        domain: &Domain,
        path: &str,
        messages: &[M],
        done: impl Fn(usize),
    ) -> Result<Vec<SignatureResponse>, SignError> {
        let answered = std::sync::atomic::AtomicUsize::new(0);
        futures_util::future::try_join_all(messages.iter().map(|m| async {
            let signed = self.sign(domain, path, m.as_ref()).await?;
            done(answered.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1);
            Ok(signed.response)
        }))
        .await
    }

    /// Sends the `sign` transaction (1 yoctoNEAR attached) and returns once the chain has
    /// admitted it: its hash is what [`Signer::resume`] needs if the wait for the answer is
    /// cut short.
    pub async fn submit(
        &self,
        domain: &Domain,
        path: &str,
        message: &[u8],
    ) -> Result<Sent, SignError> {
        let payload = payload_for(domain.scheme, message);
        payload
            .check_for(domain.scheme)
            .map_err(|e| SignError::Payload(e.to_string()))?;
        self.derived_key(domain, path)?;
        let call = sign_call(domain.id, path, &payload);
        let tx_hash = self
            .rpc
            .send(call.method_name(), call.args_json(), 1)
            .await?;
        Ok(Sent {
            tx_hash: tx_hash.to_string(),
            domain: domain.clone(),
            path: path.to_owned(),
            payload,
        })
    }

    /// Waits for the answer to a `sign` sent with [`Signer::submit`] and verifies it.
    pub async fn answer(&self, sent: &Sent) -> Result<Signed, SignError> {
        let hash = sent
            .tx_hash
            .parse()
            .map_err(|_| SignError::Unexpected(format!("bad hash {}", sent.tx_hash)))?;
        let value = self.rpc.outcome(hash).await?;
        self.verified(sent, &value)
    }

    /// The answer to a `sign` this account sent earlier, by its transaction's hash: the
    /// request is read back from the transaction, its answer fetched and verified — nothing is
    /// sent, nothing paid. For a client that gave up waiting (`chainsig sign --resume`).
    pub async fn resume(&self, tx_hash: &str) -> Result<(Sent, Signed), SignError> {
        let call = self.rpc.earlier_call(tx_hash).await?;
        if call.method != "sign" {
            return Err(SignError::NotASign(format!(
                "transaction {tx_hash} called {}.{}",
                call.receiver, call.method
            )));
        }
        let args: primitives::request::SignArgs = serde_json::from_slice(&call.args)
            .map_err(|e| SignError::NotASign(format!("its arguments do not parse: {e}")))?;
        let request = args
            .request
            .normalize()
            .map_err(|e| SignError::NotASign(format!("its request is malformed: {e}")))?;
        let domain = self.domain(Some(request.domain_id.0), None).await?;
        let sent = Sent {
            tx_hash: tx_hash.to_owned(),
            domain,
            path: request.path,
            payload: request.payload,
        };
        let value = call.result?;
        let signed = self.verified(&sent, &value)?;
        Ok((sent, signed))
    }

    /// The contract's answer to `sent`, parsed and verified.
    fn verified(&self, sent: &Sent, value: &[u8]) -> Result<Signed, SignError> {
        let response: SignatureResponse =
            serde_json::from_slice(value).map_err(|e| SignError::Unexpected(e.to_string()))?;
        check_answer(
            &sent.domain,
            &self.account,
            &sent.path,
            &sent.payload,
            &response,
        )?;
        Ok(Signed {
            derived_key: self.derived_key(&sent.domain, &sent.path)?,
            response,
        })
    }
}

/// A `sign` transaction the chain has admitted, and what it asks for.
#[derive(Debug, Clone)]
pub struct Sent {
    /// The transaction's hash, base58 as NEAR prints it.
    pub tx_hash: String,
    pub domain: Domain,
    pub path: String,
    pub payload: Payload,
}

/// Whether `response` is a signature of `payload` for `predecessor` under `path` on `domain`,
/// in the form the domain's scheme returns.
pub fn check_answer(
    domain: &Domain,
    predecessor: &str,
    path: &str,
    payload: &Payload,
    response: &SignatureResponse,
) -> Result<(), SignError> {
    let fits = match response {
        SignatureResponse::Secp256k1(_) => domain.scheme.is_ecdsa(),
        SignatureResponse::Ed25519 { .. } => domain.scheme == SignatureScheme::Ed25519,
        SignatureResponse::Bip340 { .. } => domain.scheme == SignatureScheme::Bip340,
    };
    if !fits {
        return Err(SignError::Invalid(format!(
            "a {} signature answers a {:?} domain",
            response.kind(),
            domain.scheme
        )));
    }
    primitives::verify::verify_signature(
        &domain.root,
        predecessor,
        path,
        payload.as_bytes(),
        response,
    )
    .map_err(|e| SignError::Invalid(e.to_string()))
}

/// The payload form a domain of `scheme` takes.
pub fn payload_for(scheme: SignatureScheme, message: &[u8]) -> Payload {
    match scheme {
        SignatureScheme::Secp256k1 | SignatureScheme::V2Secp256k1 => {
            Payload::Ecdsa(message.to_vec())
        }
        SignatureScheme::Ed25519 | SignatureScheme::Bip340 => Payload::Eddsa(message.to_vec()),
    }
}

/// The `sign` call for `payload` under `path` on domain `domain` (docs/design.md §4.3).
pub fn sign_call(domain: u64, path: &str, payload: &Payload) -> Call {
    Call::Sign {
        request: SignRequestArgs {
            path: path.to_owned(),
            payload_v2: Some(payload.clone()),
            legacy_payload: None,
            domain_id: Some(DomainId(domain)),
            key_version: None,
        },
    }
}

/// `sign`'s JSON arguments, as the function call carries them.
pub fn sign_args(domain: u64, path: &str, payload: &Payload) -> Vec<u8> {
    sign_call(domain, path, payload).args_json()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sign_args_are_the_contracts_json() {
        let args = sign_args(2, "bitcoin-1", &Payload::Eddsa(vec![0xab; 32]));
        let v: serde_json::Value = serde_json::from_slice(&args).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"request": {
                "path": "bitcoin-1",
                "payload_v2": {"Eddsa": "ab".repeat(32)},
                "domain_id": 2
            }})
        );
        // The contract reads it back into the same request.
        let parsed: primitives::request::SignArgs = serde_json::from_slice(&args).unwrap();
        let request = parsed.request.normalize().unwrap();
        assert_eq!(request.payload, Payload::Eddsa(vec![0xab; 32]));
    }

    #[test]
    fn payload_forms_follow_the_scheme() {
        assert!(matches!(
            payload_for(SignatureScheme::Secp256k1, &[1; 32]),
            Payload::Ecdsa(_)
        ));
        assert!(matches!(
            payload_for(SignatureScheme::Bip340, &[1; 32]),
            Payload::Eddsa(_)
        ));
        // A hash that is not a valid scalar is refused before anything is sent.
        let p = payload_for(SignatureScheme::Secp256k1, &[0xff; 32]);
        assert!(p.check_for(SignatureScheme::Secp256k1).is_err());
    }
}
