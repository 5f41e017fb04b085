package usage

// Removing the usage the gateway asked for.
//
// When a client streams an OpenAI chat (or legacy completions) request without
// stream_options.include_usage, the gateway adds it (PrepareOpenAIStream) so that the trace
// gets real figures. OpenAI then changes the stream in two ways: every chunk gains
// "usage":null, and one extra chunk with "choices":[] and the usage object is sent before
// [DONE]. Filter undoes both, so that the client receives the bytes it would have received
// without the option, event boundaries included.

// eventInfo is what Filter learns about the SSE event being held.
type eventInfo struct {
	usageObj     bool // the root "usage" member is an object (not null)
	choicesEmpty bool // the root "choices" member is []
	lastComma    int  // position of the last ',' between root members (-1: none yet)
	keyStart     int  // position of the opening quote of the last root key
	rmStart      int  // the root usage member to cut out: [rmStart, rmEnd) (-1: none)
	rmEnd        int
	inUsage      bool // inside the value of the root usage member
	needComma    bool // the usage member was the first: the ',' after it goes with it
}

func (e *eventInfo) reset() {
	*e = eventInfo{lastComma: -1, keyStart: -1, rmStart: -1, rmEnd: -1}
}

// rootComma records a ',' between root members at pos.
func (s *Scanner) rootComma(pos int) {
	s.ev.lastComma = pos
	if s.ev.needComma {
		s.ev.needComma = false
		s.ev.rmEnd = pos + 1
	}
}

// rootUsageKey is called when the key of the root usage member has been read.
func (s *Scanner) rootUsageKey() {
	if s.ev.rmStart >= 0 {
		return // only the first one is cut out
	}
	s.ev.inUsage = true
	if s.ev.lastComma >= 0 {
		s.ev.rmStart = s.ev.lastComma // `,"usage":…` ends the object or precedes another ','
	} else {
		s.ev.rmStart = s.ev.keyStart // `{"usage":…,` takes the following comma
		s.ev.needComma = true
	}
}

// rootValueEnd is called when the value of a root member ends at pos.
func (s *Scanner) rootValueEnd(pos int) {
	if s.ev.inUsage {
		s.ev.inUsage = false
		s.ev.rmEnd = pos
	}
}

// StripInjectedUsage makes Filter remove what include_usage added to an OpenAI chat or
// completions stream. Call it after Reset, only when PrepareOpenAIStream injected the option.
// It has no effect on other APIs or formats.
func (s *Scanner) StripInjectedUsage(on bool) {
	s.strip = on && s.format == FormatSSE && (s.api == OpenAIChat || s.api == OpenAICompletions)
}

// Filter scans p like Write and appends to dst the bytes to forward to the client. Without
// stripping it returns p itself (no copy). With stripping it returns complete SSE events: an
// event is held until its terminating blank line (at most MaxEventBytes; a longer one is
// passed through as it comes), then forwarded with its root "usage" member cut out, or
// dropped if it is the usage-only chunk ("choices":[] and a usage object). The result is valid
// until the next call; p is not kept. Call Flush at the end of the body.
func (s *Scanner) Filter(dst, p []byte) []byte {
	if !s.strip {
		s.Write(p)
		return p
	}
	if s.crEnd && len(p) > 0 {
		// The previous event ended with a '\r' that ended the last input; a '\n' now is
		// the rest of its terminator and shares its fate.
		s.crEnd = false
		if p[0] == '\n' {
			s.prevCR = false
			if !s.lastDropped {
				dst = append(dst, '\n')
			}
			p = p[1:]
		}
	}
	s.noEnd = false
	for len(p) > 0 {
		n, ended := s.scanSSE(p, len(s.hold))
		chunk := p[:n]
		p = p[n:]
		switch {
		case s.passing:
			dst = append(dst, chunk...)
		case len(s.hold)+n > MaxEventBytes:
			dst = append(dst, s.hold...)
			dst = append(dst, chunk...)
			s.hold = s.hold[:0]
			s.passing = true
		default:
			s.hold = append(s.hold, chunk...)
		}
		if ended {
			dst = s.dispatch(dst)
		}
	}
	return dst
}

// Flush appends what Filter still holds (an event the body ended without terminating) to dst.
func (s *Scanner) Flush(dst []byte) []byte {
	if !s.strip {
		return dst
	}
	return s.dispatch(dst)
}

// dispatch forwards (or drops) the held event.
func (s *Scanner) dispatch(dst []byte) []byte {
	ev := &s.ev
	drop := false
	switch {
	case s.passing:
		// already forwarded
	case ev.usageObj && ev.choicesEmpty:
		drop = true
	case ev.rmStart >= 0 && !ev.inUsage && ev.rmStart < ev.rmEnd && ev.rmEnd <= len(s.hold) &&
		indexEOL(s.hold[ev.rmStart:ev.rmEnd]) < 0:
		dst = append(dst, s.hold[:ev.rmStart]...)
		dst = append(dst, s.hold[ev.rmEnd:]...)
	default:
		dst = append(dst, s.hold...)
	}
	s.lastDropped = drop
	s.passing = false
	s.hold = s.hold[:0]
	ev.reset()
	return dst
}
