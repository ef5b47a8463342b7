// Package store keeps the ledger's durable state: the latest state of every channel (both sides'
// signed proofs and locks), the record of payments already made (so a retried payment is never
// paid twice) and the queue of on-chain actions waiting for a chain.
//
// One Commit is one append to a write-ahead log (<file>.wal) and one fdatasync, whatever it
// carries: the node gathers every state change of a batch of transfers into one Commit (group
// commit). Reads see logged batches at once; a checkpoint writes them into the bbolt file in one
// transaction, in the background every few MiB of log, and at Open (replay after a crash) and
// Close. Chosen by measurement (BenchmarkCommit): a bbolt transaction costs two fdatasyncs and
// its page writes, the log append one; on the shared 2-core machine 1.08 ms against 3.03 ms per
// commit at load 11. A torn last log record (a crash during the append, never acknowledged) is cut
// off; a bad record with good ones after it, and a torn or corrupted bbolt file, are refused with
// an error naming the file. The store must not decide anything about channels; it only stores
// bytes under keys and hands them back.
package store
