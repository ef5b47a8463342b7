// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

/// Minimal ERC-20 surface the channels need.
interface IERC20 {
    function transfer(address to, uint256 amount) external returns (bool);
    function transferFrom(address from, address to, uint256 amount) external returns (bool);
}

/// FractalsChannels settles FRACTALS payment channels: two participants lock a deposit (native coin
/// or one ERC-20 token), pay each other off chain with signed cumulative balance proofs, and come
/// here only to top up, withdraw, close, dispute a stale close, settle and unlock hash-locked
/// amounts. Every signed statement is domain-separated: tag, chain id, this contract, channel id,
/// channel epoch and message type.
contract FractalsChannels {
    bytes32 public constant DOMAIN_TAG = keccak256("FRACTALS.ledger.v1");
    uint8 public constant TYPE_BALANCE_PROOF = 1;
    uint8 public constant TYPE_WITHDRAW = 2;
    uint8 public constant TYPE_COOPERATIVE_SETTLE = 3;
    uint8 public constant TYPE_DELEGATE_UPDATE = 4;

    /// Bounds of a channel's settle timeout: long enough for the non-closer (or its watchtower)
    /// to notice a stale close and answer it, short enough that settleAfter cannot overflow and
    /// funds are not frozen for ever.
    uint64 public constant MIN_SETTLE_TIMEOUT = 10 minutes;
    uint64 public constant MAX_SETTLE_TIMEOUT = 365 days;

    uint8 constant STATE_NONE = 0;
    uint8 constant STATE_OPEN = 1;
    uint8 constant STATE_CLOSED = 2;

    /// Proof amounts above this are refused, so settle's signed arithmetic cannot wrap.
    uint256 constant MAX_PROOF_AMOUNT = type(uint128).max;

    uint256 constant SECP256K1_HALF_N = 0x7fffffffffffffffffffffffffffffff5d576e7357a4501ddfe92f46681b20a0;

    struct Participant {
        uint256 deposit;
        uint256 withdrawn;
        // The latest balance proof this participant signed, as submitted after close.
        uint256 nonce;
        uint256 transferred;
        uint256 locked;
        bytes32 locksroot;
    }

    struct Channel {
        address token;
        address a;
        address b;
        uint64 epoch;
        uint64 settleTimeout;
        uint64 settleAfter;
        uint8 state;
        address closer;
    }

    struct BalanceProof {
        uint256 nonce;
        uint256 transferred;
        uint256 locked;
        bytes32 locksroot;
        bytes signature;
    }

    /// Locked amounts left in the contract at settlement, waiting for unlock.
    struct PendingLocks {
        address token;
        address receiver;
        uint256 amount;
        bytes32 locksroot;
    }

    mapping(bytes32 => Channel) public channels;
    mapping(bytes32 => mapping(address => Participant)) internal participants;
    /// Epochs keep counting across reopenings, so old signatures never apply to a new channel.
    mapping(bytes32 => uint64) public lastEpoch;
    /// Keyed by keccak256(channel id, epoch, lock owner).
    mapping(bytes32 => PendingLocks) public pendingLocks;

    /// A settle at which one participant's balance came out negative: the proofs on chain charge it
    /// more than it holds. That happens when its partner's proof on chain is an old one (it lacks
    /// transfers the debtor has since received and withdrawn, typically locks paid off chain), and
    /// the debtor is usually the one who chose that proof. The debt is not forgiven: what this
    /// epoch's unlocks later credit the debtor goes to the creditor first, up to `due`. The
    /// creditor's payout at settle was cut by the debt; when the debt exceeded that payout, the
    /// pending locks promise `hold` more than the channel holds, and the creditor's next credits
    /// from this epoch are cancelled up to it (the debtor's repayments cover it first).
    struct Debt {
        address debtor;
        address creditor;
        uint256 due;
        uint256 hold;
    }

    /// Keyed by keccak256(channel id, epoch).
    mapping(bytes32 => Debt) public debts;
    /// Time (block.timestamp) at which a secret was registered, by its hash.
    mapping(bytes32 => uint256) public secretRegisteredAt;
    /// What settle and unlock paid out and the receiver has not collected yet, by token and
    /// account (pull payments: a receiver that refuses a transfer cannot block the other one).
    mapping(address => mapping(address => uint256)) public owed;

    event ChannelOpened(bytes32 indexed id, uint64 epoch, address a, address b, address token, uint64 settleTimeout);
    event Deposited(bytes32 indexed id, address participant, uint256 total);
    event Withdrawn(bytes32 indexed id, address participant, uint256 total);
    event ChannelClosed(bytes32 indexed id, address closer, uint256 nonce);
    event ProofUpdated(bytes32 indexed id, address signer, uint256 nonce);
    event Settled(bytes32 indexed id, uint64 epoch, uint256 amountA, uint256 amountB);
    event SecretRegistered(bytes32 indexed secrethash, uint256 at);
    event DebtRecorded(bytes32 indexed id, uint64 epoch, address debtor, uint256 due, uint256 hold);
    event Unlocked(bytes32 indexed id, address owner, uint256 paid, uint256 returned);
    event Credited(address indexed token, address indexed to, uint256 amount);
    event Collected(address indexed token, address indexed to, uint256 amount);

    error NotParticipant();
    error BadState(uint8 state);
    error BadSignature();
    error BadAmount();
    error TooEarly();
    error TooLate();
    error TransferFailed();
    error BadSettleTimeout(uint64 settleTimeout);

    function channelId(address x, address y, address token) public pure returns (bytes32) {
        (address lo, address hi) = x < y ? (x, y) : (y, x);
        return keccak256(abi.encode(lo, hi, token));
    }

    function participant(bytes32 id, address who) external view returns (Participant memory) {
        return participants[id][who];
    }

    /// Opens a channel between msg.sender and partner, depositing `amount` (msg.value for native coin).
    function open(address partner, address token, uint64 settleTimeout, uint256 amount) external payable returns (bytes32 id) {
        if (partner == msg.sender || partner == address(0)) revert BadAmount();
        if (settleTimeout < MIN_SETTLE_TIMEOUT || settleTimeout > MAX_SETTLE_TIMEOUT) revert BadSettleTimeout(settleTimeout);
        id = channelId(msg.sender, partner, token);
        Channel storage c = channels[id];
        if (c.state != STATE_NONE) revert BadState(c.state);
        uint64 epoch = lastEpoch[id] + 1;
        lastEpoch[id] = epoch;
        (address lo, address hi) = msg.sender < partner ? (msg.sender, partner) : (partner, msg.sender);
        channels[id] = Channel(token, lo, hi, epoch, settleTimeout, 0, STATE_OPEN, address(0));
        delete participants[id][lo];
        delete participants[id][hi];
        emit ChannelOpened(id, epoch, lo, hi, token, settleTimeout);
        if (amount > 0 || msg.value > 0) _deposit(id, c, msg.sender, amount);
    }

    /// Tops up msg.sender's deposit by `amount`.
    function deposit(bytes32 id, uint256 amount) external payable {
        Channel storage c = channels[id];
        if (c.state != STATE_OPEN) revert BadState(c.state);
        _requireParticipant(c, msg.sender);
        _deposit(id, c, msg.sender, amount);
    }

    function _deposit(bytes32 id, Channel storage c, address who, uint256 amount) internal {
        if (c.token == address(0)) {
            if (msg.value != amount || amount == 0) revert BadAmount();
        } else {
            if (msg.value != 0 || amount == 0) revert BadAmount();
            _callToken(c.token, abi.encodeCall(IERC20.transferFrom, (who, address(this), amount)));
        }
        Participant storage p = participants[id][who];
        p.deposit += amount;
        emit Deposited(id, who, p.deposit);
    }

    /// Withdraws up to `totalWithdraw` (cumulative) for `who` while the channel stays open; both
    /// participants sign, so the partner vouches that the off-chain balance covers it.
    function withdraw(bytes32 id, address who, uint256 totalWithdraw, uint256 expiry, bytes calldata whoSig, bytes calldata partnerSig) external {
        Channel storage c = channels[id];
        if (c.state != STATE_OPEN) revert BadState(c.state);
        if (block.timestamp > expiry) revert TooLate();
        address partner = _partner(c, who);
        bytes32 digest = keccak256(abi.encode(DOMAIN_TAG, block.chainid, address(this), id, uint256(c.epoch), uint256(TYPE_WITHDRAW), who, totalWithdraw, expiry));
        if (_recover(digest, whoSig) != who || _recover(digest, partnerSig) != partner) revert BadSignature();
        Participant storage p = participants[id][who];
        Participant storage q = participants[id][partner];
        if (totalWithdraw <= p.withdrawn) revert BadAmount();
        uint256 amount = totalWithdraw - p.withdrawn;
        if (totalWithdraw + q.withdrawn > p.deposit + q.deposit) revert BadAmount();
        p.withdrawn = totalWithdraw;
        emit Withdrawn(id, who, totalWithdraw);
        // Paid at once: only `who` can be hurt if it refuses the transfer.
        _transferOut(c.token, who, amount);
    }

    /// Settles at once at balances both participants signed.
    function cooperativeSettle(bytes32 id, uint256 amountA, uint256 amountB, bytes calldata sigA, bytes calldata sigB) external {
        Channel storage c = channels[id];
        if (c.state != STATE_OPEN) revert BadState(c.state);
        bytes32 digest = keccak256(abi.encode(DOMAIN_TAG, block.chainid, address(this), id, uint256(c.epoch), uint256(TYPE_COOPERATIVE_SETTLE), c.a, amountA, c.b, amountB));
        if (_recover(digest, sigA) != c.a || _recover(digest, sigB) != c.b) revert BadSignature();
        if (amountA + amountB != _funds(id, c)) revert BadAmount();
        _finish(id, c, amountA, amountB);
    }

    /// Closes the channel unilaterally with the partner's latest balance proof (nonce 0: none).
    function close(bytes32 id, BalanceProof calldata partnerProof) external {
        Channel storage c = channels[id];
        if (c.state != STATE_OPEN) revert BadState(c.state);
        address partner = _partner(c, msg.sender);
        c.state = STATE_CLOSED;
        c.closer = msg.sender;
        c.settleAfter = uint64(block.timestamp) + c.settleTimeout;
        if (partnerProof.nonce > 0) _storeProof(id, c, partner, partnerProof);
        emit ChannelClosed(id, msg.sender, partnerProof.nonce);
    }

    /// During the settle timeout the non-closing participant, or a delegate (a neighbour acting as
    /// watchtower) carrying the non-closer's signature, submits the closer's newer balance proof.
    function updateProof(bytes32 id, BalanceProof calldata closerProof, bytes calldata nonCloserSig) external {
        Channel storage c = channels[id];
        if (c.state != STATE_CLOSED) revert BadState(c.state);
        if (block.timestamp > c.settleAfter) revert TooLate();
        address nonCloser = _partner(c, c.closer);
        if (msg.sender != nonCloser) {
            bytes32 proofDigest = _proofDigest(id, c, closerProof);
            bytes32 delegation = keccak256(abi.encode(DOMAIN_TAG, block.chainid, address(this), id, uint256(c.epoch), uint256(TYPE_DELEGATE_UPDATE), proofDigest));
            if (_recover(delegation, nonCloserSig) != nonCloser) revert BadSignature();
        }
        _storeProof(id, c, c.closer, closerProof);
    }

    function _storeProof(bytes32 id, Channel storage c, address signer, BalanceProof calldata bp) internal {
        if (_recover(_proofDigest(id, c, bp), bp.signature) != signer) revert BadSignature();
        Participant storage p = participants[id][signer];
        if (bp.nonce <= p.nonce) revert BadAmount();
        if (bp.transferred > MAX_PROOF_AMOUNT || bp.locked > MAX_PROOF_AMOUNT) revert BadAmount();
        p.nonce = bp.nonce;
        p.transferred = bp.transferred;
        p.locked = bp.locked;
        p.locksroot = bp.locksroot;
        emit ProofUpdated(id, signer, bp.nonce);
    }

    /// After the settle timeout, pays out the final balances; locked amounts wait for unlock. When
    /// the proofs on chain charge one participant more than it holds, its debt is paid from what
    /// its unlocks bring (see Debt), never forgiven at its partner's expense.
    function settle(bytes32 id) external {
        Channel storage c = channels[id];
        if (c.state != STATE_CLOSED) revert BadState(c.state);
        if (block.timestamp <= c.settleAfter) revert TooEarly();
        Participant storage pa = participants[id][c.a];
        Participant storage pb = participants[id][c.b];
        uint256 funds = _funds(id, c);
        // Each balance: own funds plus what the partner sent minus what it sent and locked. The two
        // balances and the two locked amounts always sum to the funds.
        int256 rawA = int256(pa.deposit) - int256(pa.withdrawn) + int256(pb.transferred) - int256(pa.transferred) - int256(pa.locked);
        int256 rawB = int256(pb.deposit) - int256(pb.withdrawn) + int256(pa.transferred) - int256(pb.transferred) - int256(pb.locked);
        uint256 lockedA = pa.locked;
        uint256 lockedB = pb.locked;
        uint256 amountA;
        uint256 amountB;
        uint64 epoch = c.epoch;
        if (rawA >= 0 && rawB >= 0) {
            amountA = uint256(rawA);
            amountB = uint256(rawB);
        } else if (rawA < 0 && rawB < 0) {
            // Both signed more than they hold: each keeps only what its partner's locks bring it.
            if (lockedA > funds) lockedA = funds;
            lockedB = funds - lockedA;
        } else {
            (amountA, amountB) = _settleDebt(id, epoch, c, rawA, rawB, lockedA + lockedB > 0);
        }
        if (lockedA > 0) pendingLocks[keccak256(abi.encode(id, epoch, c.a))] = PendingLocks(c.token, c.b, lockedA, pa.locksroot);
        if (lockedB > 0) pendingLocks[keccak256(abi.encode(id, epoch, c.b))] = PendingLocks(c.token, c.a, lockedB, pb.locksroot);
        _finish(id, c, amountA, amountB);
    }

    /// One balance negative: the debtor gets nothing now, the creditor its balance minus the debt,
    /// and the debt (with the hold when the creditor's balance did not cover it) waits for unlock.
    function _settleDebt(bytes32 id, uint64 epoch, Channel storage c, int256 rawA, int256 rawB, bool anyLocks) internal returns (uint256 amountA, uint256 amountB) {
        bool aOwes = rawA < 0;
        uint256 debt = uint256(aOwes ? -rawA : -rawB);
        uint256 credit = uint256(aOwes ? rawB : rawA);
        if (aOwes) amountB = credit > debt ? credit - debt : 0;
        else amountA = credit > debt ? credit - debt : 0;
        if (anyLocks) _recordDebt(id, epoch, aOwes ? c.a : c.b, aOwes ? c.b : c.a, debt, debt > credit ? debt - credit : 0);
    }

    function _recordDebt(bytes32 id, uint64 epoch, address debtor, address creditor, uint256 due, uint256 hold) internal {
        debts[keccak256(abi.encode(id, epoch))] = Debt(debtor, creditor, due, hold);
        emit DebtRecorded(id, epoch, debtor, due, hold);
    }

    /// Registers a secret on chain, making every lock under its hash claimable until expiration.
    function registerSecret(bytes32 secret) external {
        bytes32 h = keccak256(abi.encodePacked(secret));
        if (secretRegisteredAt[h] == 0) {
            secretRegisteredAt[h] = block.timestamp;
            emit SecretRegistered(h, block.timestamp);
        }
    }

    /// After settlement, splits the locked amount of `owner`: locks whose secret was registered at or
    /// before their expiration go to the receiver, the rest back to the owner. `locks` is the packed
    /// list (expiration, amount, secrethash) whose keccak is the owner's locksroot. While a lock is
    /// unexpired and its secret unregistered, unlock refuses (TooEarly): the receiver may still
    /// register the secret, and returning the lock early would take its claim away.
    function unlock(bytes32 id, uint64 epoch, address owner, bytes calldata locks) external {
        bytes32 key = keccak256(abi.encode(id, epoch, owner));
        PendingLocks memory pl = pendingLocks[key];
        if (pl.amount == 0) revert BadState(0);
        if (keccak256(locks) != pl.locksroot || locks.length % 96 != 0) revert BadAmount();
        delete pendingLocks[key];
        uint256 paid;
        for (uint256 off = 0; off < locks.length; off += 96) {
            uint256 expiration = uint256(bytes32(locks[off:off + 32]));
            uint256 amount = uint256(bytes32(locks[off + 32:off + 64]));
            bytes32 h = bytes32(locks[off + 64:off + 96]);
            uint256 at = secretRegisteredAt[h];
            if (at == 0 && block.timestamp <= expiration) revert TooEarly();
            if (at != 0 && at <= expiration) paid += amount;
        }
        if (paid > pl.amount) paid = pl.amount;
        uint256 returned = pl.amount - paid;
        emit Unlocked(id, owner, paid, returned);
        bytes32 epochKey = keccak256(abi.encode(id, epoch));
        if (paid > 0) _credit(epochKey, pl.token, pl.receiver, paid);
        if (returned > 0) _credit(epochKey, pl.token, owner, returned);
    }

    /// Credits an unlock's share, the epoch's debt first: the debtor's share repays the creditor,
    /// and the creditor's share first fills the hold.
    function _credit(bytes32 epochKey, address token, address to, uint256 amount) internal {
        Debt storage d = debts[epochKey];
        address debtor = d.debtor;
        if (debtor != address(0)) {
            if (to == debtor) {
                uint256 due = d.due;
                uint256 repaid = amount < due ? amount : due;
                if (repaid > 0) {
                    d.due = due - repaid;
                    amount -= repaid;
                    repaid = _fillHold(d, repaid);
                    if (repaid > 0) _pay(token, d.creditor, repaid);
                }
            } else {
                amount = _fillHold(d, amount);
            }
        }
        if (amount > 0) _pay(token, to, amount);
    }

    /// Cancels up to the hold from a credit to the creditor and returns what is left of it.
    function _fillHold(Debt storage d, uint256 amount) internal returns (uint256) {
        uint256 hold = d.hold;
        if (hold == 0) return amount;
        uint256 cancelled = amount < hold ? amount : hold;
        d.hold = hold - cancelled;
        return amount - cancelled;
    }

    function _finish(bytes32 id, Channel storage c, uint256 amountA, uint256 amountB) internal {
        address token = c.token;
        address a = c.a;
        address b = c.b;
        uint64 epoch = c.epoch;
        delete channels[id];
        delete participants[id][a];
        delete participants[id][b];
        emit Settled(id, epoch, amountA, amountB);
        if (amountA > 0) _pay(token, a, amountA);
        if (amountB > 0) _pay(token, b, amountB);
    }

    function _funds(bytes32 id, Channel storage c) internal view returns (uint256) {
        Participant storage pa = participants[id][c.a];
        Participant storage pb = participants[id][c.b];
        return pa.deposit + pb.deposit - pa.withdrawn - pb.withdrawn;
    }

    function _proofDigest(bytes32 id, Channel storage c, BalanceProof calldata bp) internal view returns (bytes32) {
        return keccak256(abi.encode(DOMAIN_TAG, block.chainid, address(this), id, uint256(c.epoch), uint256(TYPE_BALANCE_PROOF), bp.nonce, bp.transferred, bp.locked, bp.locksroot));
    }

    function _partner(Channel storage c, address who) internal view returns (address) {
        if (who == c.a) return c.b;
        if (who == c.b) return c.a;
        revert NotParticipant();
    }

    function _requireParticipant(Channel storage c, address who) internal view {
        if (who != c.a && who != c.b) revert NotParticipant();
    }

    function _recover(bytes32 digest, bytes calldata sig) internal pure returns (address) {
        if (sig.length != 65) revert BadSignature();
        bytes32 r = bytes32(sig[0:32]);
        bytes32 s = bytes32(sig[32:64]);
        uint8 v = uint8(sig[64]);
        if (v < 27) v += 27;
        if (uint256(s) > SECP256K1_HALF_N || (v != 27 && v != 28)) revert BadSignature();
        address signer = ecrecover(digest, v, r, s);
        if (signer == address(0)) revert BadSignature();
        return signer;
    }

    /// Sends msg.sender everything settle and unlock credited to it in `token` (zero: native coin).
    function withdrawBalance(address token) external {
        uint256 amount = owed[token][msg.sender];
        if (amount == 0) revert BadAmount();
        owed[token][msg.sender] = 0;
        emit Collected(token, msg.sender, amount);
        _transferOut(token, msg.sender, amount);
    }

    /// Credits a payout; the receiver collects it with withdrawBalance.
    function _pay(address token, address to, uint256 amount) internal {
        owed[token][to] += amount;
        emit Credited(token, to, amount);
    }

    function _transferOut(address token, address to, uint256 amount) internal {
        if (token == address(0)) {
            (bool ok, ) = to.call{value: amount}("");
            if (!ok) revert TransferFailed();
        } else {
            _callToken(token, abi.encodeCall(IERC20.transfer, (to, amount)));
        }
    }

    /// Calls an ERC-20 transfer or transferFrom and accepts both tokens that return true and
    /// tokens that return nothing; a revert, a false or a token with no code is a failure.
    function _callToken(address token, bytes memory data) internal {
        if (token.code.length == 0) revert TransferFailed();
        (bool ok, bytes memory ret) = token.call(data);
        if (!ok) revert TransferFailed();
        if (ret.length != 0 && (ret.length != 32 || abi.decode(ret, (uint256)) != 1)) revert TransferFailed();
    }
}
