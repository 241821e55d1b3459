//! The beacon client against beacon API stubs with real consensus-client semantics (slots and
//! roots only, 404 on execution hashes, missed slots, pruned blobs), and the devnet beacon service
//! in front of anvil.

use alloy_eips::eip4844::{BYTES_PER_BLOB, Blob};
use alloy_primitives::B256;
use alloy_transport_http::reqwest::{self, Url};
use based_beacon::{
    BeaconClient, BeaconClientConfig, BeaconError, DevBeacon, DevBeaconConfig, ElBlock, Severity,
    StaticBlock, StaticChain, versioned_hash,
};
use std::{collections::BTreeSet, sync::Arc, time::Duration};

const GENESIS: u64 = 1_000;
const SPS: u64 = 12;

/// A valid blob (every field element below the modulus) depending on `seed`.
fn blob(seed: u8) -> Arc<Blob> {
    let mut bytes = vec![0u8; BYTES_PER_BLOB];
    for i in (0..BYTES_PER_BLOB).step_by(32) {
        bytes[i + 1] = seed;
        bytes[i + 2] = (i / 32) as u8;
    }
    Arc::new(Blob::try_from(bytes.as_slice()).unwrap())
}

fn vh(b: &Blob) -> B256 {
    versioned_hash(b.as_slice()).unwrap()
}

fn el_hash(n: u64) -> B256 {
    B256::with_last_byte(0xe0) | B256::left_padding_from(&n.to_be_bytes())
}

fn block(slot: u64, number: u64, timestamp: u64, blobs: Vec<Arc<Blob>>) -> StaticBlock {
    StaticBlock {
        slot,
        number,
        hash: el_hash(number),
        parent_hash: if number == 0 { B256::ZERO } else { el_hash(number - 1) },
        timestamp,
        blobs,
    }
}

fn el(b: &StaticBlock) -> ElBlock {
    ElBlock { number: b.number, hash: b.hash, timestamp: b.timestamp }
}

/// Slots 0, 1, 3, 4, 5 (slot 2 missed); block 2 (slot 3) has blobs a, b; block 3 sits at slot 4
/// with a timestamp of slot 3 (the shift the devnet service makes on colliding timestamps);
/// block 4 (slot 5) has blob c.
fn chain() -> (StaticChain, [Arc<Blob>; 3]) {
    let (a, b, c) = (blob(1), blob(2), blob(3));
    let blocks = vec![
        block(0, 0, GENESIS, vec![]),
        block(1, 1, GENESIS + SPS, vec![]),
        block(3, 2, GENESIS + 3 * SPS, vec![a.clone(), b.clone()]),
        block(4, 3, GENESIS + 3 * SPS + 1, vec![]),
        block(5, 4, GENESIS + 5 * SPS, vec![c.clone()]),
    ];
    (StaticChain { genesis_time: GENESIS, blocks, finalized_slot: 1 }, [a, b, c])
}

fn stub_config() -> DevBeaconConfig {
    DevBeaconConfig { seconds_per_slot: SPS, slots_per_epoch: 4, ..DevBeaconConfig::default() }
}

async fn stub(cfg: DevBeaconConfig) -> (DevBeacon, StaticChain, [Arc<Blob>; 3]) {
    let (chain, blobs) = chain();
    let beacon = DevBeacon::start_static(cfg, chain.clone()).await.unwrap();
    (beacon, chain, blobs)
}

fn url(s: &str) -> Url {
    s.parse().unwrap()
}

fn client(beacons: &[String], archives: &[String]) -> BeaconClient {
    let mut cfg = BeaconClientConfig::new(beacons.iter().map(|s| url(s)).collect());
    cfg.archive_urls = archives.iter().map(|s| url(s)).collect();
    cfg.timeout = Duration::from_secs(5);
    BeaconClient::new(cfg)
}

