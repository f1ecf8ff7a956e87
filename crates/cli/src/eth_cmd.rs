//! `chainsig eth send`: an EVM transfer or contract call from the account's derived address,
//! signed by the network.
//!
//! Everything the user gave is checked before anything is asked of the network: addresses,
//! amounts, fee fields, the chain id against the Ethereum RPC's, and the sender's balance
//! against value plus the most the gas can cost. Without `--eth-rpc` every field must be given
//! and the raw transaction is printed; with it, missing fields are fetched and the transaction
//! is sent and its receipt awaited (unless `--no-send`); a contract call (`--data`, or
//! `--sig` with its arguments) is first run with `eth_call`, and one that would revert is
//! refused before anything is signed.

use alloy_primitives::utils::{format_ether, parse_ether};
use alloy_primitives::{Address, Bytes, U256};
use client::evm::{EthRpc, EvmError, EvmTx, Fees, TRANSFER_GAS};
use primitives::SignatureScheme;
use std::time::Duration;

use crate::sign_cmd::{domain_and_key, failure, hex_arg, Requester};
use crate::Failure;

#[derive(clap::Subcommand)]
pub enum EthCommand {
    /// Send ETH (and optionally call data) from the derived address.
    Send(Box<SendArgs>),
    /// Sign a message as `personal_sign` does (EIP-191), with the derived address's key.
    SignMessage(crate::eth_sign_cmd::MessageArgs),
    /// Sign EIP-712 typed data (the JSON `eth_signTypedData_v4` takes).
    SignTypedData(crate::eth_sign_cmd::TypedDataArgs),
}

#[derive(clap::Args)]
pub struct SendArgs {
    #[command(flatten)]
    requester: Requester,
    /// The Secp256k1 domain that signs (default: the contract's first).
    #[arg(long)]
    domain: Option<u64>,
    /// The recipient (0x + 40 hex; a mixed-case address must have a valid EIP-55 checksum).
    #[arg(long)]
    to: String,
    /// The amount in ether, as a decimal (e.g. `0.5`).
    #[arg(long, default_value = "0")]
    value: String,
    /// Call data in hex, for a contract call.
    #[arg(long, conflicts_with = "sig")]
    data: Option<String>,
    /// A function to call, e.g. "transfer(address,uint256)", its arguments following
    /// (`--sig "transfer(address,uint256)" 0xAb… 1000000`): the call data is made from them.
    #[arg(long)]
    sig: Option<String>,
    /// The arguments of --sig, in order.
    #[arg(requires = "sig")]
    call_args: Vec<String>,
    /// A legacy (EIP-155) transaction instead of EIP-1559.
    #[arg(long)]
    legacy: bool,
    /// The chain id; read from --eth-rpc when not given.
    #[arg(long)]
    chain_id: Option<u64>,
    /// The sender's nonce; read from --eth-rpc when not given.
    #[arg(long)]
    nonce: Option<u64>,
    /// The gas limit; estimated by --eth-rpc when not given (21000 for a plain transfer).
    #[arg(long)]
    gas_limit: Option<u64>,
    /// Legacy gas price in wei.
    #[arg(long, conflicts_with_all = ["max_fee_per_gas", "max_priority_fee_per_gas"])]
    gas_price: Option<u128>,
    /// EIP-1559 fee cap in wei per gas.
    #[arg(long)]
    max_fee_per_gas: Option<u128>,
    /// EIP-1559 priority fee in wei per gas.
    #[arg(long)]
    max_priority_fee_per_gas: Option<u128>,
    /// An Ethereum JSON-RPC endpoint: fills what is missing, checks funds, broadcasts.
    #[arg(long)]
    eth_rpc: Option<String>,
    /// With --eth-rpc: sign but do not broadcast.
    #[arg(long)]
    no_send: bool,
    /// How long to wait for the receipt, in seconds.
    #[arg(long, default_value_t = 120)]
    receipt_timeout: u64,
    /// Print one JSON object instead of text.
    #[arg(long)]
    json: bool,
}

pub fn run(cmd: EthCommand) -> Result<(), Failure> {
    match cmd {
        EthCommand::Send(args) => send(*args),
        EthCommand::SignMessage(args) => crate::eth_sign_cmd::sign_message(args),
        EthCommand::SignTypedData(args) => crate::eth_sign_cmd::sign_typed_data(args),
    }
}

/// An EVM address, refusing a mixed-case one whose EIP-55 checksum is wrong.
pub fn parse_address(name: &str, text: &str) -> Result<Address, Failure> {
    let bad = |why: &str| Failure::usage(format!("{name} {text:?} is not an EVM address: {why}"));
    let hex = text.strip_prefix("0x").ok_or_else(|| bad("no 0x prefix"))?;
    if hex.len() != 40 || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
        return Err(bad("it needs 40 hex digits"));
    }
    let mixed =
        hex.chars().any(|c| c.is_ascii_lowercase()) && hex.chars().any(|c| c.is_ascii_uppercase());
    if mixed {
        Address::parse_checksummed(text, None).map_err(|_| bad("the EIP-55 checksum is wrong"))
    } else {
        text.parse().map_err(|_| bad("unreadable"))
    }
}

