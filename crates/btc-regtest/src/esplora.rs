//! The HTTP API: Esplora's (Blockstream's block explorer API, which electrs and mempool.space
//! serve and many wallets speak) for what this chain has, plus two devnet calls under
//! `/regtest/` that no Esplora server has.
//!
//! Esplora: `GET /blocks/tip/height`, `/blocks/tip/hash`, `/blocks[/:start_height]`,
//! `/block-height/:height`, `/block/:hash` (`/status`, `/txids`, `/header`, `/raw`),
//! `/tx/:txid` (`/status`, `/hex`, `/raw`, `/outspend/:vout`, `/outspends`),
//! `/address/:address` (`/txs`, `/txs/chain[/:last_seen_txid]`, `/txs/mempool`, `/utxo`),
//! `/mempool`, `/mempool/txids`, `/fee-estimates`; `POST /tx` (a transaction in hex: its txid,
//! or 400 with Bitcoin Core's reject reason as electrs relays it).
//!
//! Fee estimates are 1 sat/vB for every target: blocks here are never full, so the minimum
//! relay fee confirms in the next block.
//!
//! Not Esplora (devnet only): `POST /regtest/faucet` `{"address", "sats"}` pays from the
//! faucet ([`crate::faucet`]) and answers `{"txid"}`; `POST /regtest/mine` `{"blocks",
//! "address"?}` mines that many blocks at once (to the faucet by default) and answers
//! `{"height", "hashes"}`; `GET /regtest/faucet` gives the faucet's address and balance.
//!
//! Malformed input (a txid, an address of another network, a body) is answered 400, unknown
//! objects 404, as Esplora does.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use bitcoin::{
    Address, Amount, BlockHash, Network, OutPoint, Script, ScriptBuf, Transaction, TxOut, Txid,
};
use serde::Deserialize;
use serde_json::{json, Value};
use std::str::FromStr;
use std::sync::Arc;

use crate::chain::Chain;
use crate::faucet::FaucetError;
use crate::index::{Stats, TxMeta};
use crate::service::{Service, MAX_MINE};

type Shared = State<Arc<Service>>;

/// Confirmed transactions per page of an address's history (Esplora's).
const PAGE: usize = 25;
/// Mempool transactions an address's first page shows at most (Esplora's).
const MEMPOOL_PAGE: usize = 50;
/// Esplora's confirmation targets.
const TARGETS: [u32; 28] = [
    1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 144,
    504, 1008,
];

pub fn router(service: Arc<Service>) -> Router {
    Router::new()
        .route("/blocks/tip/height", get(tip_height))
        .route("/blocks/tip/hash", get(tip_hash))
        .route("/blocks", get(recent_blocks))
        .route("/blocks/{start}", get(blocks_from))
        .route("/block-height/{height}", get(block_at))
        .route("/block/{hash}", get(block))
        .route("/block/{hash}/status", get(block_status))
        .route("/block/{hash}/txids", get(block_txids))
        .route("/block/{hash}/header", get(block_header))
        .route("/block/{hash}/raw", get(block_raw))
        .route("/tx", post(broadcast))
        .route("/tx/{txid}", get(tx))
        .route("/tx/{txid}/status", get(tx_status))
        .route("/tx/{txid}/hex", get(tx_hex))
        .route("/tx/{txid}/raw", get(tx_raw))
        .route("/tx/{txid}/outspend/{vout}", get(outspend))
        .route("/tx/{txid}/outspends", get(outspends))
        .route("/address/{address}", get(address))
        .route("/address/{address}/txs", get(address_txs))
        .route("/address/{address}/txs/chain", get(address_chain_txs))
        .route(
            "/address/{address}/txs/chain/{last}",
            get(address_chain_txs_after),
        )
        .route("/address/{address}/txs/mempool", get(address_mempool_txs))
        .route("/address/{address}/utxo", get(address_utxos))
        .route("/mempool", get(mempool))
        .route("/mempool/txids", get(mempool_txids))
        .route("/fee-estimates", get(fee_estimates))
        .route("/regtest/faucet", post(faucet_pay).get(faucet_info))
        .route("/regtest/mine", post(mine))
        .with_state(service)
}

/// A refusal: status and plain-text message, as Esplora answers them.
struct Refusal(StatusCode, String);

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        (self.0, self.1).into_response()
    }
}

type Answer = Result<Response, Refusal>;

