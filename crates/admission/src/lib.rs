//! The transaction admission rule: what a raw L2 transaction must satisfy before anyone queues,
//! forwards or promises it. One rule, shared by the proposer's pool, the preconfirmation gateway
//! and (optionally) the node's RPC forwarder, so that all of them refuse the same transactions
//! with the same words.
//!
//! Two parts:
//! - [`check_tx`], stateless (no L2 state): encoded size, EIP-2718 decoding (exactly one
//!   transaction, no trailing bytes), supported type (legacy, 0x01, 0x02, 0x04; never 0x03),
//!   chain id (a pre-EIP-155 legacy transaction without one is valid, docs/protocol.md §4.4),
//!   gas limit not above the block gas limit, fee caps (priority fee `<=` max fee, max fee `>=`
//!   the base fee floor), and a signature that recovers the sender;
//! - [`check_account`], against the sender's account: nonce not below the account's, balance for
//!   `gas_limit * max_fee_per_gas + value`.
//!
//! Every refusal is an [`AdmissionError`]; [`AdmissionError::code`] and its `Display` are the
//! JSON-RPC error code and message, worded as geth words them ("nonce too low", "insufficient
//! funds for gas * price + value", "exceeds block gas limit", "transaction underpriced",
//! "oversized data", "invalid chain id", "invalid sender", ...), so wallets that match on geth's
//! messages understand them. Nothing here panics on bad input.

use alloy_consensus::{Transaction, TxEnvelope, transaction::SignerRecoverable};
use alloy_eips::eip2718::{Decodable2718, Eip2718Error};
use alloy_primitives::{Address, B256, U256};

/// Default largest transaction (bytes of its EIP-2718 encoding): geth's pool limit.
pub const DEFAULT_MAX_TX_SIZE: usize = 128 * 1024;

/// The lowest base fee EIP-1559 can reach from any positive base fee (below 8 wei the 1/8 step
/// rounds to zero): no L2 block's base fee is ever below it once above it.
pub const MIN_BASE_FEE: u64 = 7;

/// The typed-transaction types the L2 accepts (EIP-2930, EIP-1559, EIP-7702; legacy has none).
pub const SUPPORTED_TYPES: [u8; 3] = [0x01, 0x02, 0x04];

/// JSON-RPC error code of a refused transaction (geth's and execution-apis' convention).
pub const TX_REJECTED: i32 = -32000;
/// JSON-RPC error code of undecodable parameters.
pub const INVALID_PARAMS: i32 = -32602;

/// Limits of the stateless rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rules {
    /// The L2 chain id.
    pub chain_id: u64,
    /// Largest encoded transaction accepted (bytes).
    pub max_tx_size: usize,
    /// L2 block gas limit: a transaction declaring more can never be included.
    pub block_gas_limit: u64,
    /// Lowest base fee the transaction's block can have: a max fee per gas below it is
    /// underpriced.
    pub base_fee_floor: u64,
}

impl Rules {
    /// Rules for `chain_id` with the default size limit, no gas limit bound (`u64::MAX`) and the
    /// protocol's lowest base fee ([`MIN_BASE_FEE`]).
    pub const fn new(chain_id: u64) -> Self {
        Self {
            chain_id,
            max_tx_size: DEFAULT_MAX_TX_SIZE,
            block_gas_limit: u64::MAX,
            base_fee_floor: MIN_BASE_FEE,
        }
    }
}

/// What the account rule needs to know about the sender (at the latest L2 block).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Account {
    /// The account's next nonce.
    pub nonce: u64,
    /// The account's balance (wei).
    pub balance: U256,
}

