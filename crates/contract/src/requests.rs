//! Signature requests: `sign`, `respond`, and the yields that carry answers back.
//!
//! A request's id hashes (predecessor, path, payload, domain), so identical concurrent
//! requests are one request with several waiting yields (at most [`MAX_WAITING`]), answered
//! by one signature. Each pending request is one record under its own key
//! ([`crate::storage::request_key`]), so a call touches only its own request and the cost of
//! `sign`, `respond` and the callback does not depend on how many others wait. A request lives
//! while at least one yield waits: `respond` resumes them all and removes it; a yield that
//! times out (the host calls back with no value after 200 blocks) leaves, and takes the
//! request with it when it was the last.

use primitives::request::{SignArgs, SignRequest};
use primitives::response::SignatureResponse;
use sha2::{Digest, Sha256};

use crate::crypto::{verify_response, Crypto};
use crate::error::ContractError;
use crate::state::Contract;
use crate::storage::{self, Storage, PENDING_KEY};
use crate::types::{AccountId, Ctx, Effect, PendingRequest, RequestId, Waiting, YieldId};

/// The most callers that may wait for one request at once: each is a yield the answer must
/// resume, so without a bound one request could be made arbitrarily expensive to answer.
pub const MAX_WAITING: usize = 16;

/// Gas `sign` must carry: its own work plus the yield callback that returns the answer.
pub const SIGN_MIN_GAS: u64 = 15_000_000_000_000;

/// The id of a request: identical requests share it.
pub fn request_id(predecessor: &AccountId, request: &SignRequest) -> RequestId {
    let mut h = Sha256::new();
    for part in [
        predecessor.0.as_bytes(),
        request.path.as_bytes(),
        request.payload.as_bytes(),
    ] {
        h.update((part.len() as u64).to_be_bytes());
        h.update(part);
    }
    h.update(request.domain_id.0.to_be_bytes());
    RequestId(h.finalize().into())
}

/// How a yield ended, for the callback to report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum YieldOutcome {
    /// Resumed with this JSON signature: the caller's result.
    Signature(String),
    /// Timed out; the state is cleaned, and the caller must see [`ContractError::Timeout`].
    TimedOut,
}

impl<S: Storage> Contract<S> {
    /// How many requests are pending.
    pub fn pending_count(&self) -> Result<u32, ContractError> {
        Ok(storage::load(&self.store, PENDING_KEY, "pending count")?.unwrap_or(0))
    }

    fn set_pending_count(&mut self, n: u32) {
        storage::save(&mut self.store, PENDING_KEY, &n);
    }

    /// A pending request, if there is one with this id.
    pub fn request(&self, id: &RequestId) -> Result<Option<PendingRequest>, ContractError> {
        storage::load_request(&self.store, id)
    }

    /// `sign`: checks everything, queues the request (or joins an identical one) and asks the
    /// host to yield. Excess deposit goes back at once.
    pub fn sign(&mut self, ctx: &Ctx, args: SignArgs) -> Result<Vec<Effect>, ContractError> {
        if ctx.deposit == 0 {
            return Err(ContractError::NoDeposit);
        }
        if ctx.prepaid_gas < SIGN_MIN_GAS {
            return Err(ContractError::InsufficientGas {
                attached: ctx.prepaid_gas,
                required: SIGN_MIN_GAS,
            });
        }
        let request = args
            .request
            .normalize()
            .map_err(|e| ContractError::InvalidRequest(e.to_string()))?;
        let max_path = self.root.config.max_path_len as usize;
        if request.path.len() > max_path {
            return Err(ContractError::PathTooLong(request.path.len(), max_path));
        }
        let (scheme, _) = self.active_domain(request.domain_id)?;
        request
            .payload
            .check_for(scheme)
            .map_err(|e| ContractError::InvalidRequest(e.to_string()))?;
        let id = request_id(&ctx.predecessor, &request);
        let (record, new) = match self.request(&id)? {
            Some(mut existing) => {
                if existing.yields.len() >= MAX_WAITING {
                    return Err(ContractError::TooManyWaiting(MAX_WAITING));
                }
                existing.next_key += 1;
                (existing, false)
            }
            None => {
                let pending = self.pending_count()?;
                if pending >= self.root.config.max_pending_requests {
                    return Err(ContractError::Overloaded(pending as usize));
                }
                let record = PendingRequest {
                    id,
                    predecessor: ctx.predecessor.clone(),
                    path: request.path,
                    payload: request.payload,
                    domain_id: request.domain_id,
                    entropy: ctx.random_seed,
                    created_at: ctx.block_height,
                    next_key: 1,
                    yields: vec![],
                };
                (record, true)
            }
        };
        // Checks are over: from here on the call succeeds.
        let mut record = record;
        let key = record.next_key - 1;
        record.yields.push(Waiting {
            key,
            yield_id: None,
        });
        storage::save_request(&mut self.store, &record);
        let mut effects = vec![Effect::Yield(id, key)];
        if ctx.deposit > 1 {
            effects.push(Effect::Refund(ctx.predecessor.clone(), ctx.deposit - 1));
        }
        if new {
            let pending = self.pending_count()?;
            self.set_pending_count(pending + 1);
            effects.push(Effect::Log(format!(
                "EVENT_JSON:{{\"standard\":\"chainsig\",\"version\":\"1.0.0\",\"event\":\"sign_request\",\"data\":{{\"request_id\":\"{id}\"}}}}"
            )));
        }
        Ok(effects)
    }

