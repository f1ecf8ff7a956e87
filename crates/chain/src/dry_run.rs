//! A call tried before it is sent: the contract's own rules run in process on a copy of the
//! records a governance or membership call reads — the root (`STATE`: config, protocol state,
//! votes) and the registered candidates — read from the chain with `view_state`. What the
//! contract would refuse is refused here with the contract's own error, so an operator's
//! command says why before it pays for a transaction that fails.
//!
//! Caveats: the copy is of the last final block, so a vote cast meanwhile by someone else can
//! still change the verdict (the chain's answer remains the word that counts); `sign`,
//! `respond` and the timeout paths also read pending requests, which a snapshot does not
//! carry, and are not meant for a dry run.

use contract::storage::{decode_root, MemStorage, Storage, CANDIDATES_KEY, STATE_KEY};
use contract::{Contract, ContractError, Ctx, Effect};

use crate::Call;

/// The records a dry run needs, as the chain stores them.
#[derive(Clone, Debug, Default)]
pub struct Snapshot {
    /// The `STATE` record; `None` when the contract is not initialized.
    pub state: Option<Vec<u8>>,
    /// The `candidates` record, when any candidate ever registered.
    pub candidates: Option<Vec<u8>>,
    /// The final block the records were read at.
    pub height: u64,
}

impl Snapshot {
    /// The keys a snapshot reads (each is a whole key, and no other key starts with it).
    pub const KEYS: [&'static [u8]; 2] = [STATE_KEY, CANDIDATES_KEY];

    /// What the call would do, as `predecessor` with the call's deposit, in the block after
    /// the snapshot's: the effects, or the contract's refusal.
    pub fn dry_run(
        &self,
        contract_account: &str,
        predecessor: &str,
        call: Call,
    ) -> Result<Vec<Effect>, ContractError> {
        let Some(state) = &self.state else {
            return match call {
                Call::Init { .. } | Call::InitRunning(_) => Ok(vec![]),
                _ => Err(ContractError::NotInitialized),
            };
        };
        let mut store = MemStorage::default();
        store.write(STATE_KEY, state);
        if let Some(candidates) = &self.candidates {
            store.write(CANDIDATES_KEY, candidates);
        }
        let mut contract = Contract::from_parts(decode_root(state)?, store);
        let ctx = Ctx {
            current_account: contract::AccountId(contract_account.to_owned()),
            predecessor: contract::AccountId(predecessor.to_owned()),
            deposit: call.deposit(),
            block_height: self.height + 1,
            random_seed: [0; 32],
            prepaid_gas: 300_000_000_000_000,
        };
        call.run(&mut contract, &ctx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{LocalChain, LoggedStorage};
    use primitives::SignatureScheme;

    /// A snapshot of a local chain's contract, as `view_state` would give it.
    fn snapshot(chain: &LocalChain) -> Snapshot {
        let store: &LoggedStorage = chain.contract().unwrap().storage();
        Snapshot {
            state: store.read(STATE_KEY),
            candidates: store.read(CANDIDATES_KEY),
            height: chain.height(),
        }
    }

    #[test]
    fn the_contracts_own_refusals_come_back_before_sending() {
        let mut chain = LocalChain::new("signer", [7; 32]);
        let participants = ["p0", "p1", "p2", "p3"]
            .iter()
            .map(|a| crate::InitParticipant {
                account_id: a.to_string(),
                url: format!("https://{a}"),
                tls_public_key: testkit::Keys::new(5).public(SignatureScheme::Secp256k1),
            })
            .collect();
        let init = Call::Init {
            participants,
            threshold: 3,
            config: None,
        };
        chain.call("signer", 0, init).unwrap();
        let s = snapshot(&chain);
        let add = |epoch| Call::VoteAddDomains {
            schemes: vec![SignatureScheme::Ed25519],
            epoch,
        };
        assert!(s.dry_run("signer", "p0", add(0)).is_ok());
        assert!(matches!(
            s.dry_run("signer", "mallory", add(0)),
            Err(ContractError::NotParticipant(_))
        ));
        assert!(matches!(
            s.dry_run("signer", "p0", add(7)),
            Err(ContractError::StaleEpoch { got: 7, current: 0 })
        ));
        assert!(matches!(
            s.dry_run("signer", "p0", Call::VoteAbort { epoch: 0 }),
            Err(ContractError::WrongState(_))
        ));
        let join = Call::VoteJoin {
            candidate: "dave".into(),
            epoch: 0,
        };
        assert!(matches!(
            s.dry_run("signer", "p0", join),
            Err(ContractError::NotCandidate(_))
        ));
        assert!(matches!(
            Snapshot::default().dry_run("signer", "p0", add(0)),
            Err(ContractError::NotInitialized)
        ));
    }
}
