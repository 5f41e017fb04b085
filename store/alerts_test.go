package store

import (
	"path/filepath"
	"testing"
	"time"
)

func TestAlertsKeepTheLastThousand(t *testing.T) {
	path := filepath.Join(t.TempDir(), "aigw.db")
	s, err := Open(path, testKey, Options{})
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	for i := range MaxAlerts + 5 {
		a := &Alert{Time: t0.Add(time.Duration(i) * time.Minute), Kind: "budget_threshold", Subject: "key:key_a", Period: "2026-12"}
		if err := s.AddAlert(a); err != nil {
			t.Fatal(err)
		}
		if a.ID == "" {
			t.Fatal("AddAlert left the id empty")
		}
	}
	s.Close()
	s, err = Open(path, testKey, Options{}) // kept across a restart
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	all, err := s.Alerts(time.Time{}, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != MaxAlerts {
		t.Fatalf("%d alerts kept; want %d", len(all), MaxAlerts)
	}
	if !all[0].Time.Equal(t0.Add(5*time.Minute)) || !all[len(all)-1].Time.Equal(t0.Add((MaxAlerts+4)*time.Minute)) {
		t.Errorf("kept %s … %s; want the newest %d, oldest first", all[0].Time, all[len(all)-1].Time, MaxAlerts)
	}
	since, _ := s.Alerts(t0.Add((MaxAlerts+2)*time.Minute), 0)
	if len(since) != 3 {
		t.Errorf("since the third newest: %d alerts; want 3", len(since))
	}
	last, _ := s.Alerts(time.Time{}, 2)
	if len(last) != 2 || !last[1].Time.Equal(all[len(all)-1].Time) {
		t.Errorf("limit 2: %+v; want the two newest", last)
	}
}

// A database from before the alerts (schema v1/v2) gains an empty alerts
// bucket and keeps everything else.
func TestMigrateAddsAnEmptyAlertsBucket(t *testing.T) {
	path := writeV1(t, nil)
	s, err := Open(path, testKey, Options{})
	if err != nil {
		t.Fatalf("Open of a v1 file: %v", err)
	}
	defer s.Close()
	if got, err := s.Alerts(time.Time{}, 0); err != nil || len(got) != 0 {
		t.Fatalf("alerts of an upgraded file = %+v, %v; want none", got, err)
	}
	if err := s.AddAlert(&Alert{Time: time.Now(), Kind: "credential_invalid", Subject: "credential:cred_a"}); err != nil {
		t.Fatalf("AddAlert after the upgrade: %v", err)
	}
	if p := dbProvider(t, s.db, "openai"); p.BaseURL != "https://api.openai.com" {
		t.Errorf("provider after the upgrade: %+v", p)
	}
}
