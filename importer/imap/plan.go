package imap

// planCount counts a message in a dry run's plan: present, or to send.
func planCount(b *box, size int64, present bool) {
	if b.plan == nil {
		return
	}
	if present {
		b.plan.Present++
		return
	}
	b.plan.Items++
	b.plan.Bytes += size
}