/// What the user asked for wrong exits 2; what went wrong after (the RPC, the network's
/// signature, mining) exits 1.
pub(crate) fn evm_failure(e: EvmError) -> Failure {
    match e {
        EvmError::ChainId
        | EvmError::ChainMismatch { .. }
        | EvmError::GasLimit(_)
        | EvmError::Fees { .. }
        | EvmError::Overflow
        | EvmError::InsufficientFunds { .. }
        | EvmError::Reverted(_) => Failure::usage(e),
        EvmError::WrongSigner { .. }
        | EvmError::Unrecoverable(_)
        | EvmError::Rpc(_)
        | EvmError::NotMined { .. } => Failure::failed(e),
    }
}

/// The fee fields the user gave, if they make a whole set.
fn given_fees(args: &SendArgs) -> Result<Option<Fees>, Failure> {
    Ok(match (args.legacy, args.gas_price, args.max_fee_per_gas, args.max_priority_fee_per_gas) {
        (true, _, Some(_), _) | (true, _, _, Some(_)) => {
            return Err(Failure::usage("--max-fee-per-gas and --max-priority-fee-per-gas are for EIP-1559 transactions; --legacy takes --gas-price"))
        }
        (true, Some(gas_price), None, None) => Some(Fees::Legacy { gas_price }),
        (true, None, None, None) => None,
        (false, Some(_), _, _) => {
            return Err(Failure::usage("--gas-price is for --legacy transactions; EIP-1559 takes --max-fee-per-gas and --max-priority-fee-per-gas"))
        }
        (false, None, Some(max), Some(priority)) => Some(Fees::Eip1559 {
            max_fee_per_gas: max,
            max_priority_fee_per_gas: priority,
        }),
        (false, None, None, None) => None,
        (false, None, _, _) => {
            return Err(Failure::usage(
                "give both --max-fee-per-gas and --max-priority-fee-per-gas, or neither",
            ))
        }
    })
}

fn send(args: SendArgs) -> Result<(), Failure> {
    let to = parse_address("--to", &args.to)?;
    let value = parse_ether(&args.value).map_err(|e| {
        Failure::usage(format!(
            "--value {:?} is not an amount of ether: {e}",
            args.value
        ))
    })?;
    let data: Bytes = match (&args.data, &args.sig) {
        (Some(d), _) => hex_arg("--data", d)?.into(),
        (None, Some(sig)) => client::evm::abi::call_data(sig, &args.call_args)
            .map_err(|e| Failure::usage(format!("--sig: {e}")))?,
        (None, None) => Bytes::new(),
    };
    let fees = given_fees(&args)?;
    if args.chain_id == Some(0) {
        return Err(evm_failure(EvmError::ChainId));
    }
    let eth = args.eth_rpc.as_deref().map(EthRpc::new);
    if eth.is_none() {
        let mut missing = vec![];
        if args.chain_id.is_none() {
            missing.push("--chain-id");
        }
        if args.nonce.is_none() {
            missing.push("--nonce");
        }
        if fees.is_none() {
            missing.push(if args.legacy {
                "--gas-price"
            } else {
                "--max-fee-per-gas and --max-priority-fee-per-gas"
            });
        }
        if !missing.is_empty() {
            return Err(Failure::usage(format!(
                "without --eth-rpc, give {}",
                missing.join(", ")
            )));
        }
    }
    let signer = args.requester.signer()?;
    let path = args.requester.path.clone();
    crate::runtime()?.block_on(async {
        let (domain, key) =
            domain_and_key(&signer, args.domain, SignatureScheme::Secp256k1, &path).await?;
        let from = client::address::evm(
            client::address::secp256k1_of(&key, "an EVM address").map_err(Failure::usage)?,
        );
        let tx = match &eth {
            None => EvmTx {
                chain_id: args.chain_id.expect("checked above"),
                nonce: args.nonce.expect("checked above"),
                to,
                value,
                gas_limit: args.gas_limit.unwrap_or(TRANSFER_GAS),
                data,
                fees: fees.expect("checked above"),
            },
            Some(eth) => fill(eth, &args, from, to, value, data, fees).await?,
        };
        tx.check().map_err(evm_failure)?;
        if let Some(eth) = &eth {
            eth.check_funds(from, &tx).await.map_err(evm_failure)?;
        }
        eprintln!("asking the network to sign a transaction from {from} (path {path:?})...");
        let signed = signer
            .sign(&domain, &path, &tx.signing_hash())
            .await
            .map_err(failure)?;
        let primitives::response::SignatureResponse::Secp256k1(sig) = &signed.response else {
            return Err(Failure::failed(
                "a Secp256k1 domain answered with another scheme",
            ));
        };
        let signed_tx = tx.assemble(sig, from).map_err(evm_failure)?;
        let mut receipt = None;
        if let (Some(eth), false) = (&eth, args.no_send) {
            eprintln!("sending {} to {}...", signed_tx.hash, eth.rpc().url());
            eth.send_raw(&signed_tx).await.map_err(evm_failure)?;
            let r = eth
                .wait_receipt(signed_tx.hash, Duration::from_secs(args.receipt_timeout))
                .await
                .map_err(evm_failure)?;
            receipt = Some(r);
        }
        print(&args, &tx, from, &signed_tx, receipt.as_ref());
        match receipt {
            Some(r) if !r.succeeded() => Err(Failure::failed(format!(
                "transaction {} was mined in block {} but reverted",
                signed_tx.hash, r.block_number
            ))),
            _ => Ok(()),
        }
    })
}

