//! Deterministic generators of realistic L2 batches (feature `test-utils`).
//!
//! Transactions are real signed EIP-1559 transactions (alloy-signer-local, RFC 6979 deterministic
//! signatures), EIP-2718 encoded: plain ETH transfers, ERC-20 `transfer(address,uint256)` calls and
//! Uniswap-V2-style `swapExactTokensForTokens` calls, from a pool of senders with increasing nonces
//! to a pool of recipients, tokens and routers. The same seed always yields the same bytes (the
//! pseudo-random source is a fixed SplitMix64, not a library RNG whose stream could change), so the
//! compression comparison, benchmarks and golden vectors are reproducible.
#![allow(clippy::arithmetic_side_effects, clippy::indexing_slicing, clippy::expect_used)]

use crate::{Batch, BlockManifest, L1Anchor};
use alloy_consensus::{SignableTransaction, TxEip1559, TxEnvelope};
use alloy_eips::eip2718::Encodable2718;
use alloy_primitives::{Address, B256, Bytes, TxKind, U256, keccak256};
use alloy_signer::SignerSync;
use alloy_signer_local::PrivateKeySigner;

/// The devnet L2 chain id used by default.
pub const DEVNET_CHAIN_ID: u64 = 4242;

/// SplitMix64: a tiny, fixed pseudo-random generator (stable forever, unlike library RNG streams).
#[derive(Debug, Clone)]
pub struct SplitMix64(u64);

impl SplitMix64 {
    /// Creates the generator from a seed.
    pub const fn new(seed: u64) -> Self {
        Self(seed)
    }

    /// Next 64 pseudo-random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform-ish value in `lo..hi` (`hi > lo`).
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next_u64() % (hi - lo)
    }

    /// 32 pseudo-random bytes.
    pub fn b256(&mut self) -> B256 {
        let mut out = [0u8; 32];
        for chunk in out.chunks_mut(8) {
            chunk.copy_from_slice(&self.next_u64().to_le_bytes());
        }
        B256::from(out)
    }

    /// A pseudo-random address.
    pub fn address(&mut self) -> Address {
        Address::from_slice(&self.b256()[12..])
    }
}

/// Deterministic private key number `i` of the family `seed`.
pub fn test_signer(seed: u64, i: u64) -> PrivateKeySigner {
    let mut ctr = 0u64;
    loop {
        let mut pre = Vec::with_capacity(32);
        pre.extend_from_slice(b"based-test-key");
        pre.extend_from_slice(&seed.to_be_bytes());
        pre.extend_from_slice(&i.to_be_bytes());
        pre.extend_from_slice(&ctr.to_be_bytes());
        if let Ok(s) = PrivateKeySigner::from_bytes(&keccak256(&pre)) {
            return s;
        }
        ctr += 1;
    }
}

/// Signs an EIP-1559 transaction and returns its EIP-2718 encoding.
pub fn sign_eip1559(signer: &PrivateKeySigner, tx: TxEip1559) -> Bytes {
    let sig = signer.sign_hash_sync(&tx.signature_hash()).expect("signing with a local key");
    let env: TxEnvelope = tx.into_signed(sig).into();
    env.encoded_2718().into()
}

/// ABI calldata of `transfer(address,uint256)`.
pub fn erc20_transfer_calldata(to: Address, amount: U256) -> Bytes {
    let mut d = Vec::with_capacity(68);
    d.extend_from_slice(&[0xa9, 0x05, 0x9c, 0xbb]);
    d.extend_from_slice(&[0u8; 12]);
    d.extend_from_slice(to.as_slice());
    d.extend_from_slice(&amount.to_be_bytes::<32>());
    d.into()
}

/// ABI calldata of `swapExactTokensForTokens(uint256,uint256,address[],address,uint256)`.
pub fn swap_calldata(
    amount_in: U256,
    amount_out_min: U256,
    path: &[Address],
    to: Address,
    deadline: u64,
) -> Bytes {
    let word_addr = |a: &Address| {
        let mut w = [0u8; 32];
        w[12..].copy_from_slice(a.as_slice());
        w
    };
    let mut d = Vec::with_capacity(4 + 32 * (6 + path.len()));
    d.extend_from_slice(&[0x38, 0xed, 0x17, 0x39]);
    d.extend_from_slice(&amount_in.to_be_bytes::<32>());
    d.extend_from_slice(&amount_out_min.to_be_bytes::<32>());
    d.extend_from_slice(&U256::from(0xa0u64).to_be_bytes::<32>());
    d.extend_from_slice(&word_addr(&to));
    d.extend_from_slice(&U256::from(deadline).to_be_bytes::<32>());
    d.extend_from_slice(&U256::from(path.len()).to_be_bytes::<32>());
    for a in path {
        d.extend_from_slice(&word_addr(a));
    }
    d.into()
}

