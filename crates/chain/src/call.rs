//! The signer contract's state-changing methods as data.

use contract::storage::Storage;
use contract::{
    AccountId, Config, Contract, ContractError, Ctx, Effect, InitParticipant, InitRunningArgs,
    NativeCrypto, RequestId,
};
use primitives::request::SignArgs;
use primitives::request::SignRequestArgs;
use primitives::response::SignatureResponse;
use primitives::{DomainId, NearPublicKey, SignatureScheme};
use serde::{Deserialize, Serialize};

/// One function call on the signer contract: `{"method": name, "args": {...}}` in JSON, the
/// args exactly as the contract's method takes them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "method", content = "args", rename_all = "snake_case")]
pub enum Call {
    Init {
        participants: Vec<InitParticipant>,
        threshold: u64,
        config: Option<Config>,
    },
    /// `init_running`: the contract starts Running with domains and their keys (NEAR's
    /// migration method; the seeded devnet starts with its dealt keys this way).
    InitRunning(InitRunningArgs),
    Sign {
        request: SignRequestArgs,
    },
    Respond {
        request_id: RequestId,
        response: SignatureResponse,
    },
    RegisterCandidate {
        url: String,
        tls_public_key: NearPublicKey,
    },
    WithdrawCandidate {},
    VoteJoin {
        candidate: String,
        epoch: u64,
    },
    VoteLeave {
        participant: String,
        epoch: u64,
    },
    VoteNewParameters {
        participants: Vec<String>,
        threshold: u64,
        epoch: u64,
    },
    VoteAddDomains {
        schemes: Vec<SignatureScheme>,
        epoch: u64,
    },
    StartKeygenInstance {
        epoch: u64,
    },
    VotePk {
        domain_id: DomainId,
        public_key: NearPublicKey,
        epoch: u64,
    },
    StartReshareInstance {
        epoch: u64,
    },
    VoteReshared {
        epoch: u64,
    },
    VoteAbort {
        epoch: u64,
    },
}

impl Call {
    /// The deposit the call must attach: a candidate's registration locks
    /// [`contract::CANDIDATE_DEPOSIT`]; `sign` takes its own (see the client); the rest none.
    pub fn deposit(&self) -> u128 {
        match self {
            Self::RegisterCandidate { .. } => contract::CANDIDATE_DEPOSIT,
            _ => 0,
        }
    }

