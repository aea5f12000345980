package transport

import (
	"github.com/mailhaul/mailhaul/internal/retry"
)

// Backoff is the pause before each retry: First, doubling up to Max.
type Backoff = retry.Policy
