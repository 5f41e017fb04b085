package admin_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aigw/aigw/admin"
	"github.com/aigw/aigw/store"
)

// live is a minimal live view fed by the test (the real one is
// tracing.Pipeline, tested in its package).
type live struct {
	mu   sync.Mutex
	subs []chan *store.Trace
	rec  []*store.Trace
}

func (l *live) Subscribe(n int) (<-chan *store.Trace, func()) {
	ch := make(chan *store.Trace, n)
	l.mu.Lock()
	l.subs = append(l.subs, ch)
	l.mu.Unlock()
	return ch, func() {}
}

func (l *live) Recent(n int) []*store.Trace {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.rec[max(0, len(l.rec)-n):]
}

func (l *live) publish(t *store.Trace) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.rec = append(l.rec, t)
	for _, s := range l.subs {
		s <- t
	}
}

func (l *live) subscribers() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.subs)
}

func TestTraceQueriesValidateParameters(t *testing.T) {
	e := newEnv(t)
	for _, c := range []struct {
		q     admin.TraceQuery
		field string
	}{
		{admin.TraceQuery{Status: "teapot"}, "status"},
		{admin.TraceQuery{Status: "6xx"}, "status"},
		{admin.TraceQuery{Since: "yesterday"}, "since"},
		{admin.TraceQuery{Limit: 20000}, "limit"},
	} {
		_, err := e.client.Traces(t.Context(), c.q)
		var ae *admin.APIError
		if !errors.As(err, &ae) || ae.Status != 400 || ae.Field != c.field {
			t.Errorf("%+v: %v", c.q, err)
		}
	}
	for _, c := range []struct {
		q     admin.UsageQuery
		field string
	}{{admin.UsageQuery{By: "color"}, "by"}, {admin.UsageQuery{Since: "2026-13-45"}, "since"},
		{admin.UsageQuery{By: "credential", Key: "key_a"}, "key"}, {admin.UsageQuery{By: "credential", Model: "gpt-4o"}, "model"}} {
		_, err := e.client.Usage(t.Context(), c.q)
		var ae *admin.APIError
		if !errors.As(err, &ae) || ae.Status != 400 || ae.Field != c.field {
			t.Errorf("%+v: %v", c.q, err)
		}
	}
	page, err := e.client.Traces(t.Context(), admin.TraceQuery{})
	if err != nil || page.Traces == nil || len(page.Traces) != 0 || page.NextCursor != "" {
		t.Fatalf("empty trace list: %+v %v", page, err)
	}
}

func TestLiveTraceStreamFiltersAndReplays(t *testing.T) {
	l := &live{}
	e := newEnvWith(t, admin.Options{Live: l})
	l.publish(&store.Trace{RequestID: "old1", Provider: "openai", Status: 200})
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	got := make(chan admin.Trace, 10)
	done := make(chan error, 1)
	var openedFirst atomic.Int32 // 1: Opened ran before any trace; 2: after one
	opened := func() { openedFirst.CompareAndSwap(0, int32(1+len(got))) }
	go func() {
		done <- e.client.StreamTraces(ctx, admin.TraceQuery{Provider: "openai", Backlog: 5, Opened: opened}, func(tr admin.Trace) error {
			got <- tr
			return nil
		})
	}()
	if tr := <-got; tr.RequestID != "old1" {
		t.Fatalf("backlog: %+v", tr)
	}
	if n := openedFirst.Load(); n != 1 {
		t.Errorf("Opened: %d, want called once the stream was accepted, before the first trace", n)
	}
	for l.subscribers() == 0 {
		time.Sleep(5 * time.Millisecond)
	}
	l.publish(&store.Trace{RequestID: "other", Provider: "anthropic", Status: 200})
	l.publish(&store.Trace{RequestID: "new1", Provider: "openai", Status: 429})
	select {
	case tr := <-got:
		if tr.RequestID != "new1" || tr.Status != 429 {
			t.Fatalf("live trace: %+v (the filter let another provider's through?)", tr)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no live trace")
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) && err != nil {
		t.Logf("stream ended: %v", err)
	}
}
