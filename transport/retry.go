package transport

import (
	"github.com/mailhaul/mailhaul/internal/backoff"
)

// Backoff is the pause before each retry: First, doubling up to Max.
type Backoff = backoff.Policy