/// Why a transaction is refused. `Display` is the JSON-RPC error message (geth's wording first).
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum AdmissionError {
    /// Larger than [`Rules::max_tx_size`].
    #[error("oversized data: transaction of {size} bytes, limit {max}")]
    Oversized {
        /// The encoded size.
        size: usize,
        /// The limit.
        max: usize,
    },
    /// Not exactly one EIP-2718 transaction.
    #[error("invalid transaction encoding: {0}")]
    Decode(String),
    /// A type the L2 does not accept (0x03 blob transactions, or an unknown type byte).
    #[error("transaction type not supported: {0:#04x}")]
    TxTypeNotSupported(u8),
    /// A chain id present and not the L2's.
    #[error("invalid chain id: got {got}, expected {expected}")]
    ChainId {
        /// The transaction's chain id.
        got: u64,
        /// The L2 chain id.
        expected: u64,
    },
    /// Gas limit above the block gas limit.
    #[error("exceeds block gas limit: {gas_limit} > {block_gas_limit}")]
    GasLimit {
        /// The transaction's gas limit.
        gas_limit: u64,
        /// The block gas limit.
        block_gas_limit: u64,
    },
    /// Priority fee above the max fee.
    #[error("max priority fee per gas higher than max fee per gas: {priority_fee} > {max_fee}")]
    TipAboveFeeCap {
        /// The max priority fee per gas.
        priority_fee: u128,
        /// The max fee per gas.
        max_fee: u128,
    },
    /// Max fee per gas (gas price) below the base fee floor.
    #[error("transaction underpriced: max fee per gas {max_fee} below the base fee floor {floor}")]
    Underpriced {
        /// The max fee per gas.
        max_fee: u128,
        /// The floor.
        floor: u64,
    },
    /// The signature does not recover a sender.
    #[error("invalid sender: {0}")]
    InvalidSender(String),
    /// Nonce below the account's.
    #[error("nonce too low: address {sender}, tx: {nonce} state: {state}")]
    NonceTooLow {
        /// The sender.
        sender: Address,
        /// The transaction's nonce.
        nonce: u64,
        /// The account's next nonce.
        state: u64,
    },
    /// Balance below `gas_limit * max_fee_per_gas + value`.
    #[error("insufficient funds for gas * price + value: address {sender} have {have} want {want}")]
    InsufficientFunds {
        /// The sender.
        sender: Address,
        /// The balance.
        have: U256,
        /// The maximum cost (`U256::MAX` if it overflows).
        want: U256,
    },
}

impl AdmissionError {
    /// The JSON-RPC error code: [`INVALID_PARAMS`] for undecodable bytes, [`TX_REJECTED`] else.
    pub const fn code(&self) -> i32 {
        match self {
            Self::Decode(_) => INVALID_PARAMS,
            _ => TX_REJECTED,
        }
    }
}

/// A transaction that passed [`check_tx`].
#[derive(Debug, Clone, PartialEq)]
pub struct CheckedTx {
    /// The decoded transaction.
    pub tx: TxEnvelope,
    /// Its hash (keccak256 of the encoding).
    pub hash: B256,
    /// The recovered sender.
    pub sender: Address,
    /// Encoded size (bytes).
    pub size: usize,
}

impl CheckedTx {
    /// The nonce.
    pub fn nonce(&self) -> u64 {
        self.tx.nonce()
    }

    /// The declared gas limit.
    pub fn gas_limit(&self) -> u64 {
        self.tx.gas_limit()
    }

    /// Max fee per gas (the gas price of legacy and EIP-2930 transactions).
    pub fn max_fee_per_gas(&self) -> u128 {
        self.tx.max_fee_per_gas()
    }

    /// Max priority fee per gas (the gas price of legacy and EIP-2930 transactions).
    pub fn priority_fee(&self) -> u128 {
        self.tx.max_priority_fee_per_gas().unwrap_or_else(|| self.tx.max_fee_per_gas())
    }

    /// `gas_limit * max_fee_per_gas + value`, `None` if it overflows 256 bits.
    pub fn max_cost(&self) -> Option<U256> {
        U256::from(self.gas_limit())
            .checked_mul(U256::from(self.max_fee_per_gas()))?
            .checked_add(self.tx.value())
    }
}

