// SPDX-License-Identifier: MIT OR Apache-2.0
// The dapp contract of the client compatibility suite (compat.mjs compiles it with the pinned
// solcjs): an event, a counter in storage slot 0 and a call that reverts with a reason.
pragma solidity ^0.8.20;

contract Emitter {
    event Ping(address indexed from, uint256 indexed n, string note);

    uint256 public count;

    function ping(string calldata note) external {
        count += 1;
        emit Ping(msg.sender, count, note);
    }

    function check(uint256 x) external pure returns (uint256) {
        require(x < 10, "x too large");
        return x * 2;
    }
}
