//! An in-process chain hosting the contract core: what node tests run against.
//!
//! It models what the node can observe of NEAR: calls execute in the current block against the
//! contract; `sign` yields; `respond` resumes the yields, whose callbacks run when the next
//! block is produced (on NEAR the callback is a later receipt); a yield not resumed within the
//! contract's `request_timeout_blocks` resolves with the timeout error. Each block has a random
//! seed derived from the chain's seed and height. Deposits are checked but no balances are
//! kept (refunds are dropped): accounts are the devnet's business.

use contract::{AccountId, Contract, ContractError, Ctx, Effect, RequestId, YieldId, YieldOutcome};
use primitives::request::SignArgs;
use primitives::response::SignatureResponse;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;

use crate::call::Call;
use contract::NativeCrypto;

/// Why a call failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TxError {
    #[error(transparent)]
    Contract(#[from] ContractError),
}

/// Where the result of one `sign` call will appear.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SignTicket(pub u64);

struct Waiting {
    request_id: RequestId,
    key: u64,
    ticket: SignTicket,
    created_at: u64,
    resumed_with: Option<String>,
}

/// The chain. Not thread-safe by itself: a node wraps it in a lock.
pub struct LocalChain {
    contract: Option<Contract>,
    height: u64,
    seed: [u8; 32],
    yields: BTreeMap<YieldId, Waiting>,
    results: BTreeMap<SignTicket, Result<SignatureResponse, TxError>>,
    next_ticket: u64,
    logs: Vec<String>,
}

impl LocalChain {
    /// An empty chain at height 1; `seed` determines every block's random seed.
    pub fn new(seed: [u8; 32]) -> Self {
        Self {
            contract: None,
            height: 1,
            seed,
            yields: BTreeMap::new(),
            results: BTreeMap::new(),
            next_ticket: 0,
            logs: vec![],
        }
    }

    pub fn height(&self) -> u64 {
        self.height
    }

    /// The current block's random seed.
    pub fn random_seed(&self) -> [u8; 32] {
        let mut h = Sha256::new();
        h.update(self.seed);
        h.update(self.height.to_be_bytes());
        h.finalize().into()
    }

    /// The contract, for views.
    pub fn contract(&self) -> Result<&Contract, TxError> {
        self.contract
            .as_ref()
            .ok_or(TxError::Contract(ContractError::NotInitialized))
    }

    /// Log lines the contract wrote, oldest first.
    pub fn logs(&self) -> &[String] {
        &self.logs
    }

    /// Calls a view method by name with JSON arguments, as `call_function` does; the result
    /// is the method's JSON. Argument names are the wasm binding's.
    pub fn view(&self, method: &str, args: &[u8]) -> Result<Vec<u8>, String> {
        #[derive(serde::Deserialize, Default)]
        #[serde(deny_unknown_fields)]
        struct Args {
            domain_id: Option<primitives::DomainId>,
            path: Option<String>,
            predecessor: Option<String>,
            signature_scheme: Option<primitives::SignatureScheme>,
            cursor: Option<u64>,
            limit: Option<u32>,
        }
        let args: Args = if args.is_empty() {
            Args::default()
        } else {
            serde_json::from_slice(args).map_err(|e| format!("invalid arguments: {e}"))?
        };
        let c = self.contract().map_err(|e| e.to_string())?;
        let json = |v: Result<serde_json::Value, ContractError>| {
            v.map(|v| serde_json::to_vec(&v).expect("views serialize"))
                .map_err(|e| format!("Smart contract panicked: {e}"))
        };
        fn to<T: serde::Serialize>(v: T) -> serde_json::Value {
            serde_json::to_value(v).expect("views serialize")
        }
        match method {
            "state" => json(Ok(to(c.state_view()))),
            "config" => json(Ok(to(c.config_view()))),
            "version" => json(Ok(to(c.version()))),
            "system_load" => json(Ok(to(c.system_load()))),
            "public_key" => json(c.public_key(args.domain_id).map(to)),
            "derived_public_key" => {
                let path = args.path.ok_or("missing `path`")?;
                let predecessor = AccountId(args.predecessor.ok_or("missing `predecessor`")?);
                json(
                    c.derived_public_key(&path, &predecessor, args.domain_id)
                        .map(to),
                )
            }
            "latest_key_version" => json(c.latest_key_version(args.signature_scheme).map(to)),
            "pending_requests" => json(Ok(to(c.pending_requests(args.cursor, args.limit)))),
            other => Err(format!(
                "MethodNotFound: the contract has no view {other:?}"
            )),
        }
    }

    /// The result of a `sign` call, once its yield has resolved.
    pub fn result(&self, ticket: SignTicket) -> Option<&Result<SignatureResponse, TxError>> {
        self.results.get(&ticket)
    }

