//! An in-process chain hosting the contract core: what node tests run against.
//!
//! It models what the node can observe of NEAR: calls execute in the current block against the
//! contract; `sign` yields; `respond` resumes the yields, whose callbacks run when the next
//! block is produced (on NEAR the callback is a later receipt); a yield not resumed within the
//! contract's `request_timeout_blocks` resolves with the timeout error. Each block has a random
//! seed derived from the chain's seed and height. Deposits are checked but no balances are
//! kept (refunds are dropped): accounts are the devnet's business.
//!
//! Like NEAR, it reports the contract's storage changes per block: every write and removal a
//! call makes (the root included) is logged under the block it ran in, and served once that
//! block is complete ([`crate::blocks::BlockSource`], through [`crate::LocalClient`]).

use contract::storage::{encode_root, STATE_KEY};
use contract::{
    AccountId, Contract, ContractError, Ctx, Effect, MemStorage, RequestId, Storage, YieldId,
    YieldOutcome,
};
use primitives::response::SignatureResponse;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;

use crate::blocks::DataChange;
use crate::call::Call;

/// Blocks whose changes are kept for readers: far more than a node replays.
const KEPT_BLOCKS: u64 = 2_000;

/// The contract's storage, logging every change of the current block.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LoggedStorage {
    map: MemStorage,
    log: Vec<DataChange>,
}

impl Storage for LoggedStorage {
    fn read(&self, key: &[u8]) -> Option<Vec<u8>> {
        self.map.read(key)
    }

    fn write(&mut self, key: &[u8], value: &[u8]) {
        self.map.write(key, value);
        self.log.push(DataChange::Write {
            key: key.to_vec(),
            value: value.to_vec(),
        });
    }

    fn remove(&mut self, key: &[u8]) {
        if self.map.remove(key).is_some() {
            self.log.push(DataChange::Remove { key: key.to_vec() });
        }
    }
}

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
    contract_id: AccountId,
    contract: Option<Contract<LoggedStorage>>,
    /// Each complete block's storage changes.
    changes: BTreeMap<u64, Vec<DataChange>>,
    /// The newest complete block, for readers waiting on the next.
    complete: tokio::sync::watch::Sender<u64>,
    height: u64,
    seed: [u8; 32],
    yields: BTreeMap<YieldId, Waiting>,
    results: BTreeMap<SignTicket, Result<SignatureResponse, TxError>>,
    next_ticket: u64,
    logs: Vec<String>,
}

impl LocalChain {
    /// An empty chain at height 1 whose contract lives on `contract_id` (only that account may
    /// initialize it); `seed` determines every block's random seed.
    pub fn new(contract_id: &str, seed: [u8; 32]) -> Self {
        Self {
            contract_id: AccountId(contract_id.to_owned()),
            contract: None,
            changes: BTreeMap::new(),
            complete: tokio::sync::watch::channel(0).0,
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
    pub fn contract(&self) -> Result<&Contract<LoggedStorage>, TxError> {
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
            request_id: Option<RequestId>,
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
            "state" => json(c.state_json().map(to)),
            "config" => json(Ok(to(c.config_view()))),
            "version" => json(Ok(to(c.version()))),
            "system_load" => json(c.system_load().map(to)),
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
            "pending_request" => {
                let id = args.request_id.ok_or("missing `request_id`")?;
                json(c.pending_request(&id).map(to))
            }
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
            current_account: self.contract_id.clone(),
            predecessor: AccountId(predecessor.to_owned()),
            deposit,
            block_height: self.height,
            random_seed: self.random_seed(),
            prepaid_gas: 300_000_000_000_000,
        };
        let init = match &call {
            Call::Init {
                participants,
                threshold,
                config,
            } => {
                let ps = participants.iter().cloned().map(Into::into).collect();
                Some(Contract::<LoggedStorage>::init_by(
                    &ctx,
                    ps,
                    *threshold,
                    config.clone(),
                ))
            }
            Call::InitRunning(args) => Some(Contract::init_running_by(&ctx, args.clone())),
            _ => None,
        };
        if let Some(init) = init {
            if self.contract.is_some() {
                return Err(ContractError::AlreadyInitialized.into());
            }
            let mut c = init?;
            let root = encode_root(c.root());
            c.storage_mut().write(STATE_KEY, &root);
            self.contract = Some(c);
            return Ok(None);
        }
        let c = self
            .contract
            .as_mut()
            .ok_or(TxError::Contract(ContractError::NotInitialized))?;
        let root = c.root().clone();
        let effects = call.run(c, &ctx)?;
        // As the wasm binding does: the root is written when a call changed it.
        if *c.root() != root {
            let bytes = encode_root(c.root());
            c.storage_mut().write(STATE_KEY, &bytes);
        }
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
    /// timeout fail. The block that just ended becomes readable with its changes.
    pub fn produce_block(&mut self) {
        let ended = self.height;
        let log = self
            .contract
            .as_mut()
            .map(|c| std::mem::take(&mut c.storage_mut().log))
            .unwrap_or_default();
        self.changes.insert(ended, log);
        while self
            .changes
            .first_key_value()
            .is_some_and(|(h, _)| *h + KEPT_BLOCKS < ended)
        {
            self.changes.pop_first();
        }
        self.height += 1;
        self.resolve_yields();
        self.complete.send_replace(ended);
    }

    /// The contract's storage changes in the current block so far.
    pub fn block_log(&self) -> &[DataChange] {
        self.contract
            .as_ref()
            .map(|c| c.storage().log.as_slice())
            .unwrap_or_default()
    }

    /// The newest complete block.
    pub fn final_height(&self) -> u64 {
        self.height - 1
    }

    /// The contract's storage changes in a complete block (empty when it has none or was
    /// forgotten).
    pub fn changes(&self, height: u64) -> Vec<DataChange> {
        self.changes.get(&height).cloned().unwrap_or_default()
    }

    /// Wakes when a block completes.
    pub fn subscribe(&self) -> tokio::sync::watch::Receiver<u64> {
        self.complete.subscribe()
    }

    /// Callbacks of resolved yields run (they see the new block's height).
    fn resolve_yields(&mut self) {
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
