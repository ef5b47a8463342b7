// Package store keeps the ledger's durable state in a bbolt file: the latest state of every
// channel (both sides' signed proofs and locks), the record of payments already made (so a retried
// payment is never paid twice) and the queue of on-chain actions waiting for a chain.
//
// One Commit is one bbolt transaction and one fsync, whatever it carries: the node gathers every
// state change of a batch of transfers into one Commit (group commit). The store must not decide
// anything about channels; it only stores bytes under keys and hands them back.
package store
