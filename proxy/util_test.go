package proxy_test

import (
	"time"

	"github.com/aigw/aigw/internal/units"
)

func unitsDuration(d time.Duration) units.Duration { return units.Duration(d) }
