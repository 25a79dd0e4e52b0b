// Package gating implements the gated-gradient Op of SCIENCE.md §3:
// identity forward, gradient multiplied by g(p) backward.
package gating
