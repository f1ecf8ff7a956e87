//! Every way a call is refused. Messages are what a caller reads in the failed transaction.

use primitives::{DomainId, SignatureScheme};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ContractError {
    #[error("the contract is not initialized")]
    NotInitialized,
    #[error("the contract is already initialized")]
    AlreadyInitialized,
    #[error("invalid request: {0}")]
    InvalidRequest(String),
    #[error("attach at least 1 yoctoNEAR to `sign`")]
    NoDeposit,
    #[error("attach at least {required} gas to `sign` (it must pay for the answer's callback); {attached} was attached")]
    InsufficientGas { attached: u64, required: u64 },
    #[error("path is {0} bytes; the limit is {1}")]
    PathTooLong(usize, usize),
    #[error("domain {0} does not exist or has no key yet")]
    UnknownDomain(DomainId),
    #[error("no domain uses the {0} scheme")]
    NoDomainForScheme(SignatureScheme),
    #[error("the signer is overloaded: {0} requests are pending; try again later")]
    Overloaded(usize),
    #[error("signature request has timed out")]
    Timeout,
    #[error("no pending signature request with id {0}")]
    UnknownRequest(String),
    #[error("signature does not verify under the derived key: {0}")]
    InvalidSignature(String),
    #[error("{0} is not a participant")]
    NotParticipant(String),
    #[error("{0} is not a registered candidate")]
    NotCandidate(String),
    #[error("{0} is already a participant")]
    AlreadyParticipant(String),
    #[error("this call is not allowed in the {0} state")]
    WrongState(&'static str),
    #[error("vote is for epoch {got}; the current epoch is {current}")]
    StaleEpoch { got: u64, current: u64 },
    #[error("vote is for attempt {got}; the current attempt is {current}")]
    StaleAttempt { got: u64, current: u64 },
    #[error("{0} has already cast this vote")]
    AlreadyVoted(String),
    #[error("invalid parameters: {0}")]
    InvalidParameters(String),
    #[error("no key-generation or resharing instance has been started for this attempt")]
    InstanceNotStarted,
}