    /// Executes `call` from `predecessor` in the current block. A `sign` returns the ticket
    /// its result will appear under. A failed call changes nothing.
    pub fn call(
        &mut self,
        predecessor: &str,
        deposit: u128,
        call: Call,
    ) -> Result<Option<SignTicket>, TxError> {
        let ctx = Ctx {
            predecessor: AccountId(predecessor.to_owned()),
            deposit,
            block_height: self.height,
            random_seed: self.random_seed(),
            prepaid_gas: 300_000_000_000_000,
        };
        if let Call::Init {
            participants,
            threshold,
            config,
        } = &call
        {
            if self.contract.is_some() {
                return Err(ContractError::AlreadyInitialized.into());
            }
            let ps = participants.iter().cloned().map(Into::into).collect();
            self.contract = Some(Contract::init(ps, *threshold, config.clone())?);
            return Ok(None);
        }
        let c = self
            .contract
            .as_mut()
            .ok_or(TxError::Contract(ContractError::NotInitialized))?;
        let effects = match call {
            Call::Init { .. } => unreachable!("handled above"),
            Call::Sign { request } => c.sign(&ctx, SignArgs { request })?,
            Call::Respond {
                request_id,
                response,
            } => c.respond(&ctx, &NativeCrypto, request_id, &response)?,
            Call::RegisterCandidate {
                url,
                tls_public_key,
            } => {
                let info = contract::ParticipantInfo {
                    url,
                    tls_public_key,
                };
                c.register_candidate(&ctx, info).map(|()| vec![])?
            }
            Call::VoteJoin { candidate, epoch } => c
                .vote_join(&ctx, &AccountId(candidate), epoch)
                .map(|()| vec![])?,
            Call::VoteLeave { participant, epoch } => c
                .vote_leave(&ctx, &AccountId(participant), epoch)
                .map(|()| vec![])?,
            Call::VoteNewParameters {
                participants,
                threshold,
                epoch,
            } => {
                let accounts: Vec<AccountId> = participants.into_iter().map(AccountId).collect();
                c.vote_new_parameters(&ctx, &accounts, threshold, epoch)
                    .map(|()| vec![])?
            }
            Call::VoteAddDomains { schemes, epoch } => {
                c.vote_add_domains(&ctx, &schemes, epoch).map(|()| vec![])?
            }
            Call::StartKeygenInstance { epoch } => {
                c.start_keygen_instance(&ctx, epoch).map(|()| vec![])?
            }
            Call::VotePk {
                domain_id,
                public_key,
                epoch,
            } => c
                .vote_pk(&ctx, domain_id, public_key, epoch)
                .map(|()| vec![])?,
            Call::StartReshareInstance { epoch } => {
                c.start_reshare_instance(&ctx, epoch).map(|()| vec![])?
            }
            Call::VoteReshared { epoch } => c.vote_reshared(&ctx, epoch).map(|()| vec![])?,
            Call::VoteAbort { epoch } => c.vote_abort(&ctx, epoch)?,
        };
        Ok(self.apply(effects))
    }

    fn apply(&mut self, effects: Vec<Effect>) -> Option<SignTicket> {
        let mut ticket = None;
        for effect in effects {
            match effect {
                Effect::Yield(request_id, key) => {
                    let t = SignTicket(self.next_ticket);
                    self.next_ticket += 1;
                    let yield_id = YieldId(Sha256::digest(t.0.to_be_bytes()).into());
                    let c = self
                        .contract
                        .as_mut()
                        .expect("a yield comes from the contract");
                    c.yielded(request_id, key, yield_id)
                        .expect("the contract just asked for this yield");
                    self.yields.insert(
                        yield_id,
                        Waiting {
                            request_id,
                            key,
                            ticket: t,
                            created_at: self.height,
                            resumed_with: None,
                        },
                    );
                    ticket = Some(t);
                }
                Effect::Resume(ids, json) => {
                    for id in ids {
                        if let Some(w) = self.yields.get_mut(&id) {
                            w.resumed_with.get_or_insert_with(|| json.clone());
                        }
                    }
                }
                Effect::Refund(..) => {}
                Effect::Log(line) => self.logs.push(line),
            }
        }
        ticket
    }

    /// Produces the next block: resumed yields deliver their signatures, yields past the
    /// timeout fail.
    pub fn produce_block(&mut self) {
        self.height += 1;
        let Some(c) = self.contract.as_mut() else {
            return;
        };
        let timeout = c.config().request_timeout_blocks;
        let due: Vec<YieldId> = self
            .yields
            .iter()
            .filter(|(_, w)| w.resumed_with.is_some() || self.height >= w.created_at + timeout)
            .map(|(id, _)| *id)
            .collect();
        for id in due {
            let w = self.yields.remove(&id).expect("listed above");
            let result = match c.on_yield_resolved(w.request_id, w.key, w.resumed_with) {
                YieldOutcome::Signature(json) => Ok(serde_json::from_str(&json)
                    .expect("the contract resumes with the response it verified")),
                YieldOutcome::TimedOut => Err(TxError::Contract(ContractError::Timeout)),
            };
            self.results.insert(w.ticket, result);
        }
    }
}