fn bad(message: impl Into<String>) -> Refusal {
    Refusal(StatusCode::BAD_REQUEST, message.into())
}

fn not_found(what: &str) -> Refusal {
    Refusal(StatusCode::NOT_FOUND, format!("{what} not found"))
}

fn json_ok(value: Value) -> Answer {
    Ok((
        [(header::CONTENT_TYPE, "application/json")],
        value.to_string(),
    )
        .into_response())
}

fn text_ok(text: String) -> Answer {
    Ok(text.into_response())
}

fn bytes_ok(bytes: Vec<u8>) -> Answer {
    Ok(([(header::CONTENT_TYPE, "application/octet-stream")], bytes).into_response())
}

fn parse_txid(text: &str) -> Result<Txid, Refusal> {
    Txid::from_str(text).map_err(|_| bad("Invalid hex string"))
}

fn parse_block_hash(text: &str) -> Result<BlockHash, Refusal> {
    BlockHash::from_str(text).map_err(|_| bad("Invalid hex string"))
}

fn parse_height(text: &str) -> Result<u32, Refusal> {
    text.parse().map_err(|_| bad("Invalid height"))
}

/// A regtest address's script; an address of another network is refused like a bad one.
fn parse_address(text: &str) -> Result<ScriptBuf, Refusal> {
    Address::from_str(text)
        .ok()
        .and_then(|a| a.require_network(Network::Regtest).ok())
        .map(|a| a.script_pubkey())
        .ok_or_else(|| {
            bad(format!(
                "Invalid Bitcoin address: {text:?} is not a regtest address"
            ))
        })
}

async fn tip_height(State(s): Shared) -> Answer {
    text_ok(s.chain().height().to_string())
}

async fn tip_hash(State(s): Shared) -> Answer {
    let chain = s.chain();
    let tip = chain.index().tip().ok_or_else(|| not_found("Block"))?;
    text_ok(tip.hash.to_string())
}

async fn recent_blocks(State(s): Shared) -> Answer {
    let chain = s.chain();
    blocks_down_from(&chain, chain.height())
}

async fn blocks_from(State(s): Shared, Path(start): Path<String>) -> Answer {
    let start = parse_height(&start)?;
    let chain = s.chain();
    blocks_down_from(&chain, start.min(chain.height()))
}

/// Ten blocks from `start` down, as Esplora's `/blocks` lists them.
fn blocks_down_from(chain: &Chain, start: u32) -> Answer {
    let list: Vec<Value> = (0..=start)
        .rev()
        .take(10)
        .filter_map(|h| chain.index().block_at(h))
        .map(|b| block_view(chain, b))
        .collect();
    json_ok(Value::Array(list))
}

async fn block_at(State(s): Shared, Path(height): Path<String>) -> Answer {
    let height = parse_height(&height)?;
    let chain = s.chain();
    let block = chain
        .index()
        .block_at(height)
        .ok_or_else(|| not_found("Block"))?;
    text_ok(block.hash.to_string())
}

async fn block(State(s): Shared, Path(hash): Path<String>) -> Answer {
    let hash = parse_block_hash(&hash)?;
    let chain = s.chain();
    let block = chain
        .index()
        .block(&hash)
        .ok_or_else(|| not_found("Block"))?;
    json_ok(block_view(&chain, block))
}

fn block_view(chain: &Chain, b: &crate::index::BlockMeta) -> Value {
    json!({
        "id": b.hash.to_string(),
        "height": b.height,
        "version": b.header.version.to_consensus(),
        "timestamp": b.header.time,
        "tx_count": b.txids.len(),
        "size": b.size,
        "weight": b.weight,
        "merkle_root": b.header.merkle_root.to_string(),
        "previousblockhash": (b.height > 0).then(|| b.header.prev_blockhash.to_string()),
        "mediantime": median_time_at(chain, b.height),
        "nonce": b.header.nonce,
        "bits": b.header.bits.to_consensus(),
        "difficulty": b.header.difficulty_float(),
    })
}

/// The median time past of the 11 blocks ending at `height`.
fn median_time_at(chain: &Chain, height: u32) -> u32 {
    let mut times: Vec<u32> = (height.saturating_sub(10)..=height)
        .filter_map(|h| chain.index().block_at(h))
        .map(|b| b.header.time)
        .collect();
    times.sort_unstable();
    times.get(times.len() / 2).copied().unwrap_or(0)
}