async fn get(base: &str, path: &str) -> (u16, serde_json::Value) {
    let r = reqwest::get(format!("{base}{path}")).await.unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or_default())
}

#[tokio::test]
async fn sidecars_preferred_and_verified() {
    let (beacon, chain, [a, b, _]) = stub(stub_config()).await;
    let c = client(&[beacon.url()], &[]);
    let timing = c.timing().await.unwrap();
    assert_eq!(
        (timing.genesis_time, timing.seconds_per_slot, timing.slots_per_epoch),
        (GENESIS, SPS, 4)
    );
    let wanted: BTreeSet<B256> = [vh(&a), vh(&b)].into();
    let got = c.blobs(el(&chain.blocks[2]), &wanted).await.unwrap();
    assert_eq!(got.len(), 2);
    assert_eq!(got[&vh(&a)], a);
    assert_eq!(got[&vh(&b)], b);
    assert_eq!(beacon.hits("blob_sidecars"), 1);
    assert_eq!(beacon.hits("blobs"), 0);
    // Nothing wanted: no request at all.
    let before = beacon.hits("blocks");
    assert!(c.blobs(el(&chain.blocks[2]), &BTreeSet::new()).await.unwrap().is_empty());
    assert_eq!(beacon.hits("blocks"), before);
}

#[tokio::test]
async fn falls_back_to_blobs_endpoint_when_sidecars_are_gone() {
    let cfg = DevBeaconConfig { serve_blob_sidecars: false, ..stub_config() };
    let (beacon, chain, [a, b, c3]) = stub(cfg).await;
    let c = client(&[beacon.url()], &[]);
    let wanted: BTreeSet<B256> = [vh(&b)].into();
    let got = c.blobs(el(&chain.blocks[2]), &wanted).await.unwrap();
    assert_eq!(got.keys().copied().collect::<Vec<_>>(), vec![vh(&b)]);
    assert_eq!(beacon.hits("blob_sidecars"), 1);
    assert_eq!(beacon.hits("blobs"), 1);
    // A blob of another block is not found at this block's slot.
    let err = c.blobs(el(&chain.blocks[2]), &[vh(&c3)].into()).await.unwrap_err();
    assert!(matches!(err, BeaconError::BlobsNotFound { missing: 1, .. }), "{err}");
    assert_eq!(err.severity(), Severity::Unavailable);
    let _ = a;
}

#[tokio::test]
async fn execution_hash_is_not_a_block_id() {
    let (beacon, chain, _) = stub(stub_config()).await;
    let base = beacon.url();
    let hash = chain.blocks[2].hash;
    for path in [
        format!("/eth/v1/beacon/blobs/{hash}"),
        format!("/eth/v1/beacon/blob_sidecars/{hash}"),
        format!("/eth/v1/beacon/headers/{hash}"),
        format!("/eth/v2/beacon/blocks/{hash}"),
    ] {
        let (status, body) = get(&base, &path).await;
        assert_eq!(status, 404, "{path}");
        assert_eq!(body["code"], 404);
        assert!(body["message"].as_str().unwrap().starts_with("NOT_FOUND"), "{body}");
    }
    // Missed slot, bad ids.
    assert_eq!(get(&base, "/eth/v1/beacon/headers/2").await.0, 404);
    let (status, body) = get(&base, "/eth/v1/beacon/headers/latest").await;
    assert_eq!((status, body["code"].as_u64()), (400, Some(400)));
    assert_eq!(get(&base, "/eth/v1/beacon/headers/0x1234").await.0, 400);
}