/// The transaction with what the user left out read from the chain.
async fn fill(
    eth: &EthRpc,
    args: &SendArgs,
    from: Address,
    to: Address,
    value: U256,
    data: Bytes,
    fees: Option<Fees>,
) -> Result<EvmTx, Failure> {
    let served = eth.chain_id().await.map_err(evm_failure)?;
    let chain_id = match args.chain_id {
        Some(asked) if asked != served => {
            return Err(evm_failure(EvmError::ChainMismatch { asked, served }))
        }
        _ => served,
    };
    let nonce = match args.nonce {
        Some(n) => n,
        None => eth.nonce(from).await.map_err(evm_failure)?,
    };
    let fees = match fees {
        Some(f) => f,
        None if args.legacy => Fees::Legacy {
            gas_price: eth.gas_price().await.map_err(evm_failure)?,
        },
        None => eth.eip1559_fees().await.map_err(evm_failure)?,
    };
    // A contract call is run first against the latest state: one that would revert is
    // refused here, before the network signs (and the sender pays gas for) it.
    if !data.is_empty() {
        eth.simulate(from, to, value, &data)
            .await
            .map_err(evm_failure)?;
    }
    let gas_limit = match args.gas_limit {
        Some(g) => g,
        None if data.is_empty() => TRANSFER_GAS,
        None => eth
            .estimate_gas(from, to, value, &data)
            .await
            .map_err(evm_failure)?,
    };
    Ok(EvmTx {
        chain_id,
        nonce,
        to,
        value,
        data,
        gas_limit,
        fees,
    })
}

fn print(
    args: &SendArgs,
    tx: &EvmTx,
    from: Address,
    signed: &client::evm::SignedEvmTx,
    receipt: Option<&client::evm::Receipt>,
) {
    let kind = if args.legacy { "legacy" } else { "eip1559" };
    let raw = format!("0x{}", hex::encode(&signed.raw));
    if args.json {
        let receipt = receipt.map(|r| {
            serde_json::json!({
                "status": if r.succeeded() { "success" } else { "reverted" },
                "block_number": r.block_number.to::<u64>(),
                "gas_used": r.gas_used.to::<u64>(),
            })
        });
        let out = serde_json::json!({
            // EIP-55 forms, as `chainsig address` prints them (serde would write lower case).
            "from": from.to_string(),
            "to": tx.to.to_string(),
            "value_wei": tx.value.to_string(),
            "chain_id": tx.chain_id,
            "nonce": tx.nonce,
            "gas_limit": tx.gas_limit,
            "type": kind,
            "hash": signed.hash,
            "raw": raw,
            "receipt": receipt,
        });
        println!("{out}");
    } else {
        println!("{:<10} {from}", "from");
        println!("{:<10} {}", "to", tx.to);
        println!("{:<10} {} ETH", "value", format_ether(tx.value));
        println!(
            "{:<10} {} (chain {}, nonce {})",
            "type", kind, tx.chain_id, tx.nonce
        );
        println!("{:<10} {}", "hash", signed.hash);
        println!("{:<10} {raw}", "raw");
        if let Some(r) = receipt {
            let status = if r.succeeded() { "success" } else { "reverted" };
            println!("{:<10} {status} in block {}", "receipt", r.block_number);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::parse_address;

    #[test]
    fn addresses_keep_their_checksum() {
        let good = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed";
        assert_eq!(
            parse_address("--to", good).ok().map(|a| a.to_string()),
            Some(good.into())
        );
        // One letter's case changed: mixed case with a wrong EIP-55 checksum.
        let typo = "0x5aaeb6053F3E94C9b9A09f33669435E7Ef1BeAed";
        let e = parse_address("--to", typo).err().unwrap().message;
        assert!(e.contains("checksum"), "{e}");
        // Without case there is no checksum to check.
        assert!(parse_address("--to", &good.to_lowercase()).is_ok());
        assert!(parse_address("--to", &good.to_uppercase().replace("0X", "0x")).is_ok());
        for bad in [
            "",
            "5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed",
            "0x5aAeb6",
            "0xzzeb6053F3E94C9b9A09f33669435E7Ef1BeAed",
        ] {
            assert!(parse_address("--to", bad).is_err(), "{bad}");
        }
    }
}
