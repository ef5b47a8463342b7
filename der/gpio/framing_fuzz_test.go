package gpio

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
)

// FuzzReadLine feeds arbitrary bytes to the pin server's line framing: it never panics, every
// line it returns is shorter than MaxLine and holds no newline, and a line too long is refused
// with errLineTooLong rather than read in pieces.
func FuzzReadLine(f *testing.F) {
	f.Add([]byte("READ GPIO17\nOUT A 1\r\n"))
	f.Add([]byte(strings.Repeat("x", 300) + "\n"))
	f.Add([]byte("\n\n\n"))
	f.Add([]byte("IN A"))
	f.Fuzz(func(t *testing.T, data []byte) {
		r := bufio.NewReaderSize(bytes.NewReader(data), MaxLine)
		for {
			line, err := readLine(r)
			if errors.Is(err, errLineTooLong) || errors.Is(err, io.EOF) {
				return
			}
			if err != nil {
				t.Fatalf("unexpected error %v", err)
			}
			if len(line) >= MaxLine || strings.ContainsAny(line, "\n") {
				t.Fatalf("line of %d bytes: %q", len(line), line)
			}
			if _, err := ParseRequest(line); err == nil && len(line) == 0 {
				t.Fatal("an empty line parsed as a request")
			}
		}
	})
}
