//! Signature requests: `sign`, `respond`, and the yields that carry answers back.
//!
//! A request's id hashes (predecessor, path, payload, domain), so identical concurrent
//! requests are one request with several waiting yields, answered by one signature. A request
//! lives while at least one yield waits: `respond` resumes them all and removes it; a yield
//! that times out (the host calls back with no value after 200 blocks) leaves, and takes the
//! request with it when it was the last.

use borsh::{BorshDeserialize, BorshSerialize};
use primitives::request::{SignArgs, SignRequest};
use primitives::response::SignatureResponse;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;

use crate::crypto::{verify_response, Crypto};
use crate::error::ContractError;
use crate::state::Contract;
use crate::types::{AccountId, Ctx, Effect, PendingRequest, RequestId, Waiting, YieldId};

/// The queue, in arrival order, with an index by id.
#[derive(BorshSerialize, BorshDeserialize, Clone, Debug, PartialEq, Eq, Default)]
pub struct Requests {
    by_seq: BTreeMap<u64, PendingRequest>,
    seq_of: BTreeMap<RequestId, u64>,
    next_seq: u64,
    next_yield_key: u64,
}

impl Requests {
    pub fn len(&self) -> usize {
        self.by_seq.len()
    }

    pub fn get(&self, id: &RequestId) -> Option<&PendingRequest> {
        self.seq_of.get(id).and_then(|s| self.by_seq.get(s))
    }

    fn get_mut(&mut self, id: &RequestId) -> Option<&mut PendingRequest> {
        let seq = self.seq_of.get(id)?;
        self.by_seq.get_mut(seq)
    }

    fn remove(&mut self, id: &RequestId) -> Option<PendingRequest> {
        let seq = self.seq_of.remove(id)?;
        self.by_seq.remove(&seq)
    }

    /// Up to `limit` requests with a sequence number at or after `cursor`.
    pub fn page(&self, cursor: u64, limit: usize) -> impl Iterator<Item = &PendingRequest> {
        self.by_seq.range(cursor..).map(|(_, r)| r).take(limit)
    }
}

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

impl Contract {
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
        let max_path = self.config.max_path_len as usize;
        if request.path.len() > max_path {
            return Err(ContractError::PathTooLong(request.path.len(), max_path));
        }
        let (scheme, _) = self.active_domain(request.domain_id)?;
        request
            .payload
            .check_for(scheme)
            .map_err(|e| ContractError::InvalidRequest(e.to_string()))?;
        let id = request_id(&ctx.predecessor, &request);
        let existing = self.requests.get(&id).is_some();
        let cap = self.config.max_pending_requests as usize;
        if !existing && self.requests.len() >= cap {
            return Err(ContractError::Overloaded(self.requests.len()));
        }
        // Checks are over: from here on the call succeeds.
        let key = self.requests.next_yield_key;
        self.requests.next_yield_key += 1;
        let waiting = Waiting {
            key,
            yield_id: None,
        };
        let mut effects = vec![Effect::Yield(id, key)];
        if ctx.deposit > 1 {
            effects.push(Effect::Refund(ctx.predecessor.clone(), ctx.deposit - 1));
        }
        if existing {
            // An identical request waits already: share its answer.
            self.requests
                .get_mut(&id)
                .expect("exists")
                .yields
                .push(waiting);
            return Ok(effects);
        }
        let seq = self.requests.next_seq;
        self.requests.next_seq += 1;
        self.requests.seq_of.insert(id, seq);
        self.requests.by_seq.insert(
            seq,
            PendingRequest {
                id,
                seq,
                predecessor: ctx.predecessor.clone(),
                path: request.path,
                payload: request.payload,
                domain_id: request.domain_id,
                entropy: ctx.random_seed,
                created_at: ctx.block_height,
                yields: vec![waiting],
            },
        );
        effects.push(Effect::Log(format!(
            "EVENT_JSON:{{\"standard\":\"chainsig\",\"version\":\"1.0.0\",\"event\":\"sign_request\",\"data\":{{\"request_id\":\"{id}\",\"seq\":{seq}}}}}"
        )));
        Ok(effects)
    }

    /// The host created the yield `sign` asked for (under `key`): record its id.
    pub fn yielded(
        &mut self,
        request: RequestId,
        key: u64,
        yield_id: YieldId,
    ) -> Result<(), ContractError> {
        let waiting = self
            .requests
            .get_mut(&request)
            .and_then(|p| p.yields.iter_mut().find(|w| w.key == key))
            .ok_or_else(|| ContractError::UnknownRequest(request.to_string()))?;
        waiting.yield_id = Some(yield_id);
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
            .requests
            .get(&request_id)
            .ok_or_else(|| ContractError::UnknownRequest(request_id.to_string()))?;
        let (scheme, root) = self.active_domain(pending.domain_id)?;
        verify_response(
            crypto,
            scheme,
            &root,
            &pending.predecessor.0,
            &pending.path,
            &pending.payload,
            response,
        )?;
        let pending = self.requests.remove(&request_id).expect("found above");
        let json = serde_json::to_string(response).expect("responses serialize");
        let yields = pending.yields.iter().filter_map(|w| w.yield_id).collect();
        Ok(vec![
            Effect::Resume(yields, json),
            Effect::Log(format!("signature for request {request_id} accepted")),
        ])
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
        if let Some(pending) = self.requests.get_mut(&request_id) {
            pending.yields.retain(|w| w.key != key);
            if pending.yields.is_empty() {
                self.requests.remove(&request_id);
            }
        }
        YieldOutcome::TimedOut
    }
}
