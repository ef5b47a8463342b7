// Package internal holds nothing itself; its sub-packages are the leaf helpers every FRACTALS package
// may use: physical quantities (units) and the injected clock (clock). They import the standard library
// only, so that every core above them stays pure and testable.
package internal
