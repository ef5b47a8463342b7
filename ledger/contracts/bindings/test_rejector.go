// Code generated via abigen V2 - DO NOT EDIT.
// This file is a generated binding and any manual changes will be lost.

package bindings

import (
	"bytes"
	"errors"
	"math/big"

	"github.com/ethereum/go-ethereum/accounts/abi"
	"github.com/ethereum/go-ethereum/accounts/abi/bind/v2"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
)

// Reference imports to suppress errors if they are not otherwise used.
var (
	_ = bytes.Equal
	_ = errors.New
	_ = big.NewInt
	_ = common.Big1
	_ = types.BloomLookup
	_ = abi.ConvertType
)

// TestRejectorMetaData contains all meta data concerning the TestRejector contract.
var TestRejectorMetaData = bind.MetaData{
	ABI: "[{\"inputs\":[],\"stateMutability\":\"nonpayable\",\"type\":\"constructor\"},{\"inputs\":[{\"internalType\":\"address\",\"name\":\"target\",\"type\":\"address\"},{\"internalType\":\"bytes\",\"name\":\"data\",\"type\":\"bytes\"}],\"name\":\"exec\",\"outputs\":[],\"stateMutability\":\"nonpayable\",\"type\":\"function\"},{\"inputs\":[],\"name\":\"owner\",\"outputs\":[{\"internalType\":\"address\",\"name\":\"\",\"type\":\"address\"}],\"stateMutability\":\"view\",\"type\":\"function\"}]",
	ID:  "TestRejector",
	Bin: "0x60a0604052348015600e575f5ffd5b50336080526080516102376100305f395f8181603d0152609b01526102375ff3fe608060405234801561000f575f5ffd5b5060043610610034575f3560e01c80638da5cb5b14610038578063be6002c21461007b575b5f5ffd5b61005f7f000000000000000000000000000000000000000000000000000000000000000081565b6040516001600160a01b03909116815260200160405180910390f35b61008e610089366004610167565b610090565b005b336001600160a01b037f000000000000000000000000000000000000000000000000000000000000000016146100f45760405162461bcd60e51b815260206004820152600560248201526437bbb732b960d91b604482015260640160405180910390fd5b5f5f846001600160a01b031684846040516101109291906101f2565b5f604051808303815f865af19150503d805f8114610149576040519150601f19603f3d011682016040523d82523d5f602084013e61014e565b606091505b50915091508161016057805160208201fd5b5050505050565b5f5f5f60408486031215610179575f5ffd5b83356001600160a01b038116811461018f575f5ffd5b9250602084013567ffffffffffffffff8111156101aa575f5ffd5b8401601f810186136101ba575f5ffd5b803567ffffffffffffffff8111156101d0575f5ffd5b8660208284010111156101e1575f5ffd5b939660209190910195509293505050565b818382375f910190815291905056fea264697066735822122027880fb9396540fc1b4ec1eae95b87d628b25e6398f9240fce74a368cbfec6b564736f6c634300081c0033",
}

// TestRejector is an auto generated Go binding around an Ethereum contract.
type TestRejector struct {
	abi abi.ABI
}

// NewTestRejector creates a new instance of TestRejector.
func NewTestRejector() *TestRejector {
	parsed, err := TestRejectorMetaData.ParseABI()
	if err != nil {
		panic(errors.New("invalid ABI: " + err.Error()))
	}
	return &TestRejector{abi: *parsed}
}

// Instance creates a wrapper for a deployed contract instance at the given address.
// Use this to create the instance object passed to abigen v2 library functions Call, Transact, etc.
func (c *TestRejector) Instance(backend bind.ContractBackend, addr common.Address) *bind.BoundContract {
	return bind.NewBoundContract(addr, c.abi, backend, backend, backend)
}

// PackExec is the Go binding used to pack the parameters required for calling
// the contract method with ID 0xbe6002c2.  This method will panic if any
// invalid/nil inputs are passed.
//
// Solidity: function exec(address target, bytes data) returns()
func (testRejector *TestRejector) PackExec(target common.Address, data []byte) []byte {
	enc, err := testRejector.abi.Pack("exec", target, data)
	if err != nil {
		panic(err)
	}
	return enc
}

// TryPackExec is the Go binding used to pack the parameters required for calling
// the contract method with ID 0xbe6002c2.  This method will return an error
// if any inputs are invalid/nil.
//
// Solidity: function exec(address target, bytes data) returns()
func (testRejector *TestRejector) TryPackExec(target common.Address, data []byte) ([]byte, error) {
	return testRejector.abi.Pack("exec", target, data)
}

// PackOwner is the Go binding used to pack the parameters required for calling
// the contract method with ID 0x8da5cb5b.  This method will panic if any
// invalid/nil inputs are passed.
//
// Solidity: function owner() view returns(address)
func (testRejector *TestRejector) PackOwner() []byte {
	enc, err := testRejector.abi.Pack("owner")
	if err != nil {
		panic(err)
	}
	return enc
}

// TryPackOwner is the Go binding used to pack the parameters required for calling
// the contract method with ID 0x8da5cb5b.  This method will return an error
// if any inputs are invalid/nil.
//
// Solidity: function owner() view returns(address)
func (testRejector *TestRejector) TryPackOwner() ([]byte, error) {
	return testRejector.abi.Pack("owner")
}

// UnpackOwner is the Go binding that unpacks the parameters returned
// from invoking the contract method with ID 0x8da5cb5b.
//
// Solidity: function owner() view returns(address)
func (testRejector *TestRejector) UnpackOwner(data []byte) (common.Address, error) {
	out, err := testRejector.abi.Unpack("owner", data)
	if err != nil {
		return *new(common.Address), err
	}
	out0 := *abi.ConvertType(out[0], new(common.Address)).(*common.Address)
	return out0, nil
}