#[tokio::test]
async fn block_ids_roots_and_duties() {
    let (beacon, _, _) = stub(stub_config()).await;
    let base = beacon.url();
    let (_, head) = get(&base, "/eth/v1/beacon/headers/head").await;
    assert_eq!(head["data"]["header"]["message"]["slot"], "5");
    let root = head["data"]["root"].as_str().unwrap().to_string();
    let (_, by_root) = get(&base, &format!("/eth/v1/beacon/headers/{root}")).await;
    assert_eq!(by_root["data"]["root"], root.as_str());
    let (_, by_slot) = get(&base, "/eth/v1/beacon/headers/5").await;
    assert_eq!(by_slot["data"]["root"], root.as_str());
    // The parent root of slot 5 is the root of slot 4.
    let (_, four) = get(&base, "/eth/v1/beacon/headers/4").await;
    assert_eq!(head["data"]["header"]["message"]["parent_root"], four["data"]["root"]);
    let (_, genesis) = get(&base, "/eth/v1/beacon/headers/genesis").await;
    assert_eq!(genesis["data"]["header"]["message"]["slot"], "0");
    let (_, fin) = get(&base, "/eth/v1/beacon/headers/finalized").await;
    assert_eq!(fin["data"]["header"]["message"]["slot"], "1");
    assert_eq!(fin["finalized"], true);
    let (_, block) = get(&base, "/eth/v2/beacon/blocks/3").await;
    assert_eq!(block["data"]["message"]["body"]["execution_payload"]["block_number"], "2");
    // Head slot 5, 4 slots per epoch: current epoch 1, next 2; others refused.
    let (status, duties) = get(&base, "/eth/v1/validator/duties/proposer/1").await;
    assert_eq!(status, 200);
    let data = duties["data"].as_array().unwrap();
    assert_eq!(data.len(), 4);
    assert_eq!(data[0]["slot"], "4");
    assert_eq!(data[0]["validator_index"], "4");
    assert_eq!(data[0]["pubkey"].as_str().unwrap().len(), 2 + 96);
    assert_eq!(get(&base, "/eth/v1/validator/duties/proposer/2").await.0, 200);
    assert_eq!(get(&base, "/eth/v1/validator/duties/proposer/0").await.0, 400);
    assert_eq!(get(&base, "/eth/v1/validator/duties/proposer/3").await.0, 400);
    // Blobs filtered by versioned hash.
    let (_, all) = get(&base, "/eth/v1/beacon/blobs/3").await;
    assert_eq!(all["data"].as_array().unwrap().len(), 2);
    let (_, none) = get(&base, "/eth/v1/beacon/blobs/1").await;
    assert_eq!(none["data"].as_array().unwrap().len(), 0);
}

#[tokio::test]
async fn missed_slots_and_wrong_blocks_are_typed_errors() {
    let (beacon, chain, [a, _, _]) = stub(stub_config()).await;
    let c = client(&[beacon.url()], &[]);
    let wanted: BTreeSet<B256> = [vh(&a)].into();
    // An execution block whose timestamp maps to the missed slot 2.
    let missed = ElBlock { number: 2, hash: B256::repeat_byte(7), timestamp: GENESIS + 2 * SPS };
    let err = c.blobs(missed, &wanted).await.unwrap_err();
    assert!(matches!(err, BeaconError::MissedSlot { slot: 2, .. }), "{err}");
    assert_eq!(err.severity(), Severity::Temporary);
    // Above the beacon head: not synced yet.
    let ahead = ElBlock { number: 9, hash: B256::repeat_byte(8), timestamp: GENESIS + 9 * SPS };
    let err = c.locate(ahead).await.unwrap_err();
    assert!(matches!(err, BeaconError::Behind { slot: 9, head_slot: 5, .. }), "{err}");
    // Another execution block sits at that slot (a reorg the beacon node has not seen).
    let other = ElBlock { number: 1, hash: B256::repeat_byte(9), timestamp: GENESIS + SPS };
    let err = c.locate(other).await.unwrap_err();
    assert!(matches!(err, BeaconError::NotCanonical { slot: 1, found_number: 1, .. }), "{err}");
    // Before genesis: wrong network.
    let early = ElBlock { number: 1, hash: B256::ZERO, timestamp: GENESIS - 1 };
    assert_eq!(c.locate(early).await.unwrap_err().severity(), Severity::Critical);
    // A block shifted past its timestamp slot is still found.
    assert_eq!(c.locate(el(&chain.blocks[3])).await.unwrap(), 4);
    assert_eq!(c.locate(el(&chain.blocks[4])).await.unwrap(), 5);
}

