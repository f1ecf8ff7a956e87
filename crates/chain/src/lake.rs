//! NEAR Lake: the chain's blocks as `StreamerMessage`s in an S3 bucket (docs/design.md,
//! "Indexer").
//!
//! The layout is NEAR Lake's (what near-lake-framework reads): for every block, under its
//! height padded to 12 digits, `<height>/block.json` (a `BlockView`) and one
//! `<height>/shard_<id>.json` (an `IndexerShard`, whose `state_changes` carry the block's
//! storage changes) per chunk. Heights are found by listing the bucket with delimiter `/`
//! from the last one read (one thousand-height prefix at a time) while behind; once caught up,
//! by reading the next height's `block.json` directly, listing only when the height after it
//! exists (a skipped height), every fifth empty poll (several skipped) and every fiftieth
//! (a gap of over a thousand heights).
//!
//! A height missing while a later one is there is taken as skipped, as NEAR skips heights:
//! a writer that uploads heights out of order could have one passed over. NEAR Lake's writer
//! and the devnet's publish in order. The types are near-indexer-primitives' (the ecosystem's own), the
//! requests are signed with AWS SigV4 by rusty-s3 (a sans-IO signer: it only builds URLs, so the
//! HTTP client stays the one the node already has) — near-lake-framework itself would pull
//! the whole AWS SDK and a second nearcore.
//!
//! [`LakeClient`] reads and writes objects (the devnet publishes its blocks with it);
//! [`LakeBlocks`] is the [`BlockSource`] a node follows.
//!
//! Caveats: only `block.json` and the shard files are read; a height is listed as soon as one
//! of its objects exists, so an object still missing is "not there yet" and asked for again.
//! For NEAR's own buckets (requester pays) set `requester_pays`.

use async_trait::async_trait;
use near_indexer_primitives::views::BlockView;
use near_indexer_primitives::IndexerShard;
use near_primitives::types::AccountId;
pub use rusty_s3::Credentials;
use rusty_s3::{Bucket, S3Action, UrlStyle};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use crate::blocks::{data_changes, BlockChanges, BlockSource, Heights, SourceError};

/// How long a signed request stays valid.
const SIGNED_FOR: Duration = Duration::from_secs(300);
/// Per request.
const HTTP_TIMEOUT: Duration = Duration::from_secs(20);

/// Where a lake is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LakeConfig {
    /// The S3 endpoint, e.g. `https://s3.eu-central-1.amazonaws.com` or `http://127.0.0.1:9000`.
    pub endpoint: String,
    pub bucket: String,
    pub region: String,
    /// Whether the reader pays for requests (NEAR's public lake buckets).
    pub requester_pays: bool,
}

/// Credentials from AWS's usual environment variables (`AWS_ACCESS_KEY_ID`,
/// `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`); `None` for anonymous requests.
pub fn credentials_from_env() -> Option<Credentials> {
    Credentials::from_env()
}

/// The object key of a block's `block.json`.
pub fn block_key(height: u64) -> String {
    format!("{height:012}/block.json")
}

/// The object key of a block's shard file.
pub fn shard_key(height: u64, shard: u64) -> String {
    format!("{height:012}/shard_{shard}.json")
}

/// Reads and writes one lake bucket.
pub struct LakeClient {
    bucket: Bucket,
    credentials: Option<Credentials>,
    requester_pays: bool,
    http: reqwest::Client,
    describe: String,
}

fn unreachable_err(what: &str, e: impl std::fmt::Display) -> SourceError {
    SourceError::Unreachable(format!("{what}: {e}"))
}

impl LakeClient {
    /// A client for `config`, signing with `credentials` (`None`: anonymous requests).
    pub fn new(config: &LakeConfig, credentials: Option<Credentials>) -> Result<Self, SourceError> {
        let endpoint = config.endpoint.parse().map_err(|e| {
            SourceError::Malformed(format!("lake endpoint {:?}: {e}", config.endpoint))
        })?;
        let bucket = Bucket::new(
            endpoint,
            UrlStyle::Path,
            config.bucket.clone(),
            config.region.clone(),
        )
        .map_err(|e| SourceError::Malformed(format!("lake bucket: {e}")))?;
        let http = reqwest::Client::builder()
            .timeout(HTTP_TIMEOUT)
            .build()
            .map_err(|e| unreachable_err("HTTP client", e))?;
        Ok(Self {
            bucket,
            credentials,
            requester_pays: config.requester_pays,
            http,
            describe: format!("NEAR Lake s3://{} at {}", config.bucket, config.endpoint),
        })
    }

