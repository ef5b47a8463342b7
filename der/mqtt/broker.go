package mqtt

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"

	mochi "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/hooks/auth"
	"github.com/mochi-mqtt/server/v2/listeners"
)

// Broker is the embedded MQTT broker (mochi-mqtt) for setups without Mosquitto: the HIL rig's
// default and the tests. It allows every client: it listens on loopback or a private mesh only.
type Broker struct {
	srv *mochi.Server
	ln  net.Listener
	net *listeners.Net
}

// StartBroker listens on addr ("127.0.0.1:0" picks a free port).
//
// The listening socket is ours, not mochi's: mochi's Close disconnects the clients first and
// closes its socket only afterwards, so a client that redials at once (paho does) lands on the
// still-open socket, is accepted and then never served, and waits out its connect timeout. Close
// therefore closes the socket before the server.
func StartBroker(addr string) (*Broker, error) {
	srv := mochi.New(&mochi.Options{InlineClient: true, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err := srv.AddHook(new(auth.AllowHook), nil); err != nil {
		return nil, fmt.Errorf("mqtt: broker: %w", err)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("mqtt: broker on %s: %w", addr, err)
	}
	nl := listeners.NewNet("tcp", ln)
	if err := srv.AddListener(nl); err != nil {
		ln.Close()
		return nil, fmt.Errorf("mqtt: broker on %s: %w", addr, err)
	}
	if err := srv.Serve(); err != nil {
		ln.Close()
		return nil, fmt.Errorf("mqtt: broker: %w", err)
	}
	return &Broker{srv: srv, ln: ln, net: nl}, nil
}

// Addr is host:port the broker listens on.
func (b *Broker) Addr() string { return b.ln.Addr().String() }

// URL is the broker's address as clients take it (tcp://host:port).
func (b *Broker) URL() string { return "tcp://" + b.Addr() }

// Publish sends a message as the broker's own client (the rig's device emulators use it).
func (b *Broker) Publish(topic string, payload []byte, retain bool, qos byte) error {
	return b.srv.Publish(topic, payload, retain, qos)
}

// Close stops accepting connections, then stops the broker and disconnects every client.
func (b *Broker) Close() error {
	lnErr := b.ln.Close()
	if errors.Is(lnErr, net.ErrClosed) {
		lnErr = nil
	}
	return errors.Join(lnErr, b.srv.Close())
}
