//! The few Cosmos SDK protobuf messages a bank send needs, declared with prost's derive
//! instead of pulling cosmos-sdk-proto (and tendermint-proto) for twelve messages. Field
//! numbers and types are those of `cosmos/tx/v1beta1/tx.proto`, `cosmos/bank/v1beta1/tx.proto`,
//! `cosmos/base/v1beta1/coin.proto` and `cosmos/crypto/secp256k1/keys.proto`; the fixture test
//! in `cosmos/tests.rs` pins the bytes against CosmJS.

/// `cosmos.base.v1beta1.Coin`: an amount (a decimal string) of one denomination.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Coin {
    #[prost(string, tag = "1")]
    pub denom: String,
    #[prost(string, tag = "2")]
    pub amount: String,
}

/// `google.protobuf.Any`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Any {
    #[prost(string, tag = "1")]
    pub type_url: String,
    #[prost(bytes = "vec", tag = "2")]
    pub value: Vec<u8>,
}

/// `cosmos.bank.v1beta1.MsgSend`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct MsgSend {
    #[prost(string, tag = "1")]
    pub from_address: String,
    #[prost(string, tag = "2")]
    pub to_address: String,
    #[prost(message, repeated, tag = "3")]
    pub amount: Vec<Coin>,
}

/// `cosmos.tx.v1beta1.TxBody` (without timeout height and extension options).
#[derive(Clone, PartialEq, prost::Message)]
pub struct TxBody {
    #[prost(message, repeated, tag = "1")]
    pub messages: Vec<Any>,
    #[prost(string, tag = "2")]
    pub memo: String,
}

/// `cosmos.crypto.secp256k1.PubKey`: the 33-byte compressed key.
#[derive(Clone, PartialEq, prost::Message)]
pub struct PubKey {
    #[prost(bytes = "vec", tag = "1")]
    pub key: Vec<u8>,
}

/// `cosmos.tx.v1beta1.ModeInfo` with its `single` arm (field 1 of the `sum` oneof), the only
/// one a single signer uses.
#[derive(Clone, PartialEq, prost::Message)]
pub struct ModeInfo {
    #[prost(message, optional, tag = "1")]
    pub single: Option<Single>,
}

/// `cosmos.tx.v1beta1.ModeInfo.Single`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Single {
    /// `cosmos.tx.signing.v1beta1.SignMode`.
    #[prost(int32, tag = "1")]
    pub mode: i32,
}

/// `SIGN_MODE_DIRECT`: the signer signs the protobuf `SignDoc`.
pub const SIGN_MODE_DIRECT: i32 = 1;

/// `cosmos.tx.v1beta1.SignerInfo`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct SignerInfo {
    #[prost(message, optional, tag = "1")]
    pub public_key: Option<Any>,
    #[prost(message, optional, tag = "2")]
    pub mode_info: Option<ModeInfo>,
    #[prost(uint64, tag = "3")]
    pub sequence: u64,
}

/// `cosmos.tx.v1beta1.Fee` (without payer and granter).
#[derive(Clone, PartialEq, prost::Message)]
pub struct Fee {
    #[prost(message, repeated, tag = "1")]
    pub amount: Vec<Coin>,
    #[prost(uint64, tag = "2")]
    pub gas_limit: u64,
}

/// `cosmos.tx.v1beta1.AuthInfo`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct AuthInfo {
    #[prost(message, repeated, tag = "1")]
    pub signer_infos: Vec<SignerInfo>,
    #[prost(message, optional, tag = "2")]
    pub fee: Option<Fee>,
}

/// `cosmos.tx.v1beta1.SignDoc`: what `SIGN_MODE_DIRECT` signs (its SHA-256).
#[derive(Clone, PartialEq, prost::Message)]
pub struct SignDoc {
    #[prost(bytes = "vec", tag = "1")]
    pub body_bytes: Vec<u8>,
    #[prost(bytes = "vec", tag = "2")]
    pub auth_info_bytes: Vec<u8>,
    #[prost(string, tag = "3")]
    pub chain_id: String,
    #[prost(uint64, tag = "4")]
    pub account_number: u64,
}

/// `cosmos.tx.v1beta1.TxRaw`: what a node's broadcast takes.
#[derive(Clone, PartialEq, prost::Message)]
pub struct TxRaw {
    #[prost(bytes = "vec", tag = "1")]
    pub body_bytes: Vec<u8>,
    #[prost(bytes = "vec", tag = "2")]
    pub auth_info_bytes: Vec<u8>,
    #[prost(bytes = "vec", repeated, tag = "3")]
    pub signatures: Vec<Vec<u8>>,
}
