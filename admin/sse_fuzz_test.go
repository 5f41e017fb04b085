package admin

import (
	"bytes"
	"errors"
	"io"
	"testing"
	"testing/iotest"
)

// readEvents (the live trace stream's reader in the CLI and TUI) ends on
// any bytes, gives no event data that was not in them, and reads the same
// events whether the bytes arrive at once or one at a time.
func FuzzReadEvents(f *testing.F) {
	for _, s := range []string{
		"event: trace\ndata: {\"a\":1}\n\n", ": ping\n\ndata: x\ndata: y\n\n", "data:no-space\r\n\r\n",
		"event: trace\n\n", "data: unterminated", "\n\n\n", "data: a\rdata: b\n\n",
	} {
		f.Add([]byte(s))
	}
	type ev struct{ event, data string }
	read := func(b []byte, slow bool) ([]ev, error) {
		var out []ev
		var src io.Reader = bytes.NewReader(b)
		if slow {
			src = iotest.OneByteReader(src)
		}
		err := readEvents(src, func(event string, data []byte) error {
			out = append(out, ev{event, string(data)})
			return nil
		})
		return out, err
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		whole, err := read(in, false)
		if !errors.Is(err, ErrStreamEnded) {
			t.Fatalf("ended with %v, want ErrStreamEnded", err)
		}
		total := 0
		for _, e := range whole {
			total += len(e.data) + len(e.event)
		}
		if total > len(in) {
			t.Fatalf("%d bytes of events from %d bytes", total, len(in))
		}
		slow, _ := read(in, true)
		if len(slow) != len(whole) {
			t.Fatalf("%d events read at once, %d byte by byte", len(whole), len(slow))
		}
		for i := range whole {
			if whole[i] != slow[i] {
				t.Fatalf("event %d: %+v at once, %+v byte by byte", i, whole[i], slow[i])
			}
		}
	})
}
