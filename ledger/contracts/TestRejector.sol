// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

/// TestRejector is a channel participant that is a contract refusing native coin (it has no
/// receive or fallback function); its owner makes it call the settlement contract through exec.
/// Used only by the ledger's tests, to show it cannot block settlement for its partner.
contract TestRejector {
    address public immutable owner;

    constructor() {
        owner = msg.sender;
    }

    function exec(address target, bytes calldata data) external {
        require(msg.sender == owner, "owner");
        (bool ok, bytes memory ret) = target.call(data);
        if (!ok) {
            assembly {
                revert(add(ret, 32), mload(ret))
            }
        }
    }
}