    /// The contract method this call invokes.
    pub fn method_name(&self) -> &'static str {
        match self {
            Self::Init { .. } => "init",
            Self::InitRunning(_) => "init_running",
            Self::Sign { .. } => "sign",
            Self::Respond { .. } => "respond",
            Self::RegisterCandidate { .. } => "register_candidate",
            Self::WithdrawCandidate {} => "withdraw_candidate",
            Self::VoteJoin { .. } => "vote_join",
            Self::VoteLeave { .. } => "vote_leave",
            Self::VoteNewParameters { .. } => "vote_new_parameters",
            Self::VoteAddDomains { .. } => "vote_add_domains",
            Self::StartKeygenInstance { .. } => "start_keygen_instance",
            Self::VotePk { .. } => "vote_pk",
            Self::StartReshareInstance { .. } => "start_reshare_instance",
            Self::VoteReshared { .. } => "vote_reshared",
            Self::VoteAbort { .. } => "vote_abort",
        }
    }

    /// The call's JSON arguments, as the function-call action carries them.
    pub fn args_json(&self) -> Vec<u8> {
        match serde_json::to_value(self) {
            Ok(serde_json::Value::Object(mut m)) => {
                serde_json::to_vec(&m.remove("args").unwrap_or(serde_json::Value::Null))
                    .expect("JSON values serialize")
            }
            _ => b"{}".to_vec(),
        }
    }

    /// Runs the call on `c` with the contract's own method (the in-process chain dispatches
    /// here, and so does a dry run before sending: [`crate::dry_run`]); the effects are the
    /// host's to carry out. `init` and `init_running` on an existing contract are refused as
    /// the contract refuses them.
    pub fn run<S: Storage + Default>(
        self,
        c: &mut Contract<S>,
        ctx: &Ctx,
    ) -> Result<Vec<Effect>, ContractError> {
        Ok(match self {
            Call::Init { .. } | Call::InitRunning(_) => {
                return Err(ContractError::AlreadyInitialized)
            }
            Call::Sign { request } => c.sign(ctx, SignArgs { request })?,
            Call::Respond {
                request_id,
                response,
            } => c.respond(ctx, &NativeCrypto, request_id, &response)?,
            Call::RegisterCandidate {
                url,
                tls_public_key,
            } => {
                let info = contract::ParticipantInfo {
                    url,
                    tls_public_key: tls_public_key.into(),
                };
                c.register_candidate(ctx, info)?
            }
            Call::WithdrawCandidate {} => c.withdraw_candidate(ctx)?,
            Call::VoteJoin { candidate, epoch } => {
                c.vote_join(ctx, &AccountId(candidate), epoch)?;
                vec![]
            }
            Call::VoteLeave { participant, epoch } => {
                c.vote_leave(ctx, &AccountId(participant), epoch)?;
                vec![]
            }
            Call::VoteNewParameters {
                participants,
                threshold,
                epoch,
            } => {
                let accounts: Vec<AccountId> = participants.into_iter().map(AccountId).collect();
                c.vote_new_parameters(ctx, &accounts, threshold, epoch)?;
                vec![]
            }
            Call::VoteAddDomains { schemes, epoch } => {
                c.vote_add_domains(ctx, &schemes, epoch)?;
                vec![]
            }
            Call::StartKeygenInstance { epoch } => {
                c.start_keygen_instance(ctx, epoch)?;
                vec![]
            }
            Call::VotePk {
                domain_id,
                public_key,
                epoch,
            } => {
                c.vote_pk(ctx, domain_id, public_key, epoch)?;
                vec![]
            }
            Call::StartReshareInstance { epoch } => {
                c.start_reshare_instance(ctx, epoch)?;
                vec![]
            }
            Call::VoteReshared { epoch } => c.vote_reshared(ctx, epoch)?,
            Call::VoteAbort { epoch } => c.vote_abort(ctx, epoch)?,
        })
    }

    /// A call from a method name and JSON arguments, as a chain receives it.
    pub fn from_parts(method: &str, args: &[u8]) -> Result<Self, serde_json::Error> {
        let args: serde_json::Value = serde_json::from_slice(args)?;
        serde_json::from_value(serde_json::json!({"method": method, "args": args}))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calls_carry_nears_method_names_and_args() {
        let call = Call::VoteJoin {
            candidate: "dave.near".into(),
            epoch: 3,
        };
        assert_eq!(call.method_name(), "vote_join");
        assert_eq!(
            serde_json::from_slice::<serde_json::Value>(&call.args_json()).unwrap(),
            serde_json::json!({"candidate": "dave.near", "epoch": 3})
        );
        assert_eq!(
            Call::from_parts("vote_join", &call.args_json()).unwrap(),
            call
        );
        let sign: Call = Call::from_parts(
            "sign",
            br#"{"request": {"path": "p", "payload_v2": {"Ecdsa": "0101010101010101010101010101010101010101010101010101010101010101"}, "domain_id": 0}}"#,
        )
        .unwrap();
        assert_eq!(sign.method_name(), "sign");
        assert!(Call::from_parts("no_such_method", b"{}").is_err());
        // Every variant's method name is its serde tag, so the two cannot drift apart.
        let key: NearPublicKey = "ed25519:6E8sCci9badyRkXb3JoRpBj5p8C6Tw41ELDZoiihKEtp"
            .parse()
            .unwrap();
        let every = [
            Call::Init {
                participants: vec![],
                threshold: 2,
                config: None,
            },
            Call::InitRunning(InitRunningArgs {
                domains: vec![],
                next_domain_id: 0,
                keyset: contract::views::near_state::Keyset {
                    epoch_id: 0,
                    domains: vec![],
                },
                parameters: contract::views::near_state::ThresholdParameters {
                    participants: contract::views::near_state::ParticipantsJson {
                        next_id: 0,
                        participants: vec![],
                    },
                    threshold: 2,
                },
                init_config: None,
            }),
            sign.clone(),
            Call::RegisterCandidate {
                url: "https://x".into(),
                tls_public_key: key,
            },
            Call::WithdrawCandidate {},
            call.clone(),
            Call::VoteLeave {
                participant: "a".into(),
                epoch: 0,
            },
            Call::VoteNewParameters {
                participants: vec![],
                threshold: 2,
                epoch: 0,
            },
            Call::VoteAddDomains {
                schemes: vec![],
                epoch: 0,
            },
            Call::StartKeygenInstance { epoch: 0 },
            Call::VotePk {
                domain_id: DomainId(0),
                public_key: key,
                epoch: 0,
            },
            Call::StartReshareInstance { epoch: 0 },
            Call::VoteReshared { epoch: 0 },
            Call::VoteAbort { epoch: 0 },
        ];
        for c in every {
            let tag = serde_json::to_value(&c).unwrap()["method"].clone();
            assert_eq!(tag, c.method_name(), "{c:?}");
        }
        assert!(Call::from_parts("vote_join", b"{\"epoch\": \"x\"}").is_err());
    }
}