#[tokio::test]
async fn pruned_blobs_come_from_the_archive() {
    // The beacon node keeps blobs for 1 slot below its head (5): block 2 (slot 3) is pruned.
    let cfg = DevBeaconConfig { blob_retention_slots: Some(1), ..stub_config() };
    let (beacon, chain, [a, b, c3]) = stub(cfg).await;
    let (archive, _, _) = stub(stub_config()).await;
    let wanted: BTreeSet<B256> = [vh(&a), vh(&b)].into();

    let only_beacon = client(&[beacon.url()], &[]);
    let (status, body) = get(&beacon.url(), "/eth/v1/beacon/blobs/3").await;
    assert_eq!(status, 404, "{body}");
    let err = only_beacon.blobs(el(&chain.blocks[2]), &wanted).await.unwrap_err();
    assert!(
        matches!(err, BeaconError::BlobsNotFound { missing: 2, transient: false, .. }),
        "{err}"
    );
    assert_eq!(err.severity(), Severity::Unavailable);
    // Recent blobs are still served.
    let recent = only_beacon.blobs(el(&chain.blocks[4]), &[vh(&c3)].into()).await.unwrap();
    assert_eq!(recent.len(), 1);

    let with_archive = client(&[beacon.url()], &[archive.url()]);
    let got = with_archive.blobs(el(&chain.blocks[2]), &wanted).await.unwrap();
    assert_eq!(got.len(), 2);
    assert!(archive.hits("blob_sidecars") >= 1);
}

#[tokio::test]
async fn next_beacon_url_is_used_when_the_first_is_down() {
    let (beacon, chain, [a, _, _]) = stub(stub_config()).await;
    let dead = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}", l.local_addr().unwrap())
    };
    let c = client(&[dead.clone(), beacon.url()], &[]);
    let got = c.blobs(el(&chain.blocks[2]), &[vh(&a)].into()).await.unwrap();
    assert_eq!(got.len(), 1);
    // Only a dead source: a temporary error.
    let c = client(&[dead], &[]);
    let err = c.blobs(el(&chain.blocks[2]), &[vh(&a)].into()).await.unwrap_err();
    assert_eq!(err.severity(), Severity::Temporary, "{err}");
    // No source at all: misconfiguration.
    let err = client(&[], &[]).blobs(el(&chain.blocks[2]), &[vh(&a)].into()).await.unwrap_err();
    assert_eq!(err.severity(), Severity::Critical);
}

#[tokio::test]
async fn devnet_service_follows_anvil_with_colliding_timestamps() {
    use alloy_provider::{Provider, RootProvider};
    let anvil = based_anvil::Anvil::spawn(&based_anvil::AnvilOptions::default()).unwrap();
    // `anvil_mine` without an interval gives the blocks the same timestamp.
    anvil.rpc("anvil_mine", "[\"0x5\"]").unwrap();
    let beacon = DevBeacon::start(
        DevBeaconConfig { seconds_per_slot: 1, ..DevBeaconConfig::default() },
        url(&anvil.endpoint()),
    )
    .await
    .unwrap();
    anvil.rpc("anvil_mine", "[\"0x3\"]").unwrap();
    let provider = RootProvider::<alloy_network::Ethereum>::new_http(url(&anvil.endpoint()));
    let c = client(&[beacon.url()], &[]);
    let mut last_slot = None;
    for n in 0..=8u64 {
        let b = provider.get_block_by_number(n.into()).await.unwrap().unwrap();
        let block = ElBlock { number: n, hash: b.header.hash, timestamp: b.header.timestamp };
        let slot = c.locate(block).await.unwrap();
        assert!(last_slot.is_none_or(|s| slot > s), "slots strictly increase");
        assert_eq!(beacon.slot_of(b.header.hash).await, Some(slot));
        last_slot = Some(slot);
        // No blobs in these blocks.
        let (_, blobs) = get(&beacon.url(), &format!("/eth/v1/beacon/blobs/{slot}")).await;
        assert_eq!(blobs["data"].as_array().map(Vec::len), Some(0));
    }
    // The execution block hash is no block id here either.
    let head = provider.get_block_by_number(8.into()).await.unwrap().unwrap();
    assert_eq!(
        get(&beacon.url(), &format!("/eth/v2/beacon/blocks/{}", head.header.hash)).await.0,
        404
    );
    beacon.stop().await;
}