/// Generates realistic, deterministic L2 transactions, manifests and batches.
#[derive(Debug)]
pub struct BatchGenerator {
    rng: SplitMix64,
    chain_id: u64,
    senders: Vec<(PrivateKeySigner, u64)>,
    recipients: Vec<Address>,
    tokens: Vec<Address>,
    routers: Vec<Address>,
    fee_recipient: Address,
    timestamp: u64,
    anchor: L1Anchor,
    blocks: u64,
}

impl BatchGenerator {
    /// A generator for `chain_id` with 64 senders, 512 recipients, 16 tokens and 3 routers.
    pub fn new(seed: u64, chain_id: u64) -> Self {
        let mut rng = SplitMix64::new(seed);
        let senders = (0..64).map(|i| (test_signer(seed, i), rng.range(0, 500))).collect();
        let recipients = (0..512).map(|_| rng.address()).collect();
        let tokens = (0..16).map(|_| rng.address()).collect();
        let routers = (0..3).map(|_| rng.address()).collect();
        let fee_recipient = rng.address();
        let anchor = L1Anchor { number: rng.range(1_000, 1_000_000), hash: rng.b256() };
        Self {
            rng,
            chain_id,
            senders,
            recipients,
            tokens,
            routers,
            fee_recipient,
            timestamp: 1_750_000_000,
            anchor,
            blocks: 0,
        }
    }

    fn sender(&mut self) -> (PrivateKeySigner, u64) {
        let i = self.rng.range(0, self.senders.len() as u64) as usize;
        let (signer, nonce) = &mut self.senders[i];
        let n = *nonce;
        *nonce += 1;
        (signer.clone(), n)
    }

    fn recipient(&mut self) -> Address {
        // 70% known counterparties, 30% fresh addresses.
        if self.rng.range(0, 10) < 7 {
            self.recipients[self.rng.range(0, self.recipients.len() as u64) as usize]
        } else {
            self.rng.address()
        }
    }

    /// A human-looking amount: 1-4 significant digits times a power of ten in `10^lo..10^hi`.
    fn amount(&mut self, lo: u32, hi: u32) -> U256 {
        let digits = self.rng.range(1, 10_000);
        let exp = self.rng.range(u64::from(lo), u64::from(hi));
        U256::from(digits) * U256::from(10u64).pow(U256::from(exp))
    }

    fn fees(&mut self) -> (u128, u128) {
        let tip = u128::from(self.rng.range(1_000_000, 2_000_000_000));
        let max_fee = tip + u128::from(self.rng.range(10_000_000, 3_000_000_000));
        (tip, max_fee)
    }

    fn tx(&mut self, gas_limit: u64, to: Address, value: U256, input: Bytes) -> Bytes {
        let (signer, nonce) = self.sender();
        let (tip, max_fee) = self.fees();
        let tx = TxEip1559 {
            chain_id: self.chain_id,
            nonce,
            gas_limit,
            max_fee_per_gas: max_fee,
            max_priority_fee_per_gas: tip,
            to: TxKind::Call(to),
            value,
            access_list: Default::default(),
            input,
        };
        sign_eip1559(&signer, tx)
    }

    /// A signed ETH transfer.
    pub fn transfer(&mut self) -> Bytes {
        let to = self.recipient();
        let value = self.amount(12, 18);
        self.tx(21_000, to, value, Bytes::new())
    }

    /// A signed ERC-20 `transfer` call.
    pub fn erc20_transfer(&mut self) -> Bytes {
        let token = self.tokens[self.rng.range(0, self.tokens.len() as u64) as usize];
        let to = self.recipient();
        let amount = self.amount(4, 21);
        let gas = self.rng.range(45_000, 70_000);
        self.tx(gas, token, U256::ZERO, erc20_transfer_calldata(to, amount))
    }

