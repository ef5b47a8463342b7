// Package wire holds the byte-level reader and writer shared by the ledger's message codecs:
// fixed-width big-endian integers and byte arrays, with errors that name the field and offset.
// A Reader stops at the first error and every later read returns zero, so a decoder reads all its
// fields and checks once at the end.
//
// It must not know any message layout (the channel, ledger and chain packages own theirs), must
// not allocate on the read path beyond what the caller asks for, and must never panic on input.
package wire
