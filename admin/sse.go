package admin

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
)

func urlEscape(s string) string { return url.QueryEscape(s) }

// sendStream opens a long-lived GET (no client timeout: ctx ends it).
func (c *Client) sendStream(ctx context.Context, path string) (*http.Response, error) {
	streaming := &Client{base: c.base, token: c.token, http: &http.Client{Transport: c.http.Transport}}
	return streaming.send(ctx, http.MethodGet, path, nil)
}

// ErrStreamEnded means the server closed a live stream.
var ErrStreamEnded = errors.New("the live stream ended (aigw serve stopped?)")

// readEvents parses Server-Sent Events from r and calls fn per event.
func readEvents(r io.Reader, fn func(event string, data []byte) error) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	var event string
	var data bytes.Buffer
	for sc.Scan() {
		line := sc.Bytes()
		switch {
		case len(line) == 0:
			if data.Len() > 0 {
				if err := fn(event, bytes.TrimSuffix(data.Bytes(), []byte("\n"))); err != nil {
					return err
				}
			}
			event = ""
			data.Reset()
		case line[0] == ':':
		case bytes.HasPrefix(line, []byte("event:")):
			event = string(bytes.TrimSpace(line[len("event:"):]))
		case bytes.HasPrefix(line, []byte("data:")):
			data.Write(bytes.TrimPrefix(line[len("data:"):], []byte(" ")))
			data.WriteByte('\n')
		}
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, context.Canceled) {
			return err
		}
		return fmt.Errorf("%w: %v", ErrStreamEnded, err)
	}
	return ErrStreamEnded
}
