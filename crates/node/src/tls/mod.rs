//! Mutually authenticated TLS 1.3 between participants (docs/design.md §8.2).
//!
//! There is no certificate authority: a node's identity is its ed25519 TLS key, which the
//! contract lists for it. Each node presents a self-signed certificate made from that key, and
//! both sides accept the peer only if the certificate's key is the one registered for it —
//! the client checks the server against the one key it meant to dial, the server checks the
//! client against the keys of the current participant set. rustls still verifies the
//! handshake signature, so presenting someone else's certificate without its key fails.
//! Only TLS 1.3 and ed25519 are offered.

use primitives::ParticipantId;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{ring, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::{
    ClientConfig, DigitallySignedStruct, DistinguishedName, ServerConfig, SignatureScheme,
};
use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};

use crate::identity::NearKey;

/// The name every node's certificate carries; identity is the key, not the name.
pub const PEER_NAME: &str = "chainsig-peer";

/// PKCS#8 v1 prefix of an ed25519 private key (RFC 8410): the 32-byte seed follows.
const PKCS8_ED25519_PREFIX: [u8; 16] = [
    0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20,
];
/// SubjectPublicKeyInfo prefix of an ed25519 public key (RFC 8410): the 32-byte key follows.
const SPKI_ED25519_PREFIX: [u8; 12] = [
    0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
];

/// Why TLS could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("cannot make the node's certificate: {0}")]
    Certificate(String),
    #[error("TLS configuration: {0}")]
    Config(#[from] rustls::Error),
}

/// The TLS keys of the current participants, as the contract lists them. The mesh replaces
/// the map at each epoch; connections check against whatever it holds then.
pub type PeerKeys = Arc<RwLock<BTreeMap<ParticipantId, [u8; 32]>>>;

fn provider() -> Arc<CryptoProvider> {
    Arc::new(ring::default_provider())
}

/// The node's self-signed certificate and its private key, from its TLS key.
pub fn certificate(
    key: &NearKey,
) -> Result<(CertificateDer<'static>, PrivateKeyDer<'static>), TlsError> {
    let mut pkcs8 = zeroize::Zeroizing::new(PKCS8_ED25519_PREFIX.to_vec());
    pkcs8.extend_from_slice(key.signing_key().as_bytes());
    let der = PrivatePkcs8KeyDer::from(pkcs8.to_vec());
    let key_pair = rcgen::KeyPair::from_pkcs8_der_and_sign_algo(&der, &rcgen::PKCS_ED25519)
        .map_err(|e| TlsError::Certificate(e.to_string()))?;
    let cert = rcgen::CertificateParams::new(vec![PEER_NAME.to_owned()])
        .and_then(|p| p.self_signed(&key_pair))
        .map_err(|e| TlsError::Certificate(e.to_string()))?;
    Ok((cert.der().clone(), PrivateKeyDer::Pkcs8(der)))
}

/// The ed25519 key a certificate carries.
pub fn key_of(cert: &CertificateDer<'_>) -> Result<[u8; 32], rustls::Error> {
    let parsed = webpki::EndEntityCert::try_from(cert)
        .map_err(|e| rustls::Error::General(format!("unparsable peer certificate: {e}")))?;
    let spki = parsed.subject_public_key_info();
    spki.as_ref()
        .strip_prefix(&SPKI_ED25519_PREFIX[..])
        .and_then(|k| <[u8; 32]>::try_from(k).ok())
        .ok_or_else(|| rustls::Error::General("peer certificate key is not ed25519".into()))
}

/// TLS 1.2 is never negotiated (only 1.3 is offered); refuse if asked anyway.
fn tls12_refused() -> Result<HandshakeSignatureValid, rustls::Error> {
    Err(rustls::Error::General("TLS 1.2 is not offered".into()))
}

fn verify_signature(
    message: &[u8],
    cert: &CertificateDer<'_>,
    dss: &DigitallySignedStruct,
) -> Result<HandshakeSignatureValid, rustls::Error> {
    verify_tls13_signature(
        message,
        cert,
        dss,
        &provider().signature_verification_algorithms,
    )
}

/// The client side: the server must present exactly the key we meant to dial.
#[derive(Debug)]
struct ExpectKey([u8; 32]);

impl ServerCertVerifier for ExpectKey {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        if key_of(end_entity)? == self.0 {
            Ok(ServerCertVerified::assertion())
        } else {
            Err(rustls::Error::General(
                "peer presented a TLS key other than the one registered for it".into(),
            ))
        }
    }

    fn verify_tls12_signature(
        &self,
        _: &[u8],
        _: &CertificateDer<'_>,
        _: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        tls12_refused()
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        vec![SignatureScheme::ED25519]
    }
}

/// The server side: the client must present the key of a current participant.
#[derive(Debug)]
struct RegisteredPeers(PeerKeys);

impl ClientCertVerifier for RegisteredPeers {
    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &[]
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        let key = key_of(end_entity)?;
        let peers = self.0.read().unwrap_or_else(|e| e.into_inner());
        if peers.values().any(|k| *k == key) {
            Ok(ClientCertVerified::assertion())
        } else {
            Err(rustls::Error::General(
                "client presented a TLS key no participant has registered".into(),
            ))
        }
    }

    fn verify_tls12_signature(
        &self,
        _: &[u8],
        _: &CertificateDer<'_>,
        _: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        tls12_refused()
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        vec![SignatureScheme::ED25519]
    }
}

/// TLS for accepting peers: client certificates required, checked against `peers`.
pub fn server_config(key: &NearKey, peers: PeerKeys) -> Result<Arc<ServerConfig>, TlsError> {
    let (cert, private) = certificate(key)?;
    let config = ServerConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&rustls::version::TLS13])?
        .with_client_cert_verifier(Arc::new(RegisteredPeers(peers)))
        .with_single_cert(vec![cert], private)?;
    Ok(Arc::new(config))
}

/// TLS for dialing the peer whose registered key is `expected`.
pub fn client_config(key: &NearKey, expected: [u8; 32]) -> Result<Arc<ClientConfig>, TlsError> {
    let (cert, private) = certificate(key)?;
    let config = ClientConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&rustls::version::TLS13])?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(ExpectKey(expected)))
        .with_client_auth_cert(vec![cert], private)?;
    Ok(Arc::new(config))
}

/// Which participant is on the other end of an established connection.
pub fn peer_participant(
    peer_certs: Option<&[CertificateDer<'_>]>,
    peers: &PeerKeys,
) -> Option<ParticipantId> {
    participant_with_key(peers, key_of(peer_certs?.first()?).ok()?)
}

/// The participant registered with this TLS key, if any.
pub fn participant_with_key(peers: &PeerKeys, key: [u8; 32]) -> Option<ParticipantId> {
    let peers = peers.read().unwrap_or_else(|e| e.into_inner());
    peers.iter().find(|(_, k)| **k == key).map(|(p, _)| *p)
}

#[cfg(test)]
mod tests;
