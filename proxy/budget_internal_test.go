package proxy

import "testing"

func TestFmtUSD(t *testing.T) {
	for v, want := range map[float64]string{
		0: "$0.00", 50: "$50.00", 50.0249: "$50.02", 0.1: "$0.10", 0.05: "$0.05", 0.0042: "$0.0042",
		0.000001: "$0.000001", 0.000018375: "$0.0000184", 1e-12: "$0.00",
	} {
		if got := fmtUSD(v); got != want {
			t.Errorf("fmtUSD(%v) = %s, want %s", v, got, want)
		}
	}
}