/// The stateless rule (module docs): decodes `raw` and checks it against `rules`.
pub fn check_tx(raw: &[u8], rules: &Rules) -> Result<CheckedTx, AdmissionError> {
    if raw.len() > rules.max_tx_size {
        return Err(AdmissionError::Oversized { size: raw.len(), max: rules.max_tx_size });
    }
    // The type byte first: a typed transaction starts with its type (`< 0x80`), a legacy one
    // with an RLP list header (`>= 0xc0`).
    if let Some(&ty) = raw.first()
        && ty < 0x80
        && !SUPPORTED_TYPES.contains(&ty)
    {
        return Err(AdmissionError::TxTypeNotSupported(ty));
    }
    let mut buf = raw;
    let tx = TxEnvelope::decode_2718(&mut buf).map_err(|e| match e {
        Eip2718Error::UnexpectedType(ty) => AdmissionError::TxTypeNotSupported(ty),
        other => AdmissionError::Decode(other.to_string()),
    })?;
    if !buf.is_empty() {
        return Err(AdmissionError::Decode("trailing bytes after transaction".into()));
    }
    if tx.is_eip4844() {
        return Err(AdmissionError::TxTypeNotSupported(0x03));
    }
    if let Some(got) = tx.chain_id()
        && got != rules.chain_id
    {
        return Err(AdmissionError::ChainId { got, expected: rules.chain_id });
    }
    if tx.gas_limit() > rules.block_gas_limit {
        return Err(AdmissionError::GasLimit {
            gas_limit: tx.gas_limit(),
            block_gas_limit: rules.block_gas_limit,
        });
    }
    let max_fee = tx.max_fee_per_gas();
    if let Some(priority_fee) = tx.max_priority_fee_per_gas()
        && priority_fee > max_fee
    {
        return Err(AdmissionError::TipAboveFeeCap { priority_fee, max_fee });
    }
    if max_fee < u128::from(rules.base_fee_floor) {
        return Err(AdmissionError::Underpriced { max_fee, floor: rules.base_fee_floor });
    }
    let sender = tx.recover_signer().map_err(|e| AdmissionError::InvalidSender(e.to_string()))?;
    Ok(CheckedTx { hash: *tx.tx_hash(), tx, sender, size: raw.len() })
}

/// The account rule (module docs): nonce not below the account's, balance for the maximum cost.
pub fn check_account(tx: &CheckedTx, account: &Account) -> Result<(), AdmissionError> {
    if tx.nonce() < account.nonce {
        return Err(AdmissionError::NonceTooLow {
            sender: tx.sender,
            nonce: tx.nonce(),
            state: account.nonce,
        });
    }
    let want = tx.max_cost().unwrap_or(U256::MAX);
    if tx.max_cost().is_none() || account.balance < want {
        return Err(AdmissionError::InsufficientFunds {
            sender: tx.sender,
            have: account.balance,
            want,
        });
    }
    Ok(())
}