async fn block_status(State(s): Shared, Path(hash): Path<String>) -> Answer {
    let hash = parse_block_hash(&hash)?;
    let chain = s.chain();
    let Some(block) = chain.index().block(&hash) else {
        return json_ok(json!({"in_best_chain": false}));
    };
    let next = chain
        .index()
        .block_at(block.height + 1)
        .map(|b| b.hash.to_string());
    json_ok(json!({"in_best_chain": true, "height": block.height, "next_best": next}))
}

async fn block_txids(State(s): Shared, Path(hash): Path<String>) -> Answer {
    let hash = parse_block_hash(&hash)?;
    let chain = s.chain();
    let block = chain
        .index()
        .block(&hash)
        .ok_or_else(|| not_found("Block"))?;
    let ids: Vec<String> = block.txids.iter().map(Txid::to_string).collect();
    json_ok(json!(ids))
}

async fn block_header(State(s): Shared, Path(hash): Path<String>) -> Answer {
    let hash = parse_block_hash(&hash)?;
    let chain = s.chain();
    let block = chain
        .index()
        .block(&hash)
        .ok_or_else(|| not_found("Block"))?;
    text_ok(bitcoin::consensus::encode::serialize_hex(&block.header))
}

async fn block_raw(State(s): Shared, Path(hash): Path<String>) -> Answer {
    let hash = parse_block_hash(&hash)?;
    let chain = s.chain();
    let meta = chain
        .index()
        .block(&hash)
        .ok_or_else(|| not_found("Block"))?;
    let txdata = meta
        .txids
        .iter()
        .filter_map(|t| chain.index().tx(t).map(|m| m.tx.clone()))
        .collect();
    let block = bitcoin::Block {
        header: meta.header,
        txdata,
    };
    bytes_ok(bitcoin::consensus::serialize(&block))
}

/// `POST /tx`: the transaction in hex; its txid once in the mempool.
async fn broadcast(State(s): Shared, body: Bytes) -> Answer {
    let refused = |code: i32, message: String| {
        bad(format!(
            "sendrawtransaction RPC error: {}",
            json!({"code": code, "message": message})
        ))
    };
    let text = std::str::from_utf8(&body).map_err(|_| refused(-22, "TX decode failed".into()))?;
    let tx: Transaction = bitcoin::consensus::encode::deserialize_hex(text.trim())
        .map_err(|e| refused(-22, format!("TX decode failed: {e}")))?;
    let submitted = s.chain().submit(tx);
    match submitted {
        Ok(txid) => text_ok(txid.to_string()),
        Err(e) => {
            tracing::info!("transaction refused: {e}");
            Err(refused(e.rpc_code(), e.to_string()))
        }
    }
}

/// A transaction known to the chain or the mempool: it, what it spent, and its block height.
fn find_tx(chain: &Chain, txid: &Txid) -> Option<(Transaction, Vec<TxOut>, Option<u32>)> {
    if let Some(TxMeta {
        tx,
        height,
        prevouts,
    }) = chain.index().tx(txid)
    {
        return Some((tx.clone(), prevouts.clone(), Some(*height)));
    }
    chain
        .mempool()
        .get(txid)
        .map(|e| (e.tx.clone(), e.prevouts.clone(), None))
}

async fn tx(State(s): Shared, Path(txid): Path<String>) -> Answer {
    let txid = parse_txid(&txid)?;
    let chain = s.chain();
    let (tx, prevouts, height) = find_tx(&chain, &txid).ok_or_else(|| not_found("Transaction"))?;
    json_ok(tx_view(&chain, &tx, &prevouts, height))
}

async fn tx_status(State(s): Shared, Path(txid): Path<String>) -> Answer {
    let txid = parse_txid(&txid)?;
    let chain = s.chain();
    let (_, _, height) = find_tx(&chain, &txid).ok_or_else(|| not_found("Transaction"))?;
    json_ok(status_view(&chain, height))
}

async fn tx_hex(State(s): Shared, Path(txid): Path<String>) -> Answer {
    let txid = parse_txid(&txid)?;
    let chain = s.chain();
    let (tx, _, _) = find_tx(&chain, &txid).ok_or_else(|| not_found("Transaction"))?;
    text_ok(bitcoin::consensus::encode::serialize_hex(&tx))
}

async fn tx_raw(State(s): Shared, Path(txid): Path<String>) -> Answer {
    let txid = parse_txid(&txid)?;
    let chain = s.chain();
    let (tx, _, _) = find_tx(&chain, &txid).ok_or_else(|| not_found("Transaction"))?;
    bytes_ok(bitcoin::consensus::serialize(&tx))
}

