use super::*;
use std::sync::Mutex;

/// A source serving fixed blocks up to `head`.
struct Fixed {
    name: &'static str,
    head: u64,
    blocks: Mutex<BTreeMap<u64, Vec<DataChange>>>,
}

impl Fixed {
    fn new(name: &'static str, head: u64) -> Arc<Self> {
        Arc::new(Self {
            name,
            head,
            blocks: Mutex::default(),
        })
    }

    fn set(&self, height: u64, changes: Vec<DataChange>) {
        self.blocks.lock().unwrap().insert(height, changes);
    }
}

#[async_trait]
impl BlockSource for Fixed {
    fn describe(&self) -> String {
        self.name.into()
    }
    async fn head(&self) -> Result<u64, SourceError> {
        Ok(self.head)
    }
    async fn next_heights(&self, after: u64, limit: usize) -> Result<Heights, SourceError> {
        Ok(Heights::up_to(after, self.head, limit))
    }
    async fn changes(&self, height: u64) -> Result<BlockChanges, SourceError> {
        let changes = self.blocks.lock().unwrap().get(&height).cloned();
        Ok(BlockChanges {
            height,
            changes: changes.unwrap_or_default(),
        })
    }
}

fn write(key: &[u8], value: &[u8]) -> DataChange {
    DataChange::Write {
        key: key.to_vec(),
        value: value.to_vec(),
    }
}

fn remove(key: &[u8]) -> DataChange {
    DataChange::Remove { key: key.to_vec() }
}

fn agreeing(first: &Arc<Fixed>, others: &[&Arc<Fixed>]) -> AgreeingBlocks {
    let others = others
        .iter()
        .map(|s| Arc::clone(*s) as Arc<dyn BlockSource>)
        .collect();
    AgreeingBlocks::new(first.clone(), others)
}

#[tokio::test]
async fn blocks_pass_only_where_every_source_agrees() {
    let (a, b) = (Fixed::new("a", 10), Fixed::new("b", 8));
    let both = agreeing(&a, &[&b]);
    assert_eq!(both.describe(), "a, checked against b");
    // Heights up to the lowest head only.
    assert_eq!(both.head().await.unwrap(), 8);
    assert_eq!(
        both.next_heights(5, 10).await.unwrap().heights,
        vec![6, 7, 8]
    );

    // The same outcome, listed in another order across keys: agreed.
    a.set(
        6,
        vec![write(b"k1", b"v"), remove(b"k2"), write(b"k1", b"w")],
    );
    b.set(6, vec![remove(b"k2"), write(b"k1", b"w")]);
    let got = both.changes(6).await.unwrap();
    assert_eq!(
        got.changes.len(),
        3,
        "the first source's list, as it gave it"
    );

    // A rewritten value, an invented key, a dropped removal: each refused.
    for lie in [
        vec![write(b"k1", b"forged")],
        vec![write(b"k1", b"v"), write(b"k3", b"x")],
        vec![],
    ] {
        a.set(7, vec![write(b"k1", b"v")]);
        b.set(7, lie.clone());
        let e = both.changes(7).await.unwrap_err();
        assert!(
            matches!(&e, SourceError::Disagree(m) if m.contains("at block 7, a and b")),
            "{lie:?}: {e}"
        );
        assert_eq!(e.kind(), "disagree");
    }
}

#[tokio::test]
async fn one_source_alone_is_itself() {
    let a = Fixed::new("a", 3);
    a.set(2, vec![write(b"k", b"v")]);
    let one = agreeing(&a, &[]);
    assert_eq!(one.describe(), "a");
    assert_eq!(
        one.changes(2).await.unwrap().changes,
        vec![write(b"k", b"v")]
    );
}
