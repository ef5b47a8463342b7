package transport

import (
	"bufio"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"io"

	"github.com/ethereum/go-ethereum/common"
)

// A frame on the wire after the hello:
//
//	length (4 bytes, big endian) | payload (length bytes) | tag (16 bytes)
//
// where tag is HMAC-SHA256(session key, sequence number | length | payload) cut to 16 bytes, and
// the sequence number counts the frames of the connection from 0. A frame that was not written by
// the holder of the session key (a relay or an injector that saw the hello go by), or that was
// reordered, replayed or dropped within the connection, fails its tag and the connection is cut.

// tagLen is the length of a frame's authentication tag.
const tagLen = 16

// readChunk bounds how much of a frame is allocated ahead of its bytes: a peer that announces a
// large frame and stalls holds at most this much, or as much again as it actually sent (the
// buffer doubles), whichever is more.
const readChunk = 64 << 10

// ErrBadFrameTag is the error of a frame whose tag does not verify under the session key.
var ErrBadFrameTag = errors.New("tcp transport: frame not bound to the session")

// session is one direction of an authenticated connection: the key and the next sequence number.
type session struct {
	mac hash.Hash
	seq uint64
}

func newSession(key [32]byte) *session {
	return &session{mac: hmac.New(sha256.New, key[:])}
}

func (s *session) tag(n uint32, payload []byte) [tagLen]byte {
	var hdr [12]byte
	binary.BigEndian.PutUint64(hdr[:8], s.seq)
	binary.BigEndian.PutUint32(hdr[8:], n)
	s.mac.Reset()
	s.mac.Write(hdr[:])
	s.mac.Write(payload)
	var sum [sha256.Size]byte
	var out [tagLen]byte
	copy(out[:], s.mac.Sum(sum[:0]))
	return out
}

// writeFrames writes frames tagged under s and flushes.
func writeFrames(w *bufio.Writer, s *session, frames [][]byte) error {
	var hdr [4]byte
	for _, f := range frames {
		binary.BigEndian.PutUint32(hdr[:], uint32(len(f)))
		tag := s.tag(uint32(len(f)), f)
		s.seq++
		if _, err := w.Write(hdr[:]); err != nil {
			return err
		}
		if _, err := w.Write(f); err != nil {
			return err
		}
		if _, err := w.Write(tag[:]); err != nil {
			return err
		}
	}
	return w.Flush()
}

// frameReader decodes the frames of one connection from the authenticated sender from.
type frameReader struct {
	r    io.Reader
	from common.Address
	s    *session
	// started is called when a frame's first header byte is about to be read, so the caller can
	// arm the per-frame deadline (nil: none).
	started func()
}

// next reads one frame. It returns io.EOF at a clean end between frames, and an error naming the
// frame (sequence number and size) and the sender for anything else; the caller cuts the
// connection at the first error.
func (fr *frameReader) next() ([]byte, error) {
	var hdr [4]byte
	if _, err := io.ReadFull(fr.r, hdr[:1]); err != nil {
		return nil, err
	}
	if fr.started != nil {
		fr.started()
	}
	if _, err := io.ReadFull(fr.r, hdr[1:]); err != nil {
		return nil, fmt.Errorf("tcp transport: frame %d header from %s: %w", fr.s.seq, fr.from, err)
	}
	n := binary.BigEndian.Uint32(hdr[:])
	if n > MaxFrame {
		return nil, fmt.Errorf("tcp transport: frame %d from %s: %d bytes, at most %d", fr.s.seq, fr.from, n, MaxFrame)
	}
	frame, err := readGrowing(fr.r, int(n))
	if err != nil {
		return nil, fmt.Errorf("tcp transport: frame %d of %d bytes from %s: %w", fr.s.seq, n, fr.from, err)
	}
	var tag [tagLen]byte
	if _, err := io.ReadFull(fr.r, tag[:]); err != nil {
		return nil, fmt.Errorf("tcp transport: frame %d tag from %s: %w", fr.s.seq, fr.from, err)
	}
	want := fr.s.tag(n, frame)
	if !hmac.Equal(tag[:], want[:]) {
		return nil, fmt.Errorf("%w: frame %d of %d bytes from %s", ErrBadFrameTag, fr.s.seq, n, fr.from)
	}
	fr.s.seq++
	return frame, nil
}

// readGrowing reads exactly n bytes, growing the buffer by at most readChunk ahead of the bytes
// that arrived.
func readGrowing(r io.Reader, n int) ([]byte, error) {
	buf := make([]byte, 0, min(n, readChunk))
	for len(buf) < n {
		step := min(n-len(buf), readChunk)
		if cap(buf)-len(buf) < step {
			grown := make([]byte, len(buf), len(buf)+max(step, min(n, 2*len(buf))-len(buf)))
			copy(grown, buf)
			buf = grown
		}
		got, err := io.ReadFull(r, buf[len(buf):len(buf)+step])
		buf = buf[:len(buf)+got]
		if err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return nil, fmt.Errorf("%d of %d bytes: %w", len(buf), n, err)
		}
	}
	return buf, nil
}