async fn outspend(State(s): Shared, Path((txid, vout)): Path<(String, String)>) -> Answer {
    let txid = parse_txid(&txid)?;
    let vout: u32 = vout.parse().map_err(|_| bad("Invalid output index"))?;
    let chain = s.chain();
    let (tx, _, _) = find_tx(&chain, &txid).ok_or_else(|| not_found("Transaction"))?;
    if vout as usize >= tx.output.len() {
        return Err(not_found("Output"));
    }
    json_ok(outspend_view(&chain, OutPoint::new(txid, vout)))
}

async fn outspends(State(s): Shared, Path(txid): Path<String>) -> Answer {
    let txid = parse_txid(&txid)?;
    let chain = s.chain();
    let (tx, _, _) = find_tx(&chain, &txid).ok_or_else(|| not_found("Transaction"))?;
    let list: Vec<Value> = (0..tx.output.len() as u32)
        .map(|vout| outspend_view(&chain, OutPoint::new(txid, vout)))
        .collect();
    json_ok(Value::Array(list))
}

fn outspend_view(chain: &Chain, outpoint: OutPoint) -> Value {
    if let Some((txid, vin)) = chain.index().spender(&outpoint) {
        let height = chain.index().tx(&txid).map(|m| m.height);
        return json!({"spent": true, "txid": txid.to_string(), "vin": vin,
            "status": status_view(chain, height)});
    }
    if let Some(txid) = chain.mempool().spender(&outpoint) {
        let vin = chain.mempool().get(&txid).and_then(|e| {
            e.tx.input
                .iter()
                .position(|i| i.previous_output == outpoint)
        });
        return json!({"spent": true, "txid": txid.to_string(), "vin": vin,
            "status": status_view(chain, None)});
    }
    json!({"spent": false})
}

/// An address's totals, confirmed and in the mempool.
async fn address(State(s): Shared, Path(text): Path<String>) -> Answer {
    let script = parse_address(&text)?;
    let chain = s.chain();
    let chain_stats = chain
        .index()
        .script(&script)
        .map(|e| e.stats)
        .unwrap_or_default();
    json_ok(json!({
        "address": text,
        "chain_stats": chain_stats,
        "mempool_stats": mempool_stats(&chain, &script),
    }))
}

fn mempool_stats(chain: &Chain, script: &Script) -> Stats {
    let mut stats = Stats::default();
    let script = script.to_owned();
    for entry in chain.mempool().touching(&script) {
        stats.tx_count += 1;
        for spent in entry.prevouts.iter().filter(|o| o.script_pubkey == script) {
            stats.spent_txo_count += 1;
            stats.spent_txo_sum += spent.value.to_sat();
        }
        for paid in entry.tx.output.iter().filter(|o| o.script_pubkey == script) {
            stats.funded_txo_count += 1;
            stats.funded_txo_sum += paid.value.to_sat();
        }
    }
    stats
}

/// The mempool's transactions touching `script`, newest first.
fn mempool_txs(chain: &Chain, script: &ScriptBuf) -> Vec<Value> {
    let mut list: Vec<Value> = chain
        .mempool()
        .touching(script)
        .map(|e| tx_view(chain, &e.tx, &e.prevouts, None))
        .collect();
    list.reverse();
    list.truncate(MEMPOOL_PAGE);
    list
}

/// A page of `script`'s confirmed transactions, newest first, after `last_seen` if given.
fn chain_txs(chain: &Chain, script: &ScriptBuf, last_seen: Option<Txid>) -> Vec<Value> {
    let history: &[Txid] = chain
        .index()
        .script(script)
        .map_or(&[], |e| e.history.as_slice());
    let newest_first = history.iter().rev();
    let after: Vec<&Txid> = match last_seen {
        Some(seen) => newest_first.skip_while(|t| **t != seen).skip(1).collect(),
        None => newest_first.collect(),
    };
    after
        .into_iter()
        .take(PAGE)
        .filter_map(|t| chain.index().tx(t))
        .map(|m| tx_view(chain, &m.tx, &m.prevouts, Some(m.height)))
        .collect()
}

async fn address_txs(State(s): Shared, Path(text): Path<String>) -> Answer {
    let script = parse_address(&text)?;
    let chain = s.chain();
    let mut list = mempool_txs(&chain, &script);
    list.extend(chain_txs(&chain, &script, None));
    json_ok(Value::Array(list))
}

