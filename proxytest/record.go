package proxytest

import (
	"bytes"
	"context"
	"net/http"
	"time"
)

// Recorded is one request as the fake received it.
type Recorded struct {
	Seq        int         // increasing, 1 for the first request the fake received
	Time       time.Time   // when the request arrived
	Method     string      // "POST"
	Path       string      // the full path, prefix included: "/v1/chat/completions"
	RawQuery   string      // the query string without "?", e.g. "alt=sse&key=X"
	Host       string      // the Host header
	Header     http.Header // every request header
	Body       []byte      // the body, as sent
	Credential string      // the credential found (see the package documentation), "" if none
	RemoteAddr string      // the client's address, "127.0.0.1:PORT"
	API        string      // "openai", "anthropic" or "gemini": whose shape the answer took
	Status     int         // the status answered; 0 while unanswered or when the connection was reset first
}

// Requests returns a copy of the recorded requests, oldest first: all of them
// since the fake started or was Reset, up to the newest [DefaultRecordLimit]
// (see [Upstream.SetRecordLimit]).
func (u *Upstream) Requests() []Recorded {
	u.mu.Lock()
	defer u.mu.Unlock()
	recs := u.records
	if u.recordLimit > 0 && len(recs) > u.recordLimit {
		recs = recs[len(recs)-u.recordLimit:]
	}
	out := make([]Recorded, len(recs))
	for i, rec := range recs {
		rec.Header = rec.Header.Clone()
		rec.Body = bytes.Clone(rec.Body)
		out[i] = rec
	}
	return out
}

// Last returns the most recent recorded request, false if there is none.
func (u *Upstream) Last() (Recorded, bool) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if len(u.records) == 0 {
		return Recorded{}, false
	}
	rec := u.records[len(u.records)-1]
	rec.Header = rec.Header.Clone()
	rec.Body = bytes.Clone(rec.Body)
	return rec, true
}

// Count is the number of requests received since the fake started or was
// Reset, including rejected ones and any no longer kept by Requests.
func (u *Upstream) Count() int {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.count
}

// CountBy is the number of requests received with the given credential since
// the fake started or was Reset; CountBy("") counts those without one.
func (u *Upstream) CountBy(credential string) int {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.byCred[credential]
}

// Cancelled is the number of requests whose client went away while the fake
// was still answering: a stream write failed, or the request's context ended
// during a delay, a hold or between chunks. Connections the fake reset
// itself are not counted.
func (u *Upstream) Cancelled() int {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.cancelled
}

// WaitCancelled waits until Cancelled reaches n, or ctx ends (returning its
// error). The fake notices a client that left only when it next waits or
// writes, so a test proving that the gateway cancels its upstream request
// waits for it rather than reading Cancelled at once.
func (u *Upstream) WaitCancelled(ctx context.Context, n int) error {
	for {
		u.mu.Lock()
		got, changed := u.cancelled, u.cancelledCh
		u.mu.Unlock()
		if got >= n {
			return nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// Reset forgets every recorded request and zeroes Count, CountBy and
// Cancelled. Rules, usage and accepted credentials stay.
func (u *Upstream) Reset() {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.records = nil
	u.count = 0
	u.byCred = make(map[string]int)
	u.cancelled = 0
}

// SetRecordLimit sets how many requests Requests keeps, the newest ones; 0
// keeps none (for benchmarks), a negative limit keeps all. Counters are not
// affected.
func (u *Upstream) SetRecordLimit(n int) {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.recordLimit = n
	u.trim()
}

// record stores a request and returns its sequence number. body belongs to
// the fake (ServeHTTP read it); the headers are cloned so that no record
// aliases the live request.
func (u *Upstream) record(r *http.Request, body []byte, credential string, a api) int {
	now := time.Now()
	u.mu.Lock()
	defer u.mu.Unlock()
	u.seq++
	u.count++
	u.byCred[credential]++
	if u.recordLimit == 0 {
		return u.seq
	}
	u.records = append(u.records, Recorded{
		Seq:        u.seq,
		Time:       now,
		Method:     r.Method,
		Path:       r.URL.Path,
		RawQuery:   r.URL.RawQuery,
		Host:       r.Host,
		Header:     r.Header.Clone(),
		Body:       body,
		Credential: credential,
		RemoteAddr: r.RemoteAddr,
		API:        a.String(),
	})
	if u.recordLimit > 0 && len(u.records) >= 2*u.recordLimit {
		u.trim() // amortised: trim only once twice the limit is reached
	}
	return u.seq
}

// trim drops the oldest records beyond the limit. Called with mu held.
func (u *Upstream) trim() {
	if u.recordLimit < 0 || len(u.records) <= u.recordLimit {
		return
	}
	u.records = append([]Recorded(nil), u.records[len(u.records)-u.recordLimit:]...)
}

// finish stores the status a request was answered with and counts it as
// cancelled if its client left, in one step, so that whoever sees the count
// also sees the status.
func (u *Upstream) finish(seq, status int, gone bool) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if gone {
		u.cancelled++
		close(u.cancelledCh)
		u.cancelledCh = make(chan struct{})
	}
	if len(u.records) == 0 {
		return
	}
	i := seq - u.records[0].Seq
	if i >= 0 && i < len(u.records) && u.records[i].Seq == seq {
		u.records[i].Status = status
	}
}