    fn signed<'a>(&self, mut action: impl S3Action<'a>) -> (reqwest::Url, Vec<(String, String)>) {
        if self.requester_pays {
            action
                .headers_mut()
                .insert("x-amz-request-payer", "requester");
        }
        let headers = action
            .headers_mut()
            .iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        (action.sign(SIGNED_FOR), headers)
    }

    async fn send(
        &self,
        request: reqwest::RequestBuilder,
        headers: Vec<(String, String)>,
        what: &str,
    ) -> Result<reqwest::Response, SourceError> {
        let mut request = request;
        for (k, v) in headers {
            request = request.header(k, v);
        }
        request.send().await.map_err(|e| unreachable_err(what, e))
    }

    /// An object's bytes; `None` when it does not exist (yet).
    pub async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, SourceError> {
        let (url, headers) = self.signed(self.bucket.get_object(self.credentials.as_ref(), key));
        let response = self.send(self.http.get(url), headers, key).await?;
        if response.status() == reqwest::StatusCode::NOT_FOUND {
            return Ok(None);
        }
        let status = response.status();
        if !status.is_success() {
            return Err(unreachable_err(key, format!("S3 answered {status}")));
        }
        let body = response
            .bytes()
            .await
            .map_err(|e| unreachable_err(key, e))?;
        Ok(Some(body.to_vec()))
    }

    /// Writes an object.
    pub async fn put(&self, key: &str, body: Vec<u8>) -> Result<(), SourceError> {
        let (url, headers) = self.signed(self.bucket.put_object(self.credentials.as_ref(), key));
        let response = self
            .send(self.http.put(url).body(body), headers, key)
            .await?;
        let status = response.status();
        if !status.is_success() {
            return Err(unreachable_err(key, format!("S3 answered {status}")));
        }
        Ok(())
    }

    /// Heights with objects after `after`, ascending, at most `limit`.
    pub async fn heights_after(&self, after: u64, limit: usize) -> Result<Vec<u64>, SourceError> {
        self.heights_after_within(after, limit, None).await
    }

    /// As [`Self::heights_after`], among keys starting with `prefix` only.
    pub async fn heights_after_within(
        &self,
        after: u64,
        limit: usize,
        prefix: Option<&str>,
    ) -> Result<Vec<u64>, SourceError> {
        let mut action = self.bucket.list_objects_v2(self.credentials.as_ref());
        action.with_delimiter("/");
        if let Some(prefix) = prefix {
            action.with_prefix(prefix);
        }
        action.with_start_after(format!("{after:012}/~"));
        action.with_max_keys(limit.max(1));
        let (url, headers) = self.signed(action);
        let response = self.send(self.http.get(url), headers, "listing").await?;
        let status = response.status();
        if !status.is_success() {
            return Err(unreachable_err("listing", format!("S3 answered {status}")));
        }
        let text = response
            .text()
            .await
            .map_err(|e| unreachable_err("listing", e))?;
        let listing = rusty_s3::actions::ListObjectsV2::parse_response(&text)
            .map_err(|e| SourceError::Malformed(format!("bucket listing: {e}")))?;
        let mut heights: Vec<u64> = listing
            .common_prefixes
            .iter()
            .filter_map(|p| p.prefix.trim_end_matches('/').parse().ok())
            .filter(|h| *h > after)
            .collect();
        heights.sort_unstable();
        heights.truncate(limit);
        Ok(heights)
    }

    pub fn describe(&self) -> &str {
        &self.describe
    }
}

