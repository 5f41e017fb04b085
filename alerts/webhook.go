package alerts

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"sync/atomic"
	"time"

	"github.com/aigw/aigw/store"
)

// SignatureHeader carries "sha256=" and the hex HMAC-SHA256 of the body
// under the webhook's secret.
const SignatureHeader = "X-Aigw-Signature"

// Delivery tunes how webhooks are sent. The zero value is usable.
type Delivery struct {
	Queue   int           // alerts waiting per webhook (default 256); over it: dropped and counted
	Tries   int           // attempts per alert (default 5)
	Backoff time.Duration // wait after the first failed try, doubled after each (default 1 s)
	Timeout time.Duration // per attempt (default 10 s)
	// Client sends the POSTs (default: a client with Timeout).
	Client *http.Client
}

// Delivery results, the label of aigw_webhook_deliveries_total.
const (
	ResultDelivered = "delivered" // a 2xx answer
	ResultFailed    = "failed"    // every try failed; dropped
	ResultQueueFull = "queue_full"
)

var deliveryResults = []string{ResultDelivered, ResultFailed, ResultQueueFull}

// webhook is one receiver, its queue and its counters.
type webhook struct {
	Webhook
	d       Delivery
	log     *slog.Logger
	queue   chan store.Alert
	results [3]atomic.Uint64 // deliveryResults' order
}

func newWebhook(h Webhook, d Delivery, log *slog.Logger) *webhook {
	if d.Queue <= 0 {
		d.Queue = 256
	}
	if d.Tries <= 0 {
		d.Tries = 5
	}
	if d.Backoff <= 0 {
		d.Backoff = time.Second
	}
	if d.Timeout <= 0 {
		d.Timeout = 10 * time.Second
	}
	if d.Client == nil {
		d.Client = &http.Client{Timeout: d.Timeout}
	}
	return &webhook{Webhook: h, d: d, log: log.With("webhook", redact(h.URL)), queue: make(chan store.Alert, d.Queue)}
}

// redact keeps a URL's scheme and host: paths and queries of webhook URLs
// are often secrets themselves (chat services put the token there).
func redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable url)"
	}
	return u.Scheme + "://" + u.Host
}

func checkURL(raw string) error {
	u, err := url.Parse(raw)
	switch {
	case raw == "":
		return errors.New("is empty")
	case err != nil:
		return fmt.Errorf("%q is not a URL", redact(raw))
	case u.Scheme != "http" && u.Scheme != "https":
		return fmt.Errorf("scheme %q must be http or https", u.Scheme)
	case u.Host == "":
		return errors.New("has no host")
	}
	return nil
}

// enqueue queues a for this webhook if it asked for its kind, never
// blocking: a full queue drops the alert and counts it.
func (h *webhook) enqueue(a store.Alert) {
	if len(h.Events) > 0 && !slices.Contains(h.Events, a.Kind) {
		return
	}
	select {
	case h.queue <- a:
	default:
		if h.results[2].Add(1) == 1 {
			h.log.Warn("webhook queue full: alerts are dropped (counted in aigw_webhook_deliveries_total{result=\"queue_full\"})")
		}
	}
}

// run delivers queued alerts one by one until ctx ends.
func (h *webhook) run(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case a := <-h.queue:
			h.deliver(ctx, a)
		}
	}
}

// deliver POSTs a, retrying with a doubling back-off; after the last try
// it drops a with one log line.
func (h *webhook) deliver(ctx context.Context, a store.Alert) {
	body, err := json.Marshal(a)
	if err != nil {
		return
	}
	var sig string
	if h.Secret != "" {
		mac := hmac.New(sha256.New, []byte(h.Secret))
		mac.Write(body)
		sig = "sha256=" + hex.EncodeToString(mac.Sum(nil))
	}
	wait := h.d.Backoff
	var last error
	for try := 1; try <= h.d.Tries; try++ {
		if last = h.post(ctx, body, sig, a.Kind); last == nil {
			h.results[0].Add(1)
			return
		}
		if ctx.Err() != nil {
			return // shutting down
		}
		if try == h.d.Tries {
			break
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		wait *= 2
	}
	h.results[1].Add(1)
	h.log.Warn("webhook delivery dropped after every try failed", "alert", a.ID, "kind", a.Kind, "tries", h.d.Tries, "err", last)
}

func (h *webhook) post(ctx context.Context, body []byte, sig, kind string) error {
	ctx, cancel := context.WithTimeout(ctx, h.d.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, h.URL, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "aigw-alerts")
	req.Header.Set("X-Aigw-Event", kind)
	if sig != "" {
		req.Header.Set(SignatureHeader, sig)
	}
	resp, err := h.d.Client.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // its text repeats the URL, which may hold a secret
		}
		return err
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("answered %d", resp.StatusCode)
	}
	return nil
}
