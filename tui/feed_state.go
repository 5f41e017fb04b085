package tui

// feedState is the live feed's state as the header says it: the Traces
// page never says live while the stream is down.
func feedState(c *common) string {
	s := c.styles
	switch {
	case c.offline:
		return s.Offline.Render("○ offline: new traces show when the gateway is back")
	case c.stream == streamRetrying:
		return s.Offline.Render("◌ retrying the live stream")
	case c.stream == streamConnecting:
		return s.Offline.Render("◌ connecting")
	}
	return s.Live.Render("▶ live")
}
