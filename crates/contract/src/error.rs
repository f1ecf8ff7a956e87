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
    #[error("{0} callers already wait for this same request; try again once it is answered")]
    TooManyWaiting(usize),
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
    #[error(
        "only the contract account {0} may initialize it (deploy and call init in one transaction)"
    )]
    NotContractAccount(String),
    #[error("attach {required} yoctoNEAR to register as a candidate (it pays for the entry's storage and comes back when the account joins or withdraws); {attached} was attached")]
    CandidateDeposit { attached: u128, required: u128 },
    #[error("{0} candidates are registered already, the most there may be; try again once one has joined or withdrawn")]
    CandidatesFull(usize),
    #[error("the contract state is in layout {found}, which this code cannot read (it reads layout 2); deploy the code that wrote it, or start a new contract")]
    StateLayout { found: u32 },
    #[error("the contract's storage is corrupt: {0}")]
    CorruptState(String),
}

impl ContractError {
    /// Whether the same call may succeed later without changing its arguments: the contract
    /// was busy, not wrong about the call.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            Self::Overloaded(_) | Self::TooManyWaiting(_) | Self::CandidatesFull(_)
        )
    }
}

/// Whether a refusal the chain relays (the contract's message, inside NEAR's execution error)
/// says the request is no longer pending: answered already, or timed out. A node that reads
/// blocks late learns it this way before its indexer does.
pub fn says_not_pending(message: &str) -> bool {
    message.contains("no pending signature request with id")
}
