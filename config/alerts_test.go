package config_test

import (
	"reflect"
	"strings"
	"testing"

	"github.com/aigw/aigw/config"
)

func TestAlertsSettingsLoad(t *testing.T) {
	path := writeConfig(t, `[alerts]
thresholds = [50, 90.5, 100]

[[alerts.webhook]]
url = "https://hooks.example.com/aigw"
events = ["budget_threshold"]
secret = "s"

[[alerts.webhook]]
url = "http://127.0.0.1:9999/x"
`)
	cfg, err := config.Load(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := config.Alerts{Thresholds: []float64{50, 90.5, 100}, Webhooks: []config.Webhook{
		{URL: "https://hooks.example.com/aigw", Events: []string{"budget_threshold"}, Secret: "s"},
		{URL: "http://127.0.0.1:9999/x"},
	}}
	if !reflect.DeepEqual(cfg.Alerts, want) {
		t.Errorf("alerts = %+v; want %+v", cfg.Alerts, want)
	}
	cfg, err = config.Load(path, env(map[string]string{"AIGW_ALERTS_THRESHOLDS": "75, 100"}))
	if err != nil || !reflect.DeepEqual(cfg.Alerts.Thresholds, []float64{75, 100}) {
		t.Errorf("AIGW_ALERTS_THRESHOLDS=75,100: %v, %v", cfg.Alerts.Thresholds, err)
	}
}

// Bad alert settings are refused with the field named (and a webhook
// URL's path, often a secret, not repeated).
func TestBadAlertsSettingsNameTheField(t *testing.T) {
	for _, c := range []struct{ content, want string }{
		{"[alerts]\nthresholds = [0, 100]\n", "alerts.thresholds: 0 must be between 1 and 100"},
		{"[alerts]\nthresholds = [80, 120]\n", "alerts.thresholds: 120 must be between 1 and 100"},
		{"[alerts]\nthresholds = [-5]\n", "alerts.thresholds: -5 must be between 1 and 100"},
		{"[alerts]\nthresholds = [\"80\"]\n", "alerts.thresholds"},
		{"[[alerts.webhook]]\nurl = \"ftp://files.example.com/token123\"\n", "alerts.webhook[0].url: must be an http:// or https:// URL"},
		{"[[alerts.webhook]]\nurl = \"https://a.example\"\n[[alerts.webhook]]\nurl = \"\"\n", "alerts.webhook[1].url: is empty"},
		{"[[alerts.webhook]]\nurl = \"hooks.example.com/token123\"\n", "alerts.webhook[0].url: must be an http:// or https:// URL"},
		{"[[alerts.webhook]]\nurl = \"https://a.example\"\nevents = [\"budget_threshold\", \"budget_exceeded\"]\n", `alerts.webhook[0].events: "budget_exceeded" is not an alert kind`},
		{"[[alerts.webhook]]\nurl = \"https://a.example\"\nsecert = \"x\"\n", "unknown key alerts.webhook.secert"},
	} {
		_, err := config.Load(writeConfig(t, c.content), nil)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: %v; want %q", c.content, err, c.want)
			continue
		}
		if strings.Contains(err.Error(), "token123") {
			t.Errorf("the error repeats the webhook URL's path: %v", err)
		}
	}
	if _, err := config.Load("", env(map[string]string{"AIGW_ALERTS_THRESHOLDS": "80,abc"})); err == nil || !strings.Contains(err.Error(), "AIGW_ALERTS_THRESHOLDS") {
		t.Errorf("AIGW_ALERTS_THRESHOLDS=80,abc: %v; want an error naming the variable", err)
	}
}
