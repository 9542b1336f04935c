package albsim

// SetRevocationEntryQuota lowers the 500,000 revoked-entries quota so a test can reach it with
// small CRLs.
func (s *Sim) SetRevocationEntryQuota(n int) {
	s.mu.Lock()
	s.maxRevocationEntries = n
	s.mu.Unlock()
}