#[tokio::test]
async fn devnet_service_follows_anvil_reorgs() {
    let anvil = based_anvil::Anvil::spawn(&based_anvil::AnvilOptions::default()).unwrap();
    anvil.rpc("anvil_mine", "[\"0x3\", \"0x1\"]").unwrap();
    let beacon = DevBeacon::start(
        DevBeaconConfig { seconds_per_slot: 1, ..DevBeaconConfig::default() },
        url(&anvil.endpoint()),
    )
    .await
    .unwrap();
    let snapshot = anvil.rpc("evm_snapshot", "[]").unwrap();
    anvil.rpc("anvil_mine", "[\"0x2\", \"0x1\"]").unwrap();
    let (_, old_head) = get(&beacon.url(), "/eth/v1/beacon/headers/head").await;
    let old_root = old_head["data"]["root"].as_str().unwrap().to_string();
    assert_eq!(get(&beacon.url(), &format!("/eth/v1/beacon/headers/{old_root}")).await.0, 200);

    // Revert and build another branch: the orphaned beacon blocks are gone.
    assert_eq!(anvil.rpc("evm_revert", &format!("[{snapshot}]")).unwrap(), serde_json::json!(true));
    anvil.rpc("anvil_mine", "[\"0x3\", \"0x7\"]").unwrap();
    assert_eq!(get(&beacon.url(), &format!("/eth/v1/beacon/headers/{old_root}")).await.0, 404);
    let (_, head) = get(&beacon.url(), "/eth/v2/beacon/blocks/head").await;
    let payload = &head["data"]["message"]["body"]["execution_payload"];
    assert_eq!(payload["block_number"], "6");
    let c = client(&[beacon.url()], &[]);
    let hash: B256 = payload["block_hash"].as_str().unwrap().parse().unwrap();
    let timestamp: u64 = payload["timestamp"].as_str().unwrap().parse().unwrap();
    let slot = c.locate(ElBlock { number: 6, hash, timestamp }).await.unwrap();
    assert_eq!(head["data"]["message"]["slot"], slot.to_string());
    beacon.stop().await;
}