async fn address_chain_txs(State(s): Shared, Path(text): Path<String>) -> Answer {
    let script = parse_address(&text)?;
    let chain = s.chain();
    json_ok(Value::Array(chain_txs(&chain, &script, None)))
}

async fn address_chain_txs_after(
    State(s): Shared,
    Path((text, last)): Path<(String, String)>,
) -> Answer {
    let script = parse_address(&text)?;
    let last = parse_txid(&last)?;
    let chain = s.chain();
    json_ok(Value::Array(chain_txs(&chain, &script, Some(last))))
}

async fn address_mempool_txs(State(s): Shared, Path(text): Path<String>) -> Answer {
    let script = parse_address(&text)?;
    let chain = s.chain();
    json_ok(Value::Array(mempool_txs(&chain, &script)))
}

/// The address's unspent outputs: confirmed ones the mempool does not spend, then the
/// mempool's own.
async fn address_utxos(State(s): Shared, Path(text): Path<String>) -> Answer {
    let script = parse_address(&text)?;
    let chain = s.chain();
    let mut list = vec![];
    if let Some(entry) = chain.index().script(&script) {
        for outpoint in &entry.utxos {
            if chain.mempool().spender(outpoint).is_some() {
                continue;
            }
            if let Some(coin) = chain.index().coin(outpoint) {
                list.push(json!({
                    "txid": outpoint.txid.to_string(), "vout": outpoint.vout,
                    "value": coin.output.value.to_sat(),
                    "status": status_view(&chain, Some(coin.height)),
                }));
            }
        }
    }
    for (outpoint, output) in chain.mempool().outputs_to(&script) {
        list.push(json!({
            "txid": outpoint.txid.to_string(), "vout": outpoint.vout,
            "value": output.value.to_sat(), "status": status_view(&chain, None),
        }));
    }
    json_ok(Value::Array(list))
}

async fn mempool(State(s): Shared) -> Answer {
    let chain = s.chain();
    let entries = chain.mempool().entries();
    let vsize: u64 = entries.iter().map(|e| e.vsize()).sum();
    let fees: Amount = entries.iter().map(|e| e.fee).sum();
    json_ok(json!({
        "count": entries.len(), "vsize": vsize, "total_fee": fees.to_sat(),
        "fee_histogram": [],
    }))
}

async fn mempool_txids(State(s): Shared) -> Answer {
    let chain = s.chain();
    let ids: Vec<String> = chain
        .mempool()
        .entries()
        .iter()
        .map(|e| e.txid.to_string())
        .collect();
    json_ok(json!(ids))
}