/// Both rules: [`check_tx`] then [`check_account`] with the sender's account.
pub fn admit(raw: &[u8], rules: &Rules, account: &Account) -> Result<CheckedTx, AdmissionError> {
    let tx = check_tx(raw, rules)?;
    check_account(&tx, account)?;
    Ok(tx)
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy_consensus::{SignableTransaction, TxEip1559, TxLegacy};
    use alloy_eips::eip2718::Encodable2718;
    use alloy_network::TxSignerSync;
    use alloy_primitives::TxKind;
    use alloy_signer_local::PrivateKeySigner;

    const CHAIN: u64 = 4242;

    fn signer() -> PrivateKeySigner {
        PrivateKeySigner::from_bytes(&B256::repeat_byte(7)).unwrap()
    }

    fn eip1559(f: impl FnOnce(&mut TxEip1559)) -> Vec<u8> {
        let mut tx = TxEip1559 {
            chain_id: CHAIN,
            nonce: 5,
            gas_limit: 21_000,
            max_fee_per_gas: 1_000,
            max_priority_fee_per_gas: 10,
            to: TxKind::Call(Address::repeat_byte(1)),
            value: U256::from(100),
            ..Default::default()
        };
        f(&mut tx);
        let sig = signer().sign_transaction_sync(&mut tx).unwrap();
        TxEnvelope::from(tx.into_signed(sig)).encoded_2718()
    }

    fn rules() -> Rules {
        Rules { block_gas_limit: 30_000_000, ..Rules::new(CHAIN) }
    }

    fn rich() -> Account {
        Account { nonce: 5, balance: U256::from(u64::MAX) }
    }

    #[test]
    fn accepts_a_valid_transaction_and_recovers_the_sender() {
        let tx = admit(&eip1559(|_| {}), &rules(), &rich()).unwrap();
        assert_eq!(tx.sender, signer().address());
        assert_eq!(tx.max_cost(), Some(U256::from(21_000u64 * 1_000 + 100)));
        assert_eq!(tx.priority_fee(), 10);
    }

    #[test]
    fn accepts_pre_eip155_legacy() {
        let mut tx = TxLegacy {
            chain_id: None,
            nonce: 5,
            gas_price: 1_000,
            gas_limit: 21_000,
            to: TxKind::Call(Address::repeat_byte(1)),
            ..Default::default()
        };
        let sig = signer().sign_transaction_sync(&mut tx).unwrap();
        let raw = TxEnvelope::from(tx.into_signed(sig)).encoded_2718();
        let checked = admit(&raw, &rules(), &rich()).unwrap();
        assert_eq!(checked.tx.chain_id(), None);
        assert_eq!(checked.priority_fee(), 1_000);
    }

    #[test]
    fn each_refusal_has_its_error_and_geth_wording() {
        let r = rules();
        let err = check_tx(&vec![0u8; DEFAULT_MAX_TX_SIZE + 1], &r).unwrap_err();
        assert!(matches!(err, AdmissionError::Oversized { .. }));
        assert!(err.to_string().starts_with("oversized data"));

        let err = check_tx(&[0x02, 0xc0], &r).unwrap_err();
        assert!(matches!(err, AdmissionError::Decode(_)));
        assert_eq!(err.code(), INVALID_PARAMS);
        let mut trailing = eip1559(|_| {});
        trailing.push(0);
        assert!(matches!(check_tx(&trailing, &r), Err(AdmissionError::Decode(_))));

        // A blob transaction type byte, and an unknown one.
        let mut blob = eip1559(|_| {});
        blob[0] = 0x03;
        assert_eq!(check_tx(&blob, &r), Err(AdmissionError::TxTypeNotSupported(0x03)));
        let mut unknown = eip1559(|_| {});
        unknown[0] = 0x05;
        let err = check_tx(&unknown, &r).unwrap_err();
        assert_eq!(err, AdmissionError::TxTypeNotSupported(0x05));
        assert!(err.to_string().starts_with("transaction type not supported"));

        let err = check_tx(&eip1559(|t| t.chain_id = 1), &r).unwrap_err();
        assert_eq!(err, AdmissionError::ChainId { got: 1, expected: CHAIN });
        assert!(err.to_string().starts_with("invalid chain id"));

        let err = check_tx(&eip1559(|t| t.gas_limit = 30_000_001), &r).unwrap_err();
        assert!(matches!(err, AdmissionError::GasLimit { gas_limit: 30_000_001, .. }));
        assert!(err.to_string().starts_with("exceeds block gas limit"));

        let err = check_tx(&eip1559(|t| t.max_priority_fee_per_gas = 1_001), &r).unwrap_err();
        assert!(matches!(err, AdmissionError::TipAboveFeeCap { .. }));

        let floor = Rules { base_fee_floor: 1_001, ..r };
        let err = check_tx(&eip1559(|_| {}), &floor).unwrap_err();
        assert_eq!(err, AdmissionError::Underpriced { max_fee: 1_000, floor: 1_001 });
        assert!(err.to_string().starts_with("transaction underpriced"));

        // Corrupt the signature's r (last bytes of the encoding are r and s).
        let mut bad_sig = eip1559(|_| {});
        let n = bad_sig.len();
        bad_sig[n - 40..n - 33].fill(0xff);
        let err = check_tx(&bad_sig, &r).unwrap_err();
        assert!(matches!(err, AdmissionError::InvalidSender(_)), "{err:?}");
        assert!(err.to_string().starts_with("invalid sender"));

        let tx = check_tx(&eip1559(|_| {}), &r).unwrap();
        let err = check_account(&tx, &Account { nonce: 6, ..rich() }).unwrap_err();
        assert_eq!(err, AdmissionError::NonceTooLow { sender: tx.sender, nonce: 5, state: 6 });
        assert!(err.to_string().starts_with("nonce too low"));
        // A nonce above the account's is fine (queued behind the gap).
        check_account(&tx, &Account { nonce: 2, ..rich() }).unwrap();

        let want = U256::from(21_000u64 * 1_000 + 100);
        let poor = Account { nonce: 5, balance: want - U256::from(1) };
        let err = check_account(&tx, &poor).unwrap_err();
        assert!(matches!(err, AdmissionError::InsufficientFunds { want: w, .. } if w == want));
        assert!(err.to_string().starts_with("insufficient funds for gas * price + value"));
        assert_eq!(err.code(), TX_REJECTED);
        check_account(&tx, &Account { nonce: 5, balance: want }).unwrap();

        // A cost overflowing 256 bits is insufficient funds, not a panic.
        let huge = check_tx(&eip1559(|t| t.value = U256::MAX), &r).unwrap();
        let err = check_account(&huge, &Account { nonce: 5, balance: U256::MAX }).unwrap_err();
        assert!(matches!(err, AdmissionError::InsufficientFunds { .. }));
    }
}