    /// A signed DEX swap call (2- or 3-hop path).
    pub fn swap(&mut self) -> Bytes {
        let router = self.routers[self.rng.range(0, self.routers.len() as u64) as usize];
        let hops = self.rng.range(2, 4) as usize;
        let path: Vec<Address> = (0..hops)
            .map(|_| self.tokens[self.rng.range(0, self.tokens.len() as u64) as usize])
            .collect();
        let amount_in = self.amount(6, 21);
        let amount_out_min = amount_in * U256::from(self.rng.range(1, 1_000_000_000));
        let to = self.recipient();
        let deadline = self.timestamp + self.rng.range(60, 1_800);
        let gas = self.rng.range(120_000, 260_000);
        self.tx(
            gas,
            router,
            U256::ZERO,
            swap_calldata(amount_in, amount_out_min, &path, to, deadline),
        )
    }

    /// The next transaction of the mix: 50% ETH transfers, 30% ERC-20 transfers, 20% swaps.
    pub fn next_tx(&mut self) -> Bytes {
        match self.rng.range(0, 10) {
            0..=4 => self.transfer(),
            5..=7 => self.erc20_transfer(),
            _ => self.swap(),
        }
    }

    /// The next manifest with `txs` transactions (2 s block time, anchor advancing every 6 blocks).
    pub fn manifest(&mut self, txs: usize) -> BlockManifest {
        self.timestamp += 2;
        if self.blocks > 0 && self.blocks.is_multiple_of(6) {
            self.anchor = L1Anchor { number: self.anchor.number + 1, hash: self.rng.b256() };
        }
        self.blocks += 1;
        let transactions = (0..txs).map(|_| self.next_tx()).collect();
        BlockManifest {
            timestamp: self.timestamp,
            fee_recipient: self.fee_recipient,
            gas_limit: 30_000_000,
            anchor: self.anchor,
            transactions,
        }
    }

    /// A batch of `blocks` manifests with `txs_per_block` transactions each.
    pub fn batch(&mut self, blocks: usize, txs_per_block: usize) -> Batch {
        let manifests = (0..blocks).map(|_| self.manifest(txs_per_block)).collect();
        Batch { chain_id: self.chain_id, manifests }
    }
}

/// A realistic devnet batch: `blocks` manifests of `txs_per_block` transactions from `seed`.
pub fn realistic_batch(seed: u64, blocks: usize, txs_per_block: usize) -> Batch {
    BatchGenerator::new(seed, DEVNET_CHAIN_ID).batch(blocks, txs_per_block)
}

/// A one-block batch of `count` incompressible 96-byte stand-in transactions (every 32-byte word a
/// distinct hash): about 1,300 of them fill a blob, whatever the compressor.
pub fn incompressible_batch(chain_id: u64, count: u32) -> Batch {
    let transactions = (0..count)
        .map(|i| {
            let word = |j: u8| keccak256([&i.to_le_bytes()[..], &[j]].concat()).0;
            Bytes::from([word(0), word(1), word(2)].concat())
        })
        .collect();
    Batch {
        chain_id,
        manifests: vec![BlockManifest {
            timestamp: 1,
            fee_recipient: Address::ZERO,
            gas_limit: 30_000_000,
            anchor: L1Anchor { number: 0, hash: B256::ZERO },
            transactions,
        }],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy_consensus::transaction::SignerRecoverable;
    use alloy_eips::eip2718::Decodable2718;

    #[test]
    fn deterministic_and_valid() {
        let a = realistic_batch(7, 3, 20);
        let b = realistic_batch(7, 3, 20);
        assert_eq!(a, b);
        assert_ne!(a, realistic_batch(8, 3, 20));
        assert_eq!(a.transaction_count(), 60);
        let mut kinds = [0usize; 3];
        for m in &a.manifests {
            for raw in &m.transactions {
                let env = TxEnvelope::decode_2718_exact(raw).unwrap();
                let tx = env.as_eip1559().unwrap();
                assert_eq!(tx.tx().chain_id, DEVNET_CHAIN_ID);
                env.recover_signer().unwrap();
                match tx.tx().input.get(..4) {
                    None => kinds[0] += 1,
                    Some([0xa9, 0x05, 0x9c, 0xbb]) => kinds[1] += 1,
                    Some(_) => kinds[2] += 1,
                }
            }
        }
        assert!(kinds.iter().all(|&k| k > 0), "{kinds:?}");
        assert!(a.manifests.windows(2).all(|w| w[1].timestamp > w[0].timestamp));
    }

    #[test]
    fn calldata_shapes() {
        assert_eq!(erc20_transfer_calldata(Address::ZERO, U256::from(1)).len(), 68);
        let path = [Address::ZERO, Address::repeat_byte(1)];
        let d = swap_calldata(U256::from(1), U256::from(2), &path, Address::ZERO, 3);
        assert_eq!(d.len(), 4 + 32 * 8);
    }
}