async fn fee_estimates() -> Answer {
    let estimates: serde_json::Map<String, Value> = TARGETS
        .iter()
        .map(|t| (t.to_string(), json!(1.0)))
        .collect();
    json_ok(Value::Object(estimates))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FaucetRequest {
    address: String,
    sats: u64,
}

/// `POST /regtest/faucet` (devnet only): pays `sats` to `address`.
async fn faucet_pay(State(s): Shared, body: Bytes) -> Answer {
    let request: FaucetRequest = serde_json::from_slice(&body)
        .map_err(|e| bad(format!("expected {{\"address\", \"sats\"}}: {e}")))?;
    let to = parse_address(&request.address)?;
    let amount = Amount::from_sat(request.sats);
    let service = Arc::clone(&s);
    let paid = tokio::task::spawn_blocking(move || service.pay(to, amount))
        .await
        .map_err(|e| Refusal(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
    match paid {
        Ok(txid) => json_ok(json!({"txid": txid.to_string()})),
        Err(e @ (FaucetError::Dust(_) | FaucetError::TooMuch(_))) => Err(bad(e.to_string())),
        Err(e @ FaucetError::Empty { .. }) => {
            Err(Refusal(StatusCode::SERVICE_UNAVAILABLE, e.to_string()))
        }
        Err(e) => Err(Refusal(StatusCode::INTERNAL_SERVER_ERROR, e.to_string())),
    }
}

/// `GET /regtest/faucet` (devnet only): its address and what it can spend now.
async fn faucet_info(State(s): Shared) -> Answer {
    let script = s.faucet().script_pubkey();
    let spendable: Amount = s
        .chain()
        .spendable(&script)
        .iter()
        .map(|(_, o)| o.value)
        .sum();
    json_ok(json!({
        "address": s.faucet().address().to_string(),
        "spendable_sats": spendable.to_sat(),
    }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MineRequest {
    #[serde(default = "one")]
    blocks: u32,
    address: Option<String>,
}

fn one() -> u32 {
    1
}

/// `POST /regtest/mine` (devnet only): mines blocks now, paying `address` (default: the
/// faucet).
async fn mine(State(s): Shared, body: Bytes) -> Answer {
    let request: MineRequest = if body.is_empty() {
        MineRequest {
            blocks: 1,
            address: None,
        }
    } else {
        serde_json::from_slice(&body)
            .map_err(|e| bad(format!("expected {{\"blocks\", \"address\"?}}: {e}")))?
    };
    if request.blocks == 0 || request.blocks > MAX_MINE {
        return Err(bad(format!("blocks must be 1 to {MAX_MINE}")));
    }
    let to = request.address.as_deref().map(parse_address).transpose()?;
    let service = Arc::clone(&s);
    let mined = tokio::task::spawn_blocking(move || service.mine(request.blocks, to))
        .await
        .map_err(|e| Refusal(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?
        .map_err(|e| Refusal(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
    let hashes: Vec<String> = mined.iter().map(|m| m.hash.to_string()).collect();
    let height = mined.last().map(|m| m.height);
    json_ok(json!({"height": height, "hashes": hashes}))
}

/// Esplora's `status` of a transaction confirmed at `height` (or in the mempool).
fn status_view(chain: &Chain, height: Option<u32>) -> Value {
    match height.and_then(|h| chain.index().block_at(h)) {
        Some(b) => json!({
            "confirmed": true, "block_height": b.height,
            "block_hash": b.hash.to_string(), "block_time": b.header.time,
        }),
        None => json!({"confirmed": false}),
    }
}

/// A transaction as Esplora shows it.
fn tx_view(chain: &Chain, tx: &Transaction, prevouts: &[TxOut], height: Option<u32>) -> Value {
    let coinbase = tx.is_coinbase();
    let vin: Vec<Value> = tx
        .input
        .iter()
        .enumerate()
        .map(|(i, input)| {
            json!({
                "txid": input.previous_output.txid.to_string(),
                "vout": input.previous_output.vout,
                "prevout": prevouts.get(i).map(output_view),
                "scriptsig": hex::encode(input.script_sig.as_bytes()),
                "scriptsig_asm": input.script_sig.to_asm_string(),
                "witness": input.witness.iter().map(hex::encode).collect::<Vec<_>>(),
                "is_coinbase": coinbase,
                "sequence": input.sequence.0,
            })
        })
        .collect();
    let paid: u64 = tx.output.iter().map(|o| o.value.to_sat()).sum();
    let spent: u64 = prevouts.iter().map(|o| o.value.to_sat()).sum();
    json!({
        "txid": tx.compute_txid().to_string(),
        "version": tx.version.0,
        "locktime": tx.lock_time.to_consensus_u32(),
        "vin": vin,
        "vout": tx.output.iter().map(output_view).collect::<Vec<_>>(),
        "size": tx.total_size(),
        "weight": tx.weight().to_wu(),
        "fee": if coinbase { 0 } else { spent.saturating_sub(paid) },
        "status": status_view(chain, height),
    })
}

fn output_view(output: &TxOut) -> Value {
    let script = &output.script_pubkey;
    let mut view = json!({
        "scriptpubkey": hex::encode(script.as_bytes()),
        "scriptpubkey_asm": script.to_asm_string(),
        "scriptpubkey_type": script_type(script),
        "value": output.value.to_sat(),
    });
    if let Ok(address) = Address::from_script(script, Network::Regtest) {
        view["scriptpubkey_address"] = json!(address.to_string());
    }
    view
}

/// Esplora's names for the kinds of output script.
fn script_type(script: &Script) -> &'static str {
    if script.is_empty() {
        "empty"
    } else if script.is_op_return() {
        "op_return"
    } else if script.is_p2pk() {
        "p2pk"
    } else if script.is_p2pkh() {
        "p2pkh"
    } else if script.is_p2sh() {
        "p2sh"
    } else if script.is_p2wpkh() {
        "v0_p2wpkh"
    } else if script.is_p2wsh() {
        "v0_p2wsh"
    } else if script.is_p2tr() {
        "v1_p2tr"
    } else if script.is_multisig() {
        "multisig"
    } else {
        "unknown"
    }
}