/// States are served and read in SSZ as consensus clients do (`/eth/v2/debug/beacon/states/{id}`
/// with the sizes of `/eth/v1/config/spec`): by state root, slot or named id; a missed slot or an
/// unknown root is `None`; JSON is refused; the state hashes to its header's `state_root`.
#[tokio::test]
async fn states_in_ssz_by_state_root() {
    let (beacon, chain, _) = stub(stub_config()).await;
    let base = beacon.url();
    let c = client(std::slice::from_ref(&base), &[]);
    let params = c.state_params().await.unwrap();
    assert_eq!(params, based_beacon::server::dev_state_params(4));
    assert_eq!(params, beacon.state_params());
    let header = c.header("4").await.unwrap().unwrap().header.message;
    let state = c.state(&header.state_root.to_string(), &params).await.unwrap().unwrap();
    assert_eq!(state.root(&params).unwrap(), header.state_root);
    assert_eq!(state.slot, 4);
    assert_eq!(state.latest_block_header.body_root, chain.blocks[3].hash);
    assert_eq!(state.latest_execution_payload_header.block_number, 3);
    assert_eq!(state.proposer_lookahead.len(), 8);
    assert_eq!(Some(&state), beacon.state(4).await.as_ref());
    // By slot and by name.
    assert_eq!(c.state("4", &params).await.unwrap().as_ref(), Some(&state));
    let head = c.state("head", &params).await.unwrap().unwrap();
    assert_eq!(head.slot, 5);
    // A missed slot, an unknown root (a block root is not a state root): none.
    assert_eq!(c.state("2", &params).await.unwrap(), None);
    let block_root = c.header("4").await.unwrap().unwrap().root;
    assert_eq!(c.state(&block_root.to_string(), &params).await.unwrap(), None);
    assert!(matches!(
        c.state("latest", &params).await,
        Err(BeaconError::Status { status: 400, .. })
    ));
    // Other sizes than the chain's do not decode.
    let mainnet = based_beacon::state::StateParams::mainnet();
    assert!(matches!(c.state("4", &mainnet).await, Err(BeaconError::Malformed { .. })));
    // JSON is not served.
    let r = reqwest::Client::new()
        .get(format!("{base}/eth/v2/debug/beacon/states/head"))
        .header("accept", "application/json")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 406);
}

/// A one-route stub: answers every request with `status`, these headers and `body`.
async fn raw_stub(
    status: u16,
    headers: &'static [(&'static str, &'static str)],
    body: Vec<u8>,
) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let body = body.clone();
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                let _ = socket.read(&mut buf).await;
                let mut head = format!("HTTP/1.1 {status} X\r\ncontent-length: {}\r\n", body.len());
                for (k, v) in headers {
                    head.push_str(&format!("{k}: {v}\r\n"));
                }
                head.push_str("connection: close\r\n\r\n");
                let _ = socket.write_all(head.as_bytes()).await;
                let _ = socket.write_all(&body).await;
            });
        }
    });
    format!("http://{addr}")
}

/// A state of another fork, or an answer that is not SSZ, is refused with the reason (a client
/// that ignores `Accept`, a pre-Fulu network); a 404 from every node is `None`.
#[tokio::test]
async fn states_of_other_forks_or_formats_are_refused() {
    let (beacon, _, _) = stub(stub_config()).await;
    let params = beacon.state_params();
    let good = beacon.state(4).await.unwrap().to_ssz_bytes(&params).unwrap();
    const SSZ: &str = "application/octet-stream";
    let electra =
        raw_stub(200, &[("content-type", SSZ), ("eth-consensus-version", "electra")], good.clone())
            .await;
    let json = raw_stub(
        200,
        &[("content-type", "application/json"), ("eth-consensus-version", "fulu")],
        b"{\"data\":{}}".to_vec(),
    )
    .await;
    let unversioned = raw_stub(200, &[("content-type", SSZ)], good.clone()).await;
    let fulu =
        raw_stub(200, &[("content-type", SSZ), ("eth-consensus-version", "Fulu")], good.clone())
            .await;
    let gone = raw_stub(404, &[("content-type", "application/json")], b"{}".to_vec()).await;
    for (base, needle) in
        [(&electra, "electra"), (&json, "application/json"), (&unversioned, "missing")]
    {
        match client(std::slice::from_ref(base), &[]).state("head", &params).await {
            Err(BeaconError::Malformed { reason, .. }) => {
                assert!(reason.contains(needle), "{reason}")
            }
            other => panic!("{base}: {other:?}"),
        }
    }
    let read = client(&[fulu], &[]).state("head", &params).await.unwrap().unwrap();
    assert_eq!(read.slot, 4);
    assert_eq!(client(&[gone], &[]).state("head", &params).await.unwrap(), None);
    // A refusing node does not hide a good one behind it.
    let both = client(&[electra, beacon.url()], &[]);
    assert_eq!(both.state("4", &params).await.unwrap().map(|s| s.slot), Some(4));
}
