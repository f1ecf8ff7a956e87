//! The XRP Ledger's canonical binary serialization, for the fields of a payment: each field is
//! a header naming its type code and field code (one, two or three bytes), then its value;
//! fields are ordered by type code, then field code; blobs and account ids carry a
//! variable-length prefix. The codes are those of rippled's `SField` table as
//! ripple-binary-codec's `definitions.json` publishes them. Only the types a payment of XRP
//! needs are here (no issued-currency amounts, objects or arrays).

/// A field's identity: its serialized type code and its code within that type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct FieldId {
    type_code: u8,
    nth: u8,
}

const UINT16: u8 = 1;
const UINT32: u8 = 2;
const AMOUNT: u8 = 6;
const BLOB: u8 = 7;
const ACCOUNT_ID: u8 = 8;

pub const TRANSACTION_TYPE: FieldId = FieldId::new(UINT16, 2);
pub const NETWORK_ID: FieldId = FieldId::new(UINT32, 1);
pub const FLAGS: FieldId = FieldId::new(UINT32, 2);
pub const SEQUENCE: FieldId = FieldId::new(UINT32, 4);
pub const DESTINATION_TAG: FieldId = FieldId::new(UINT32, 14);
pub const LAST_LEDGER_SEQUENCE: FieldId = FieldId::new(UINT32, 27);
pub const AMOUNT_FIELD: FieldId = FieldId::new(AMOUNT, 1);
pub const FEE: FieldId = FieldId::new(AMOUNT, 8);
pub const SIGNING_PUB_KEY: FieldId = FieldId::new(BLOB, 3);
pub const TXN_SIGNATURE: FieldId = FieldId::new(BLOB, 4);
pub const ACCOUNT: FieldId = FieldId::new(ACCOUNT_ID, 1);
pub const DESTINATION: FieldId = FieldId::new(ACCOUNT_ID, 3);

/// The largest amount of XRP there is, in drops (10¹⁷): native amounts above it are invalid.
pub const MAX_DROPS: u64 = 100_000_000_000_000_000;

impl FieldId {
    const fn new(type_code: u8, nth: u8) -> Self {
        Self { type_code, nth }
    }

    /// The field header: codes below 16 share one byte, larger ones get a byte of their own.
    fn header(self, out: &mut Vec<u8>) {
        let (t, n) = (self.type_code, self.nth);
        match (t < 16, n < 16) {
            (true, true) => out.push(t << 4 | n),
            (true, false) => out.extend([t << 4, n]),
            (false, true) => out.extend([n, t]),
            (false, false) => out.extend([0, t, n]),
        }
    }
}

/// One field with its encoded value.
#[derive(Debug, Clone)]
pub struct Field {
    id: FieldId,
    value: Vec<u8>,
}

impl Field {
    pub fn uint16(id: FieldId, v: u16) -> Self {
        Self {
            id,
            value: v.to_be_bytes().to_vec(),
        }
    }

    pub fn uint32(id: FieldId, v: u32) -> Self {
        Self {
            id,
            value: v.to_be_bytes().to_vec(),
        }
    }

    /// A native (XRP) amount: bit 63 clear (not an issued currency), bit 62 set (positive),
    /// the drops below. The caller keeps `drops` within [`MAX_DROPS`].
    pub fn drops(id: FieldId, drops: u64) -> Self {
        debug_assert!(drops <= MAX_DROPS);
        Self {
            id,
            value: (0x4000_0000_0000_0000 | drops).to_be_bytes().to_vec(),
        }
    }

    pub fn blob(id: FieldId, bytes: &[u8]) -> Self {
        let mut value = length_prefix(bytes.len());
        value.extend_from_slice(bytes);
        Self { id, value }
    }

    /// An account id is length-prefixed like a blob (always 20 bytes).
    pub fn account(id: FieldId, account: &[u8; 20]) -> Self {
        Self::blob(id, account)
    }
}

/// The variable-length prefix: one byte up to 192, two up to 12 480, three up to 918 744.
fn length_prefix(len: usize) -> Vec<u8> {
    match len {
        0..=192 => vec![len as u8],
        193..=12_480 => {
            let l = len - 193;
            vec![193 + (l >> 8) as u8, (l & 0xff) as u8]
        }
        _ => {
            let l = len - 12_481;
            vec![
                241 + (l >> 16) as u8,
                (l >> 8 & 0xff) as u8,
                (l & 0xff) as u8,
            ]
        }
    }
}

/// The canonical serialization of `fields` (in any order; each id at most once).
pub fn serialize(fields: &[Field]) -> Vec<u8> {
    let mut sorted: Vec<&Field> = fields.iter().collect();
    sorted.sort_by_key(|f| f.id);
    debug_assert!(sorted.windows(2).all(|w| w[0].id != w[1].id));
    let mut out = Vec::new();
    for f in sorted {
        f.id.header(&mut out);
        out.extend_from_slice(&f.value);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_take_one_two_or_three_bytes() {
        let mut out = Vec::new();
        TRANSACTION_TYPE.header(&mut out);
        assert_eq!(out, [0x12]);
        out.clear();
        LAST_LEDGER_SEQUENCE.header(&mut out);
        assert_eq!(out, [0x20, 27]);
        out.clear();
        FieldId::new(16, 3).header(&mut out);
        assert_eq!(out, [0x03, 16]);
        out.clear();
        FieldId::new(17, 20).header(&mut out);
        assert_eq!(out, [0, 17, 20]);
    }

    #[test]
    fn length_prefixes_at_their_boundaries() {
        assert_eq!(length_prefix(0), [0]);
        assert_eq!(length_prefix(192), [192]);
        assert_eq!(length_prefix(193), [193, 0]);
        assert_eq!(length_prefix(12_480), [240, 255]);
        assert_eq!(length_prefix(12_481), [241, 0, 0]);
    }

    #[test]
    fn fields_come_out_in_canonical_order() {
        let out = serialize(&[
            Field::account(ACCOUNT, &[1; 20]),
            Field::uint32(SEQUENCE, 7),
            Field::uint16(TRANSACTION_TYPE, 0),
            Field::drops(FEE, 12),
        ]);
        let mut want = vec![0x12, 0, 0, 0x24, 0, 0, 0, 7, 0x68];
        want.extend(0x4000_0000_0000_000cu64.to_be_bytes());
        want.extend([0x81, 20]);
        want.extend([1; 20]);
        assert_eq!(out, want);
    }
}
