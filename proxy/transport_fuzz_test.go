package proxy

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/valyala/fasthttp"
)

// Fuzz targets for the parsers of bytes an upstream or a client controls.
// Run one with e.g. go test -fuzz=FuzzChunkedDecode ./proxy/ (make fuzz
// runs them all).

// chunkedBody is an upstream body in chunked framing over in, read
// through a buffer of bufSize (one byte at a time from in when slow).
// The second result is the source, to tell how much of in was taken.
func chunkedBody(in []byte, bufSize int, slow bool) (*upstreamBody, *bytes.Reader) {
	src := bytes.NewReader(in)
	var r io.Reader = src
	if slow {
		r = iotest.OneByteReader(r)
	}
	return &upstreamBody{br: bufio.NewReaderSize(r, bufSize), framing: framingChunked, active: true}, src
}

// readAll reads b with reads of size n until an error; a read that gives
// no byte and no error, or more reads than bytes, fails the test.
func readAll(t *testing.T, b *upstreamBody, n, inLen int) ([]byte, error) {
	t.Helper()
	var out []byte
	buf := make([]byte, n)
	for range inLen + 2 {
		m, err := b.Read(buf)
		out = append(out, buf[:m]...)
		if err != nil {
			return out, err
		}
		if m == 0 {
			t.Fatalf("a read returned nothing and no error")
		}
	}
	t.Fatalf("more reads than input bytes (%d): no end", inLen)
	return nil, nil
}

// encodeChunked frames data in chunks of the given sizes (cycled), with
// the liberties an upstream may take: upper-case hex and leading zeros,
// chunk extensions, bare LF line ends, trailer fields.
func encodeChunked(data, sizes []byte, liberties bool) []byte {
	var out []byte
	eol := "\r\n"
	for i := 0; len(data) > 0; i++ {
		n := 1
		if len(sizes) > 0 {
			n = int(sizes[i%len(sizes)])%512 + 1
		}
		n = min(n, len(data))
		if liberties {
			eol = []string{"\r\n", "\n"}[i%2]
			out = fmt.Appendf(out, "%0*X", i%4+1, n)
			if i%3 == 0 {
				out = append(out, ";name=value"...)
			}
		} else {
			out = fmt.Appendf(out, "%x", n)
		}
		out = append(out, eol...)
		out = append(out, data[:n]...)
		out = append(out, eol...)
		data = data[n:]
	}
	out = append(out, "0"+eol...)
	if liberties {
		out = append(out, "Trailer-One: 1"+eol+"X: y"+eol...)
	}
	return append(out, eol...)
}

// A valid chunked encoding of any data decodes to that data, whatever the
// chunk sizes, the reads' size and how the bytes arrive; and the decoder
// stops exactly at the end of the body: what follows on the connection
// (the next answer) is left unread.
func FuzzChunkedRoundTrip(f *testing.F) {
	f.Add([]byte("data: {\"a\":1}\n\n"), []byte{3, 200}, false, uint16(512), false)
	f.Add([]byte(strings.Repeat("x", 700)), []byte{255}, true, uint16(7), true)
	f.Add([]byte{}, []byte{}, true, uint16(1), false)
	f.Fuzz(func(t *testing.T, data, sizes []byte, liberties bool, readSize uint16, slow bool) {
		next := []byte("HTTP/1.1 200 OK\r\n")
		in := append(encodeChunked(data, sizes, liberties), next...)
		b, _ := chunkedBody(in, 16<<10, slow)
		got, err := readAll(t, b, int(readSize)%4096+1, len(in))
		if !errors.Is(err, io.EOF) {
			t.Fatalf("decoding %q: %v", in, err)
		}
		if !bytes.Equal(got, data) {
			t.Fatalf("decoded %q, want %q", got, data)
		}
		if !b.Done() {
			t.Fatalf("body not done after EOF")
		}
		rest, _ := io.ReadAll(b.br)
		if !bytes.Equal(rest, next) {
			t.Fatalf("after the body %q is left, want %q", rest, next)
		}
	})
}

