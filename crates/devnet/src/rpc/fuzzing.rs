//! Request bodies into the devnet's JSON-RPC, as a fuzz target (`fuzz/`) and the replay of its
//! corpus in `cargo test`. One devnet per process (the signer contract deployed, a few funded
//! accounts, no block production so that nothing waits long), and every body answered:
//! whatever arrives, the answer is a JSON-RPC reply — a result or an error — and the chain
//! still answers `status` afterwards.
//!
//! Caveats: the devnet lives in `$TMPDIR/chainsig-fuzz-devnet-<pid>` (removed when the next
//! process of that id starts, not at exit), and its state carries over from one input to the
//! next, so a crash may need the inputs before it to reproduce.

use serde_json::Value;
use std::sync::Arc;
use std::time::Duration;

use crate::{Devnet, Genesis, GenesisAccount, NEAR};

thread_local! {
    static RUNTIME: tokio::runtime::Runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("a runtime");
    static DEVNET: Arc<Devnet> = open();
}

fn open() -> Arc<Devnet> {
    let dir = std::env::temp_dir().join(format!("chainsig-fuzz-devnet-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let genesis = || {
        let key = |seed: u8| {
            let k = ed25519_dalek::SigningKey::from_bytes(&[seed; 32]);
            near_crypto::PublicKey::ED25519(near_crypto::ED25519PublicKey(
                k.verifying_key().to_bytes(),
            ))
        };
        let accounts = ["alice.test", "signer.test"]
            .iter()
            .enumerate()
            .map(|(i, a)| GenesisAccount {
                account_id: a.parse().expect("a valid account id"),
                balance: 100 * NEAR,
                keys: vec![key(i as u8 + 1)],
                wasm: (*a == "signer.test").then(testkit::signer_wasm),
            })
            .collect();
        Ok(Genesis {
            accounts,
            seed: [7; 32],
        })
    };
    let (devnet, _) = Devnet::open(&dir, genesis, Duration::from_millis(1)).expect("a devnet");
    devnet
}

/// One request body.
pub fn body(data: &[u8]) {
    DEVNET.with(|devnet| {
        RUNTIME.with(|rt| {
            let reply = rt.block_on(super::answer(devnet, data));
            assert_eq!(reply["jsonrpc"], "2.0", "{reply}");
            assert!(
                reply.get("result").is_some() != reply.get("error").is_some(),
                "a reply carries a result or an error: {reply}"
            );
            let status = br#"{"jsonrpc":"2.0","id":1,"method":"status","params":[]}"#;
            let status = rt.block_on(super::answer(devnet, status));
            assert!(
                status.get("result").is_some_and(Value::is_object),
                "{status}"
            );
        })
    });
}

#[cfg(test)]
mod tests {
    /// Every input the fuzzers kept, run again (CI runs this on stable).
    #[test]
    fn the_fuzz_corpus_replays() {
        testkit::replay_fuzz_corpus("devnet_rpc", super::body);
    }
}