    /// The host created the yield `sign` asked for (under `key`): record its id.
    pub fn yielded(
        &mut self,
        request: RequestId,
        key: u64,
        yield_id: YieldId,
    ) -> Result<(), ContractError> {
        let unknown = || ContractError::UnknownRequest(request.to_string());
        let mut record = self.request(&request)?.ok_or_else(unknown)?;
        let waiting = record
            .yields
            .iter_mut()
            .find(|w| w.key == key)
            .ok_or_else(unknown)?;
        waiting.yield_id = Some(yield_id);
        storage::save_request(&mut self.store, &record);
        Ok(())
    }

    /// `respond`: a participant hands in the signature for a pending request. It is verified
    /// under the derived key the contract computes itself; only then are the callers resumed.
    pub fn respond(
        &mut self,
        ctx: &Ctx,
        crypto: &dyn Crypto,
        request_id: RequestId,
        response: &SignatureResponse,
    ) -> Result<Vec<Effect>, ContractError> {
        let network = self.signing_network()?;
        if !network.participants.contains(&ctx.predecessor) {
            return Err(ContractError::NotParticipant(ctx.predecessor.to_string()));
        }
        let pending = self
            .request(&request_id)?
            .ok_or_else(|| ContractError::UnknownRequest(request_id.to_string()))?;
        let (scheme, root) = self.active_domain(pending.domain_id)?;
        let root = root
            .to_key()
            .map_err(|e| ContractError::CorruptState(format!("domain key: {e}")))?;
        verify_response(
            crypto,
            scheme,
            &root,
            &pending.predecessor.0,
            &pending.path,
            &pending.payload,
            response,
        )?;
        let json = serde_json::to_string(response).expect("responses serialize");
        self.remove_request(&request_id)?;
        let yields = pending.yields.iter().filter_map(|w| w.yield_id).collect();
        Ok(vec![
            Effect::Resume(yields, json),
            Effect::Log(format!("signature for request {request_id} accepted")),
        ])
    }

    fn remove_request(&mut self, id: &RequestId) -> Result<(), ContractError> {
        self.store.remove(&storage::request_key(id));
        let pending = self.pending_count()?;
        self.set_pending_count(pending.saturating_sub(1));
        Ok(())
    }

    /// The host's callback for one yield: resumed with a signature, or timed out.
    pub fn on_yield_resolved(
        &mut self,
        request_id: RequestId,
        key: u64,
        resumed_with: Option<String>,
    ) -> YieldOutcome {
        if let Some(json) = resumed_with {
            return YieldOutcome::Signature(json);
        }
        // A record that no longer reads cannot be answered either: the caller times out all
        // the same, and the record stays for whoever investigates.
        if let Ok(Some(mut pending)) = self.request(&request_id) {
            pending.yields.retain(|w| w.key != key);
            if pending.yields.is_empty() {
                // Cannot fail: the count was just read through the same storage.
                let _ = self.remove_request(&request_id);
            } else {
                storage::save_request(&mut self.store, &pending);
            }
        }
        YieldOutcome::TimedOut
    }
}