// Any bytes at all: the decoder ends (EOF or an error) without panicking,
// never gives more bytes than it was given, and a body it calls complete
// is one that a re-encoding of its output would describe: decoding the
// bytes it consumed once more gives the same output.
func FuzzChunkedDecode(f *testing.F) {
	for _, s := range []string{
		"5\r\nhello\r\n0\r\n\r\n", "f\r\ndata: {\"a\":1}\n\n\r\nzz\r\n", "0\n\n", "5;x=y\nhello\n0\nT: 1\n\n",
		"fffffffffffffff\r\nx", "ffffffffffffffff\r\n", "\r\n", "5\r\nhelloXX", "3\r\nabc\r\n0\r\n", "-1\r\n",
		"1 \r\na\r\n0\r\n\r\n", "0\r\n" + strings.Repeat("a", 20000) + "\r\n\r\n",
	} {
		f.Add([]byte(s), uint16(64), false)
	}
	f.Fuzz(func(t *testing.T, in []byte, readSize uint16, slow bool) {
		b, src := chunkedBody(in, 16<<10, slow)
		got, err := readAll(t, b, int(readSize)%4096+1, len(in))
		if len(got) > len(in) {
			t.Fatalf("%d bytes out of %d in", len(got), len(in))
		}
		if !errors.Is(err, io.EOF) {
			if b.Done() {
				t.Fatalf("failed with %v yet done", err)
			}
			return
		}
		// Complete: it consumed a prefix of in, which decodes alike again.
		consumed := in[:len(in)-b.br.Buffered()-src.Len()]
		b2, _ := chunkedBody(consumed, 16<<10, false)
		again, err := readAll(t, b2, 4096, len(consumed))
		if !errors.Is(err, io.EOF) || !bytes.Equal(again, got) {
			t.Fatalf("the consumed %q decodes to %q (%v), first %q", consumed, again, err, got)
		}
	})
}

// An upstream's answer, whatever its bytes: exchangeHeader reads past at
// most maxInterim informational answers and returns a final status or an
// error, never a 1xx; the body that follows gives no more bytes than the
// upstream sent, and ends.
func FuzzUpstreamResponse(f *testing.F) {
	for _, s := range []string{
		"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi",
		"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\nHTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n0\r\n\r\n",
		"HTTP/1.1 101 Switching Protocols\r\n\r\n",
		strings.Repeat("HTTP/1.1 103 Early Hints\r\n\r\n", 20),
		"HTTP/1.1 200 OK\r\n\r\nuntil close",
		"HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\n",
		"HTTP/1.1 099 X\r\n\r\n", "SSH-2.0-x\r\n\r\n", "",
	} {
		f.Add([]byte(s))
	}
	hc := &fasthttp.HostClient{Addr: "upstream", ReadBufferSize: 16 << 10, WriteBufferSize: 8 << 10}
	f.Fuzz(func(t *testing.T, answer []byte) {
		client, server := net.Pipe()
		defer client.Close()
		go func() {
			defer server.Close()
			_ = server.SetDeadline(time.Now().Add(5 * time.Second))
			br := bufio.NewReader(server)
			for { // the request, up to its blank line
				line, err := br.ReadSlice('\n')
				if err != nil || len(line) <= 2 {
					break
				}
			}
			_, _ = server.Write(answer)
		}()
		req := fasthttp.AcquireRequest()
		defer fasthttp.ReleaseRequest(req)
		req.Header.SetMethod("GET")
		req.SetRequestURI("/v1/models")
		req.Header.SetHost("upstream")
		var h fasthttp.ResponseHeader
		br, err := exchangeHeader(hc, client, req, &h, time.Now().Add(5*time.Second))
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				t.Fatalf("timed out: the answer's end was not seen")
			}
			return
		}
		defer hc.ReleaseReader(br)
		if s := h.StatusCode(); s < 200 {
			t.Fatalf("status %d passed on as final", s)
		}
		var b upstreamBody
		b.start(nil, nil, client, br, &h, false, 0)
		got, err := readAll(t, &b, 1024, len(answer))
		if len(got) > len(answer) {
			t.Fatalf("%d body bytes from a %d-byte answer", len(got), len(answer))
		}
		if err != nil && !errors.Is(err, io.EOF) && b.Done() {
			t.Fatalf("failed with %v yet done", err)
		}
	})
}
