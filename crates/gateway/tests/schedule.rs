//! The gateway's slots read from an L1 preconfer source: a `Whitelist` of two committers rotating
//! per epoch, read through `IPreconferSource.preconferAt`.

use alloy_network::TransactionBuilder;
use alloy_primitives::Address;
use alloy_rpc_types_eth::TransactionRequest;
use based_anvil::{
    Anvil, AnvilOptions,
    contract::{send, wallet},
};
use based_gateway::{Schedule, SourceSchedule};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schedule_follows_the_whitelist() {
    let anvil = Anvil::spawn(&AnvilOptions::default()).expect("anvil (run `make tools`)");
    let l1 = wallet(&anvil, 0);
    let (a, b) = (Address::repeat_byte(0xaa), Address::repeat_byte(0xbb));
    let code = based_contracts::whitelist_creation_code(vec![a, b], 0, 12, 4);
    let receipt = send(&l1, TransactionRequest::default().with_deploy_code(code)).await;
    let whitelist = receipt.contract_address.unwrap();

    let schedule = SourceSchedule::new(whitelist, a);
    assert!(!schedule.is_preconfer(0), "unknown slots are not ours");
    schedule.refresh(&l1, 0, 15).await.unwrap();
    for slot in 0..=15u64 {
        let ours = (slot / 4) % 2 == 0;
        assert_eq!(schedule.is_preconfer(slot), ours, "slot {slot}");
        assert_eq!(schedule.committer_of(slot), Some(if ours { a } else { b }));
    }
    assert!(!schedule.is_preconfer(16), "beyond the refreshed window");
    // A later refresh forgets slots before its start.
    schedule.refresh(&l1, 8, 9).await.unwrap();
    assert_eq!(schedule.committer_of(0), None);
    assert!(schedule.is_preconfer(8));
}
