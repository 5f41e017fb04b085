package store

// exportPage is how many traces ExportTraces reads per read transaction.
// Each page is its own short transaction: a long export never holds one
// open, which would keep the trace writer from growing the file (bbolt
// remaps it under a lock that open read transactions hold).
const exportPage = 1000

// ExportTraces calls fn with every trace matching f, newest first, ignoring
// f.Limit: a page of traces at a time, each page read in its own
// transaction, so memory stays that of one page whatever the number of
// traces. An error of fn stops the export and is returned.
func (s *Store) ExportTraces(f TraceFilter, fn func([]Trace) error) error {
	f.Limit = exportPage
	for {
		page, next, err := s.Traces(f)
		if err != nil {
			return err
		}
		if len(page) > 0 {
			if err := fn(page); err != nil {
				return err
			}
		}
		if next == "" {
			return nil
		}
		f.Before = next
	}
}