/// Heights per listing range: NEAR Lake's keys are 12-digit heights, so the heights of one
/// thousand share their first nine digits, and a listing under that prefix reads one range
/// rather than the whole bucket (which costs S3 nothing, but costs file-backed S3 servers
/// a scan of every object).
const RANGE: u64 = 1000;
/// Empty probes between listings of the next two ranges when caught up (two or more heights
/// skipped in a row are found by them: at the node's 200 ms idle, within a second).
const RANGE_LISTING_EVERY: u64 = 5;
/// Empty probes between listings of the whole bucket when caught up (a gap of over a
/// thousand heights).
const FULL_LISTING_EVERY: u64 = 50;
/// Probes in a row that find the next block before a listing checks how far the lake is.
const BEHIND_AFTER_HITS: u64 = 3;

fn range_prefix(range: u64) -> String {
    format!("{range:09}")
}

/// [`BlockSource`] over a NEAR Lake bucket.
pub struct LakeBlocks {
    client: LakeClient,
    contract: AccountId,
    /// How long to wait before listing again when no new block is there.
    idle: Duration,
    /// The newest height listed so far: the lake's head.
    head: AtomicU64,
    /// Probes that found nothing new.
    empty_polls: AtomicU64,
    /// Probes in a row that found the next block already there.
    hits: AtomicU64,
    /// The block a probe read, for [`BlockSource::changes`].
    probed: Mutex<Option<(u64, BlockView)>>,
}

impl LakeBlocks {
    pub fn new(client: LakeClient, contract_id: &str, idle: Duration) -> Result<Self, SourceError> {
        let contract = contract_id
            .parse()
            .map_err(|e| SourceError::Malformed(format!("contract id {contract_id:?}: {e}")))?;
        Ok(Self {
            client,
            contract,
            idle,
            head: AtomicU64::new(0),
            empty_polls: AtomicU64::new(0),
            hits: AtomicU64::new(0),
            probed: Mutex::new(None),
        })
    }

    async fn json<T: serde::de::DeserializeOwned>(&self, key: &str) -> Result<T, SourceError> {
        let bytes = self
            .client
            .get(key)
            .await?
            .ok_or_else(|| SourceError::Unreachable(format!("{key} is not in the lake yet")))?;
        serde_json::from_slice(&bytes)
            .map_err(|e| SourceError::Malformed(format!("{key} does not parse: {e}")))
    }

    /// Heights after `after`, looking first in the thousand-height ranges of `after + 1` and
    /// the one following it, and in the whole bucket only if those are empty while the lake
    /// is known to go further (a gap of over a thousand heights, or a cursor far behind) or
    /// `full` asks for it.
    async fn list(&self, after: u64, limit: usize, full: bool) -> Result<Vec<u64>, SourceError> {
        let range = (after + 1) / RANGE;
        let mut heights = self
            .client
            .heights_after_within(after, limit, Some(&range_prefix(range)))
            .await?;
        if heights.is_empty() {
            heights = self
                .client
                .heights_after_within(after, limit, Some(&range_prefix(range + 1)))
                .await?;
        }
        if heights.is_empty() && (full || self.head.load(Ordering::Relaxed) > after) {
            heights = self.client.heights_after(after, limit).await?;
        }
        if let Some(last) = heights.last() {
            self.head.fetch_max(*last, Ordering::Relaxed);
        }
        Ok(heights)
    }

    /// The newest height in the bucket, found digit by digit (keys are 12-digit heights):
    /// at most ten one-key listings per digit, however long the lake, where paging from the
    /// start would take one listing per thousand blocks (~10⁵ on NEAR mainnet).
    async fn newest_height(&self) -> Result<Option<u64>, SourceError> {
        let mut prefix = String::with_capacity(12);
        while prefix.len() < 12 {
            let mut found = false;
            for digit in (0..=9).rev() {
                let candidate = format!("{prefix}{digit}");
                if !self
                    .client
                    .heights_after_within(0, 1, Some(&candidate))
                    .await?
                    .is_empty()
                {
                    prefix = candidate;
                    found = true;
                    break;
                }
            }
            if !found {
                return Ok(None); // an empty bucket (or no 12-digit keys)
            }
        }
        Ok(prefix.parse().ok())
    }

