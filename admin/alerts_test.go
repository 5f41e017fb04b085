package admin_test

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aigw/aigw/admin"
	"github.com/aigw/aigw/alerts"
	"github.com/aigw/aigw/store"
)

// lateFeed lets the alerts manager, which needs the env's store, be made
// after the server that streams its alerts.
type lateFeed struct {
	m atomic.Pointer[alerts.Manager]
}

func (f *lateFeed) Subscribe(n int) (<-chan store.Alert, func()) { return f.m.Load().Subscribe(n) }

// GET /api/v1/alerts lists what was raised (with ?since=), and the stream
// sends each new alert as it is raised.
func TestAlertsListAndStream(t *testing.T) {
	feed := &lateFeed{}
	e := newEnvWith(t, admin.Options{Alerts: feed})
	var mu sync.Mutex
	used := 85.0
	m, err := alerts.New(alerts.Config{Store: e.st, Interval: 5 * time.Millisecond, Budgets: func() []alerts.BudgetUsage {
		mu.Lock()
		defer mu.Unlock()
		return []alerts.BudgetUsage{{Subject: "key:key_a", Budget: "monthly_tokens", Period: "2026-12", Used: used, Limit: 100}}
	}})
	if err != nil {
		t.Fatal(err)
	}
	feed.m.Store(m)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go m.Run(ctx)

	var list []admin.Alert
	for range 500 {
		if list, err = e.client.Alerts(ctx, admin.AlertQuery{}); err != nil || len(list) > 0 {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err != nil || len(list) != 1 || list[0].Kind != "budget_threshold" || list[0].Threshold != 80 ||
		list[0].Message != "key:key_a reached 80% of its monthly_tokens budget for 2026-12: 85 of 100" {
		t.Fatalf("alerts = %+v, %v; want the 80%% alert", list, err)
	}
	if later, err := e.client.Alerts(ctx, admin.AlertQuery{Since: "2099-01-01"}); err != nil || later == nil || len(later) != 0 {
		t.Errorf("since 2099: %+v, %v; want an empty list", later, err)
	}
	r := e.do(http.MethodGet, "/api/v1/alerts?since=yesterday", e.adminToken, "")
	if msg, field := r.errorBody(t); r.status != http.StatusBadRequest || field != "since" || !strings.Contains(msg, "yesterday") {
		t.Errorf("since=yesterday: %d %q field %q; want 400 naming since", r.status, msg, field)
	}
	if r := e.do(http.MethodGet, "/api/v1/alerts", e.token(admin.ScopeTracesRead), ""); r.status != http.StatusForbidden {
		t.Errorf("without metrics:read: %d; want 403", r.status)
	}

	got := make(chan admin.Alert, 4)
	opened := make(chan struct{})
	sctx, stop := context.WithCancel(ctx)
	defer stop()
	go e.client.StreamAlerts(sctx, admin.AlertQuery{Since: "24h", Opened: func() { close(opened) }}, func(a admin.Alert) error {
		got <- a
		return nil
	})
	<-opened
	select {
	case a := <-got: // replayed: the 80 % alert of the last 24 h
		if a.ID != list[0].ID {
			t.Errorf("replayed %+v; want %s", a, list[0].ID)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the stream replayed nothing since 24h")
	}
	mu.Lock()
	used = 100
	mu.Unlock()
	select {
	case a := <-got:
		if a.Threshold != 100 || a.Subject != "key:key_a" {
			t.Errorf("streamed %+v; want the 100%% alert", a)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the 100% alert did not come on the stream")
	}
}
