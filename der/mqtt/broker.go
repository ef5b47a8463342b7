package mqtt

import (
	"fmt"
	"io"
	"log/slog"

	mochi "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/hooks/auth"
	"github.com/mochi-mqtt/server/v2/listeners"
)

// Broker is the embedded MQTT broker (mochi-mqtt) for setups without Mosquitto: the HIL rig's
// default and the tests. It allows every client: it listens on loopback or a private mesh only.
type Broker struct {
	srv *mochi.Server
	tcp *listeners.TCP
}

// StartBroker listens on addr ("127.0.0.1:0" picks a free port).
func StartBroker(addr string) (*Broker, error) {
	srv := mochi.New(&mochi.Options{InlineClient: true, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err := srv.AddHook(new(auth.AllowHook), nil); err != nil {
		return nil, fmt.Errorf("mqtt: broker: %w", err)
	}
	tcp := listeners.NewTCP(listeners.Config{ID: "tcp", Address: addr})
	if err := srv.AddListener(tcp); err != nil {
		return nil, fmt.Errorf("mqtt: broker on %s: %w", addr, err)
	}
	if err := srv.Serve(); err != nil {
		return nil, fmt.Errorf("mqtt: broker: %w", err)
	}
	return &Broker{srv: srv, tcp: tcp}, nil
}

// Addr is host:port the broker listens on.
func (b *Broker) Addr() string { return b.tcp.Address() }

// URL is the broker's address as clients take it (tcp://host:port).
func (b *Broker) URL() string { return "tcp://" + b.Addr() }

// Publish sends a message as the broker's own client (the rig's device emulators use it).
func (b *Broker) Publish(topic string, payload []byte, retain bool, qos byte) error {
	return b.srv.Publish(topic, payload, retain, qos)
}

// Close stops the broker and disconnects every client.
func (b *Broker) Close() error { return b.srv.Close() }