    /// `height`'s `block.json`, if it is there.
    async fn block(&self, height: u64) -> Result<Option<BlockView>, SourceError> {
        let key = block_key(height);
        match self.client.get(&key).await? {
            None => Ok(None),
            Some(bytes) => serde_json::from_slice(&bytes)
                .map(Some)
                .map_err(|e| SourceError::Malformed(format!("{key} does not parse: {e}"))),
        }
    }

    /// When caught up: whether the lake has a block after `after`, asked with one or two
    /// object reads rather than a listing. `after + 1` there is the next height (kept, so
    /// [`BlockSource::changes`] does not read it again); `after + 2` there means `after + 1`
    /// was skipped or is still being written, which a listing settles.
    async fn probe(&self, after: u64) -> Result<Probe, SourceError> {
        if let Some(block) = self.block(after + 1).await? {
            self.head.fetch_max(after + 1, Ordering::Relaxed);
            *self.probed.lock().unwrap_or_else(|e| e.into_inner()) = Some((after + 1, block));
            // At the head, a probe finds the next block about as often as not. Found every
            // time, the reader is behind and does not know it: probing one block at a time
            // it would fall further behind while reporting no lag. A listing shows how far
            // the lake is and reads ahead in batches.
            if self.hits.fetch_add(1, Ordering::Relaxed) + 1 >= BEHIND_AFTER_HITS {
                self.hits.store(0, Ordering::Relaxed);
                return Ok(Probe::List { full: false });
            }
            return Ok(Probe::Next);
        }
        self.hits.store(0, Ordering::Relaxed);
        let polls = self.empty_polls.fetch_add(1, Ordering::Relaxed) + 1;
        if self.client.get(&block_key(after + 2)).await?.is_some() {
            return Ok(Probe::List { full: false });
        }
        if polls.is_multiple_of(FULL_LISTING_EVERY) {
            return Ok(Probe::List { full: true });
        }
        // Two heights in a row skipped: a listing of the next ranges finds what follows.
        if polls.is_multiple_of(RANGE_LISTING_EVERY) {
            return Ok(Probe::List { full: false });
        }
        Ok(Probe::Nothing)
    }
}

/// What [`LakeBlocks::probe`] found.
enum Probe {
    /// The very next height.
    Next,
    /// Something to list.
    List { full: bool },
    /// Nothing new yet.
    Nothing,
}

#[async_trait]
impl BlockSource for LakeBlocks {
    fn describe(&self) -> String {
        self.client.describe().to_owned()
    }

    async fn head(&self) -> Result<u64, SourceError> {
        let newest = self.newest_height().await?.unwrap_or(0);
        Ok(self.head.fetch_max(newest, Ordering::Relaxed).max(newest))
    }

    async fn next_heights(&self, after: u64, limit: usize) -> Result<Heights, SourceError> {
        let behind = self.head.load(Ordering::Relaxed) > after;
        let heights = if behind {
            self.list(after, limit, false).await?
        } else {
            match self.probe(after).await? {
                Probe::Next => vec![after + 1],
                Probe::List { full } => self.list(after, limit, full).await?,
                Probe::Nothing => vec![],
            }
        };
        if heights.is_empty() {
            tokio::time::sleep(self.idle).await;
        }
        Ok(Heights {
            head: self.head.load(Ordering::Relaxed).max(after),
            heights,
        })
    }

    async fn changes(&self, height: u64) -> Result<BlockChanges, SourceError> {
        let probed = self.probed.lock().unwrap_or_else(|e| e.into_inner()).take();
        let block = match probed {
            Some((h, block)) if h == height => block,
            _ => self.json(&block_key(height)).await?,
        };
        let mut changes = vec![];
        for chunk in &block.chunks {
            let shard: IndexerShard = self.json(&shard_key(height, chunk.shard_id.into())).await?;
            changes.extend(data_changes(
                &self.contract,
                shard.state_changes.into_iter().map(|c| c.value),
            ));
        }
        Ok(BlockChanges { height, changes })
    }
}
