//! `EXPERIMENTAL_protocol_config`: the chain's protocol configuration in nearcore's
//! `ProtocolConfigView`. near-api-js reads it for every balance (`Account.getState`,
//! `getBalance`: the storage cost per byte, `runtime_config.storage_amount_per_byte`).
//!
//! The runtime config is the one the devnet runs (near-parameters' config for the current
//! protocol version: fees, limits, storage cost); the genesis part says what the devnet is:
//! one shard, one block producer, its chain id and genesis time, a fixed gas price
//! ([`GAS_PRICE`] as both minimum and maximum), NEAR's epoch length. Every block has the same
//! configuration; a block the chain does not have answers `UNKNOWN_BLOCK`.

use near_chain_configs::{GenesisConfig, ProtocolConfig, ProtocolConfigView};
use near_jsonrpc_primitives::errors::RpcError;
use near_jsonrpc_primitives::types::config::{RpcProtocolConfigError, RpcProtocolConfigResponse};
use near_primitives::types::{Balance, Gas};
use serde_json::Value;

use super::{height_of, to_json};
use crate::ledger::{Ledger, GAS_PRICE};
use crate::vm::EPOCH_LENGTH;

/// Gas a chunk may burn, as NEAR mainnet's.
const CHUNK_GAS_LIMIT: u64 = 1_000_000_000_000_000;
/// Blocks a transaction's block hash stays valid for, as NEAR mainnet's.
const TRANSACTION_VALIDITY_PERIOD: u64 = 86_400;

/// `EXPERIMENTAL_protocol_config` for the block `params` name (finality or `block_id`).
pub(super) fn protocol_config(ledger: &Ledger, params: &Value) -> Result<Value, RpcError> {
    height_of(ledger, params).map_err(|_| {
        RpcError::from(RpcProtocolConfigError::UnknownBlock {
            error_message: params.to_string(),
        })
    })?;
    let config = ProtocolConfig {
        genesis_config: genesis_config(ledger),
        runtime_config: ledger.vm.runtime_config().clone(),
    };
    Ok(to_json(RpcProtocolConfigResponse {
        config_view: ProtocolConfigView::from(config),
    }))
}

fn genesis_config(ledger: &Ledger) -> GenesisConfig {
    let ns = ledger.genesis_time_ns;
    let genesis_time =
        chrono::DateTime::from_timestamp((ns / 1_000_000_000) as i64, (ns % 1_000_000_000) as u32)
            .unwrap_or_default();
    GenesisConfig {
        protocol_version: near_primitives::version::PROTOCOL_VERSION,
        genesis_time,
        chain_id: crate::CHAIN_ID.into(),
        genesis_height: 1,
        num_block_producer_seats: 1,
        epoch_length: EPOCH_LENGTH,
        gas_limit: Gas::from_gas(CHUNK_GAS_LIMIT),
        min_gas_price: Balance::from_yoctonear(GAS_PRICE),
        max_gas_price: Balance::from_yoctonear(GAS_PRICE),
        transaction_validity_period: TRANSACTION_VALIDITY_PERIOD,
        ..GenesisConfig::default()
    }
}
